//! Certificate secrets: imported certificates (parsed and checked) and private certificates
//! issued by the instance's private CA, with their revocation.
//!
//! A private certificate keeps, in its secret's metadata, what it was requested with
//! ([`CertRequest`]: template, names, TTL, formats, a CSR if one was given; never a key), so that
//! a new version (manual or automatic rotation) is issued again under the same template.

use std::time::Duration;

use arca_pki::{CertificateInfo, LeafRequest, PrivateKeyFormat};
use arca_store::secrets::SecretChange;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::SecretsService;
use super::ca::{blocking, check_can_sign, pki_error, template_of};
use super::configs::TEMPLATE;
use super::model::{
    CertificateMeta, SecretMeta, SecretType, Validity, VersionMeta, from_doc, invalid, to_doc,
};
use super::secret_ops::{DataFields, PreparedData};
use crate::clock::{rfc3339, to_millis};
use crate::{ServiceError, ServiceResult};

/// The metadata Secrets Manager shows for a certificate.
fn certificate_meta(info: &CertificateInfo) -> CertificateMeta {
    CertificateMeta {
        common_name: info.common_name.clone(),
        alt_names: info.alt_names.clone(),
        issuer: Some(info.issuer_display.clone()),
        serial_number: Some(info.serial_number.clone()),
        validity: Some(Validity {
            not_before: rfc3339(to_millis(info.not_before)),
            not_after: rfc3339(to_millis(info.not_after)),
        }),
        key_algorithm: Some(info.key_algorithm.clone()),
        signing_algorithm: Some(info.signing_algorithm.clone()),
        ..CertificateMeta::default()
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn split_csv(s: Option<String>) -> Vec<String> {
    s.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// Concatenates PEM blocks, each ending with a newline.
fn pem_join<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for p in parts {
        out.push_str(p);
        if !p.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// What a private certificate was requested with, kept to issue its next versions. No key
/// material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CertRequest {
    certificate_template: String,
    common_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    alt_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ip_sans: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    uri_sans: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl_seconds: Option<u64>,
    format: String,
    private_key_format: String,
    #[serde(default)]
    exclude_cn_from_sans: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    csr: Option<String>,
}

impl CertRequest {
    /// Reads a `private_cert` prototype.
    fn from_fields(f: DataFields) -> ServiceResult<Self> {
        let certificate_template = non_empty(f.certificate_template)
            .ok_or_else(|| invalid("certificate_template is required for private_cert secrets"))?;
        let common_name = non_empty(f.common_name)
            .ok_or_else(|| invalid("common_name is required for private_cert secrets"))?;
        if f.other_sans.as_ref().is_some_and(|o| !o.is_empty()) {
            return Err(invalid("other_sans is not supported by this server"));
        }
        let format = f.format.unwrap_or_else(|| "pem".into());
        if format != "pem" && format != "pem_bundle" {
            return Err(invalid("format must be pem or pem_bundle"));
        }
        let private_key_format = f.private_key_format.unwrap_or_else(|| "der".into());
        PrivateKeyFormat::parse(&private_key_format).map_err(pki_error)?;
        let ttl_seconds = match f.ttl.as_deref() {
            Some(t) => Some(
                arca_pki::parse_ttl(t)
                    .map_err(|_| {
                        invalid(
                            "ttl must be a duration: digits followed by s, m, h or d (e.g. 10h)",
                        )
                    })?
                    .as_secs(),
            ),
            None => None,
        };
        Ok(Self {
            certificate_template,
            common_name,
            alt_names: f
                .alt_names
                .unwrap_or_default()
                .into_iter()
                .filter(|n| !n.trim().is_empty())
                .collect(),
            ip_sans: split_csv(f.ip_sans),
            uri_sans: split_csv(f.uri_sans),
            ttl_seconds,
            format,
            private_key_format,
            exclude_cn_from_sans: f.exclude_cn_from_sans.unwrap_or(false),
            csr: non_empty(f.csr),
        })
    }
}

impl SecretsService {
    /// Checks an imported certificate bundle (the key must match the certificate; an expired
    /// certificate is refused) and reads its metadata.
    pub(crate) fn prepare_imported_cert(&self, fields: DataFields) -> ServiceResult<PreparedData> {
        if fields.managed_csr.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(invalid(
                "managed_csr is not supported by this server: import a certificate (with its \
                 intermediate and private key) instead",
            ));
        }
        let certificate = non_empty(fields.certificate)
            .ok_or_else(|| invalid("certificate is required for imported_cert secrets"))?;
        let intermediate = non_empty(fields.intermediate);
        let private_key = non_empty(fields.private_key);
        let info = arca_pki::inspect(
            &certificate,
            intermediate.as_deref(),
            private_key.as_deref(),
        )
        .map_err(pki_error)?;
        if info.not_after <= self.now() {
            return Err(ServiceError::InvalidInput(format!(
                "certificate: the certificate expired on {}",
                rfc3339(to_millis(info.not_after))
            )));
        }
        let mut meta = certificate_meta(&info);
        meta.intermediate_included = Some(info.intermediate_included);
        meta.private_key_included = Some(info.private_key_included);
        let mut data = Map::new();
        data.insert("certificate".into(), Value::String(certificate));
        if let Some(i) = intermediate {
            data.insert("intermediate".into(), Value::String(i));
        }
        if let Some(k) = private_key {
            data.insert("private_key".into(), Value::String(k));
        }
        Ok(PreparedData {
            data,
            certificate: Some(meta),
            expiration: Some(to_millis(info.not_after)),
            request: None,
        })
    }

    /// Issues a private certificate: from the prototype for a new secret, or again from the
    /// stored request for a new version (which may bring a new CSR, nothing else).
    pub(crate) async fn prepare_private_cert(
        &self,
        instance_id: &str,
        fields: DataFields,
        meta: &SecretMeta,
    ) -> ServiceResult<PreparedData> {
        let request = match &meta.certificate_request {
            Some(stored) => {
                let mut r: CertRequest = serde_json::from_value(stored.clone())
                    .map_err(|e| ServiceError::Internal(Box::new(e)))?;
                let changes_request = fields.certificate_template.is_some()
                    || fields.common_name.is_some()
                    || fields.alt_names.is_some()
                    || fields.ip_sans.is_some()
                    || fields.uri_sans.is_some()
                    || fields.other_sans.is_some()
                    || fields.format.is_some()
                    || fields.private_key_format.is_some()
                    || fields.exclude_cn_from_sans.is_some()
                    || fields.ttl.is_some();
                if changes_request {
                    return Err(invalid(
                        "a new version of a private certificate takes only a csr: it is issued \
                         again with the secret's template, names and ttl",
                    ));
                }
                if let Some(csr) = non_empty(fields.csr) {
                    r.csr = Some(csr);
                }
                r
            }
            None => CertRequest::from_fields(fields)?,
        };
        self.issue_private_cert(instance_id, request).await
    }

    /// Issues a certificate for `r` from its template's CA.
    async fn issue_private_cert(
        &self,
        instance_id: &str,
        r: CertRequest,
    ) -> ServiceResult<PreparedData> {
        let template_record = self
            .store
            .get_secrets_config(instance_id, &r.certificate_template)
            .await?
            .filter(|c| c.config_type == TEMPLATE)
            .ok_or_else(|| {
                ServiceError::InvalidInput(format!(
                    "certificate_template {} is not a certificate template of this instance",
                    r.certificate_template
                ))
            })?;
        let template_fields: Map<String, Value> = from_doc(&template_record.metadata)?;
        let ca_name = template_fields
            .get("certificate_authority")
            .and_then(Value::as_str)
            .ok_or(ServiceError::Internal(
                "a certificate template without a certificate authority".into(),
            ))?
            .to_owned();
        let ca_record = self
            .store
            .get_secrets_config(instance_id, &ca_name)
            .await?
            .ok_or_else(|| {
                ServiceError::InvalidState(format!(
                    "the template's certificate authority {ca_name} no longer exists"
                ))
            })?;
        let ca_fields: Map<String, Value> = from_doc(&ca_record.metadata)?;
        let now = self.now();
        check_can_sign(&ca_name, &ca_fields, now)?;
        let signer = self.open_ca(&ca_record).await?.signer()?;
        let template = template_of(
            &template_fields,
            ca_fields.get("max_ttl_seconds").and_then(Value::as_u64),
        )?;
        let leaf = LeafRequest {
            common_name: r.common_name.clone(),
            alt_names: r.alt_names.clone(),
            ip_sans: r.ip_sans.clone(),
            uri_sans: r.uri_sans.clone(),
            ttl: r.ttl_seconds.map(Duration::from_secs),
            key_type: None,
            key_bits: None,
            csr: r.csr.clone(),
            exclude_cn_from_sans: r.exclude_cn_from_sans,
            private_key_format: PrivateKeyFormat::parse(&r.private_key_format)
                .map_err(pki_error)?,
        };
        let issued = blocking(move || arca_pki::issue(&signer, &template, &leaf, now)).await?;

        let mut data = Map::new();
        let certificate = if r.format == "pem_bundle" {
            let key = issued.private_key_pem.as_ref().map(|k| k.as_str());
            pem_join(key.into_iter().chain([
                issued.certificate_pem.as_str(),
                issued.issuing_ca_pem.as_str(),
            ]))
        } else {
            issued.certificate_pem.clone()
        };
        data.insert("certificate".into(), Value::String(certificate));
        if let Some(key) = &issued.private_key_pem {
            data.insert("private_key".into(), Value::String(key.as_str().to_owned()));
        }
        data.insert(
            "issuing_ca".into(),
            Value::String(issued.issuing_ca_pem.clone()),
        );
        data.insert("ca_chain".into(), issued.ca_chain.clone().into());
        let mut meta = certificate_meta(&issued.info);
        meta.certificate_template = Some(r.certificate_template.clone());
        meta.certificate_authority = Some(ca_name);
        let request = serde_json::to_value(&r).map_err(|e| ServiceError::Internal(Box::new(e)))?;
        Ok(PreparedData {
            data,
            certificate: Some(meta),
            expiration: Some(to_millis(issued.not_after)),
            request: Some(request),
        })
    }

    /// Refuses a private certificate in a group that its template's `allowed_secret_groups`
    /// leaves out (checked when the secret is created).
    pub(crate) async fn check_template_group(
        &self,
        instance_id: &str,
        fields: &DataFields,
        group_id: &str,
    ) -> ServiceResult<()> {
        let Some(name) = fields.certificate_template.as_deref() else {
            return Ok(());
        };
        let Some(record) = self
            .store
            .get_secrets_config(instance_id, name)
            .await?
            .filter(|c| c.config_type == TEMPLATE)
        else {
            return Ok(());
        };
        let template_fields: Map<String, Value> = from_doc(&record.metadata)?;
        let allowed = split_csv(
            template_fields
                .get("allowed_secret_groups")
                .and_then(Value::as_str)
                .map(str::to_owned),
        );
        if allowed.is_empty() || allowed.iter().any(|g| g == group_id) {
            Ok(())
        } else {
            Err(ServiceError::InvalidInput(format!(
                "certificate template {name} does not allow secrets in group {group_id}"
            )))
        }
    }
}

impl SecretsService {
    /// A secret action (secret-level, or on a version): `private_cert_action_revoke_certificate`.
    /// Returns the revocation time (Unix seconds).
    pub async fn secret_action(
        &self,
        principal: &crate::Principal,
        instance_id: &str,
        secret_id: &str,
        version_id: Option<&str>,
        action_type: &str,
    ) -> ServiceResult<i64> {
        self.authorize(principal, instance_id, crate::access::Permission::Manage)
            .await?;
        let (record, versions) = self.with_versions(instance_id, secret_id).await?;
        let at = self.version_position(&versions, version_id.unwrap_or("current"))?;
        match action_type {
            "private_cert_action_revoke_certificate" => {
                if record.secret_type != SecretType::PrivateCert.as_str() {
                    return Err(ServiceError::InvalidInput(format!(
                        "{action_type} applies to private_cert secrets, not to {} secrets",
                        record.secret_type
                    )));
                }
                self.revoke_private_cert(instance_id, secret_id, &versions[at].id)
                    .await
            }
            "public_cert_action_validate_dns_challenge" => Err(ServiceError::InvalidInput(
                "public_cert secrets are not supported by this server".into(),
            )),
            _ => Err(ServiceError::InvalidInput(format!(
                "unknown action_type {action_type}"
            ))),
        }
    }

    /// Tasks belong to custom credentials, which need IBM Code Engine and are not stored here:
    /// the named secret is looked up (404 if absent) and the request refused.
    pub async fn tasks(
        &self,
        principal: &crate::Principal,
        instance_id: &str,
        secret_id: &str,
    ) -> ServiceResult<()> {
        self.authorize(principal, instance_id, crate::access::Permission::Read)
            .await?;
        let record = self.record(instance_id, secret_id).await?;
        Err(ServiceError::InvalidInput(format!(
            "tasks apply to custom_credentials secrets only, not to {} secrets",
            record.secret_type
        )))
    }

    /// Revokes the certificate of one version: its serial goes into the issuing CA's CRL (a new
    /// CRL is signed), and the version (and the secret, for the current version) shows the
    /// revocation time. Revoking twice is a conflict.
    async fn revoke_private_cert(
        &self,
        instance_id: &str,
        secret_id: &str,
        version_id: &str,
    ) -> ServiceResult<i64> {
        let (_, versions) = self.with_versions(instance_id, secret_id).await?;
        let version = versions
            .iter()
            .find(|v| v.id == version_id)
            .ok_or(ServiceError::NotFound("secret version"))?;
        let vmeta: VersionMeta = from_doc(&version.metadata)?;
        let cert = vmeta.certificate.ok_or(ServiceError::Internal(
            "a private certificate version without certificate metadata".into(),
        ))?;
        if cert.revocation_time_seconds.is_some() {
            return Err(ServiceError::Conflict("the certificate is already revoked"));
        }
        let (Some(serial), Some(ca_name)) = (cert.serial_number, cert.certificate_authority) else {
            return Err(ServiceError::Internal(
                "a private certificate without serial number or issuing CA".into(),
            ));
        };
        let now = self.now();
        let (_, _, at) = self
            .modify_ca(instance_id, &ca_name, |_, fields, state| {
                state.revoke(fields, &serial, now)
            })
            .await
            .map_err(|e| match e {
                ServiceError::NotFound(_) => ServiceError::InvalidState(format!(
                    "the issuing certificate authority {ca_name} no longer exists"
                )),
                other => other,
            })?;
        self.retrying(|| async move {
            let (mut record, versions) = self.with_versions(instance_id, secret_id).await?;
            let pos = versions
                .iter()
                .position(|v| v.id == version_id)
                .ok_or(ServiceError::NotFound("secret version"))?;
            let mut version = versions[pos].clone();
            let mut vmeta: VersionMeta = from_doc(&version.metadata)?;
            if let Some(c) = vmeta.certificate.as_mut() {
                c.revocation_time_seconds.get_or_insert(at);
            }
            version.metadata = to_doc(&vmeta)?;
            if pos == 0 {
                let mut meta: SecretMeta = from_doc(&record.metadata)?;
                if let Some(c) = meta.certificate.as_mut() {
                    c.revocation_time_seconds.get_or_insert(at);
                }
                record.metadata = to_doc(&meta)?;
            }
            record.updated_at = to_millis(self.now());
            record.revision += 1;
            let change = SecretChange {
                versions: std::slice::from_ref(&version),
                ..Default::default()
            };
            self.store.update_secret(&record, change).await?;
            Ok(())
        })
        .await?;
        tracing::info!(
            instance_id,
            secret_id,
            version_id,
            "private certificate revoked"
        );
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn fields(v: Value) -> DataFields {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn requests_read_the_prototype() {
        let r = CertRequest::from_fields(fields(serde_json::json!({
            "certificate_template": "template-1", "common_name": "localhost", "ttl": "10h",
            "ip_sans": "127.0.0.1, ::1", "alt_names": ["a.localhost", ""],
        })))
        .unwrap();
        assert_eq!(r.ttl_seconds, Some(36_000));
        assert_eq!(r.ip_sans, vec!["127.0.0.1".to_owned(), "::1".to_owned()]);
        assert_eq!(r.alt_names, vec!["a.localhost".to_owned()]);
        assert_eq!(r.format, "pem");
        assert_eq!(r.private_key_format, "der");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(serde_json::from_value::<CertRequest>(json).unwrap(), r);
        for bad in [
            serde_json::json!({"common_name": "x"}),
            serde_json::json!({"certificate_template": "t"}),
            serde_json::json!({"certificate_template": "t", "common_name": "x", "ttl": "1y"}),
            serde_json::json!({"certificate_template": "t", "common_name": "x", "format": "der"}),
            serde_json::json!({"certificate_template": "t", "common_name": "x",
                               "other_sans": ["1.2.3;UTF8:x"]}),
        ] {
            assert!(CertRequest::from_fields(fields(bad)).is_err());
        }
    }

    #[test]
    fn pem_blocks_join_with_newlines() {
        assert_eq!(pem_join(["a", "b\n", "c"]), "a\nb\nc\n");
    }
}
