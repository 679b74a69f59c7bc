//! The KMIP management plane of the key service: adapters (each bound to an active root key)
//! and the client certificates that will authenticate KMIP clients. KMIP objects are created
//! only through the KMIP protocol itself, which Arca does not serve yet, so object listings
//! are empty.

use std::sync::Arc;

use arca_store::{KmipAdapterRecord, KmipCertificateRecord, Store, StoreError};
use time::OffsetDateTime;

use crate::access::{AccessService, Permission};
use crate::auth::Principal;
use crate::clock::{Clock, from_millis, to_millis};
use crate::instances::InstanceService;
use crate::keys::{KeyService, KeyState};
use crate::{ServiceError, ServiceResult, ids, kms_access};

/// The one profile Key Protect defines.
pub const PROFILE_NATIVE: &str = "native_1.0";
/// Most certificates per adapter.
pub const MAX_CERTIFICATES: i64 = 200;

/// A KMIP adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmipAdapter {
    /// Adapter id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Profile.
    pub profile: String,
    /// The root key the adapter uses.
    pub crk_id: String,
    /// When created.
    pub created_at: OffsetDateTime,
    /// Creator.
    pub created_by: String,
    /// When last updated.
    pub updated_at: OffsetDateTime,
    /// Last updater.
    pub updated_by: String,
}

/// A KMIP client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmipCertificate {
    /// Certificate id.
    pub id: String,
    /// Name.
    pub name: String,
    /// PEM.
    pub certificate: String,
    /// When added.
    pub created_at: OffsetDateTime,
    /// Who added it.
    pub created_by: String,
}

/// What a new adapter is made of.
#[derive(Debug, Clone)]
pub struct NewAdapter {
    /// Name (generated when `None`).
    pub name: Option<String>,
    /// Description (up to 240 characters).
    pub description: Option<String>,
    /// Profile (`native_1.0`).
    pub profile: String,
    /// The root key (id or alias).
    pub crk_id: Option<String>,
    /// Whether a root key with an expiration date is acceptable.
    pub allow_expiring_key: bool,
}

fn adapter_view(r: KmipAdapterRecord) -> KmipAdapter {
    KmipAdapter {
        id: r.id,
        name: r.name,
        description: r.description,
        profile: r.profile,
        crk_id: r.crk_id,
        created_at: from_millis(r.created_at),
        created_by: r.created_by,
        updated_at: from_millis(r.updated_at),
        updated_by: r.updated_by,
    }
}

fn cert_view(r: KmipCertificateRecord) -> KmipCertificate {
    KmipCertificate {
        id: r.id,
        name: r.name,
        certificate: r.certificate,
        created_at: from_millis(r.created_at),
        created_by: r.created_by,
    }
}

fn valid_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !ids::is_uuid(name)
}

fn random_suffix() -> ServiceResult<String> {
    Ok(ids::uuid()?.replace('-', "")[..12].to_owned())
}

/// Checks that `pem` holds exactly one well-formed X.509 certificate.
fn validate_certificate(pem: &str) -> ServiceResult<()> {
    let invalid = |why: &str| ServiceError::InvalidInput(format!("certificate: {why}"));
    let ders: Vec<_> = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("not valid PEM"))?;
    let [der] = ders.as_slice() else {
        return Err(invalid("exactly one PEM CERTIFICATE block is required"));
    };
    let (rest, _) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|_| invalid("not a valid X.509 certificate"))?;
    if !rest.is_empty() {
        return Err(invalid("trailing data after the certificate"));
    }
    Ok(())
}

/// KMIP adapters and certificates.
#[derive(Debug, Clone)]
pub struct KmipService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    access: AccessService,
    keys: KeyService,
}

impl KmipService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        instances: InstanceService,
        access: AccessService,
        keys: KeyService,
    ) -> Self {
        Self {
            store,
            clock,
            instances,
            access,
            keys,
        }
    }

    /// Creates an adapter bound to an active root key of the instance.
    pub async fn create_adapter(
        &self,
        principal: &Principal,
        instance_id: &str,
        new: NewAdapter,
    ) -> ServiceResult<KmipAdapter> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Permission::Manage,
        )
        .await?;
        if new.profile != PROFILE_NATIVE {
            return Err(ServiceError::InvalidInput(format!(
                "profile must be {PROFILE_NATIVE}"
            )));
        }
        if new
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 240)
        {
            return Err(ServiceError::InvalidInput(
                "description must be at most 240 characters".into(),
            ));
        }
        let name = match new.name {
            Some(n) if valid_name(&n) => n,
            Some(_) => {
                return Err(ServiceError::InvalidInput(
                    "name: 1 to 100 characters of A-Z a-z 0-9 - _, not a UUID".into(),
                ));
            }
            None => format!("kmip_adapter_{}", random_suffix()?),
        };
        let crk = new.crk_id.ok_or_else(|| {
            ServiceError::InvalidInput("profile_data.crk_id is required for native_1.0".into())
        })?;
        let key = self.keys.get(principal, instance_id, &crk, false).await?;
        if key.record.extractable {
            return Err(ServiceError::InvalidInput(
                "crk_id must name a root key".into(),
            ));
        }
        if key.state != KeyState::Active {
            return Err(ServiceError::InvalidState(
                "the root key is not active".into(),
            ));
        }
        if key.record.expiration_date.is_some() && !new.allow_expiring_key {
            return Err(ServiceError::InvalidInput(
                "the root key has an expiration date (allowExpiringKey=true accepts it)".into(),
            ));
        }
        let now = to_millis(self.clock.now());
        let record = KmipAdapterRecord {
            id: ids::uuid()?,
            instance_id: instance_id.to_owned(),
            name,
            description: new.description,
            profile: new.profile,
            crk_id: key.record.id.clone(),
            created_at: now,
            created_by: principal.id.clone(),
            updated_at: now,
            updated_by: principal.id.clone(),
        };
        match self.store.create_kmip_adapter(&record).await {
            Ok(()) => Ok(adapter_view(record)),
            Err(StoreError::Conflict(why)) => Err(ServiceError::Conflict(why)),
            Err(e) => Err(e.into()),
        }
    }

    /// The adapters of an instance, optionally only those bound to one root key.
    pub async fn list_adapters(
        &self,
        principal: &Principal,
        instance_id: &str,
        crk_id: Option<&str>,
    ) -> ServiceResult<Vec<KmipAdapter>> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Permission::Read,
        )
        .await?;
        Ok(self
            .store
            .list_kmip_adapters(instance_id)
            .await?
            .into_iter()
            .filter(|a| crk_id.is_none_or(|k| k == a.crk_id))
            .map(adapter_view)
            .collect())
    }

    /// An adapter by id or name.
    pub async fn adapter(
        &self,
        principal: &Principal,
        instance_id: &str,
        id_or_name: &str,
    ) -> ServiceResult<KmipAdapter> {
        self.list_adapters(principal, instance_id, None)
            .await?
            .into_iter()
            .find(|a| a.id == id_or_name || a.name == id_or_name)
            .ok_or(ServiceError::NotFound("KMIP adapter"))
    }

    /// Deletes an adapter and its certificates.
    pub async fn delete_adapter(
        &self,
        principal: &Principal,
        instance_id: &str,
        id_or_name: &str,
    ) -> ServiceResult<()> {
        let adapter = self.adapter(principal, instance_id, id_or_name).await?;
        if !self
            .store
            .delete_kmip_adapter(instance_id, &adapter.id)
            .await?
        {
            return Err(ServiceError::NotFound("KMIP adapter"));
        }
        tracing::info!(instance_id, adapter_id = %adapter.id, "KMIP adapter deleted");
        Ok(())
    }

    /// Adds a client certificate (PEM, validated) to an adapter.
    pub async fn add_certificate(
        &self,
        principal: &Principal,
        instance_id: &str,
        adapter: &str,
        name: Option<String>,
        certificate: &str,
    ) -> ServiceResult<KmipCertificate> {
        let adapter = self.adapter(principal, instance_id, adapter).await?;
        validate_certificate(certificate)?;
        let name = match name {
            Some(n) if valid_name(&n) => n,
            Some(_) => {
                return Err(ServiceError::InvalidInput(
                    "name: 1 to 100 characters of A-Z a-z 0-9 - _, not a UUID".into(),
                ));
            }
            None => format!("kmip_cert_{}", random_suffix()?),
        };
        let record = KmipCertificateRecord {
            id: ids::uuid()?,
            adapter_id: adapter.id,
            name,
            certificate: certificate.to_owned(),
            created_at: to_millis(self.clock.now()),
            created_by: principal.id.clone(),
        };
        match self
            .store
            .create_kmip_certificate(&record, MAX_CERTIFICATES)
            .await
        {
            Ok(()) => Ok(cert_view(record)),
            Err(StoreError::Conflict(why)) => Err(ServiceError::Conflict(why)),
            Err(e) => Err(e.into()),
        }
    }

    /// The certificates of an adapter.
    pub async fn certificates(
        &self,
        principal: &Principal,
        instance_id: &str,
        adapter: &str,
    ) -> ServiceResult<Vec<KmipCertificate>> {
        let adapter = self.adapter(principal, instance_id, adapter).await?;
        Ok(self
            .store
            .list_kmip_certificates(&adapter.id)
            .await?
            .into_iter()
            .map(cert_view)
            .collect())
    }

    /// A certificate by id or name.
    pub async fn certificate(
        &self,
        principal: &Principal,
        instance_id: &str,
        adapter: &str,
        id_or_name: &str,
    ) -> ServiceResult<KmipCertificate> {
        self.certificates(principal, instance_id, adapter)
            .await?
            .into_iter()
            .find(|c| c.id == id_or_name || c.name == id_or_name)
            .ok_or(ServiceError::NotFound("KMIP client certificate"))
    }

    /// Deletes a certificate.
    pub async fn delete_certificate(
        &self,
        principal: &Principal,
        instance_id: &str,
        adapter: &str,
        id_or_name: &str,
    ) -> ServiceResult<()> {
        let adapter_record = self.adapter(principal, instance_id, adapter).await?;
        let cert = self
            .certificate(principal, instance_id, &adapter_record.id, id_or_name)
            .await?;
        if !self
            .store
            .delete_kmip_certificate(&adapter_record.id, &cert.id)
            .await?
        {
            return Err(ServiceError::NotFound("KMIP client certificate"));
        }
        Ok(())
    }

    /// The KMIP objects of an adapter. Objects are created only through the KMIP protocol,
    /// which Arca does not serve yet, so there are none; the adapter must exist.
    pub async fn objects(
        &self,
        principal: &Principal,
        instance_id: &str,
        adapter: &str,
    ) -> ServiceResult<Vec<()>> {
        self.adapter(principal, instance_id, adapter).await?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_must_be_one_valid_pem_certificate() {
        assert!(validate_certificate("not pem").is_err());
        assert!(
            validate_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
        assert!(validate_certificate("").is_err());
    }

    #[test]
    fn names_exclude_uuids_and_odd_characters() {
        assert!(valid_name("test-kmip"));
        assert!(valid_name("Test_certificate"));
        assert!(!valid_name(""));
        assert!(!valid_name("has space"));
        assert!(!valid_name("5d649fa5-42f2-4697-acea-d99bdb13c9ab"));
    }
}
