//! Certificate backup bundles: every certificate of a secrets instance, with its chain and
//! private key, in one file sealed under a passphrase, to be imported into another instance.
//!
//! The bundle is made and opened here, on the operator's side: the server only serves the
//! ordinary Secrets Manager calls (list, read, create, new version), so the passphrase never
//! reaches it and the backup works against any instance the caller may read or write.
//!
//! Both `imported_cert` and `private_cert` secrets are exported. Imported into another instance
//! they become `imported_cert` secrets (the issuing CA stays behind): the certificate and the
//! private key are kept byte for byte, and the chain (`intermediate`; for a private certificate
//! its CA chain) with them.

use std::fmt;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::{Zeroize, Zeroizing};

use crate::ClientError;
use crate::sm::SmClient;

/// The passphrase box's context for bundles (see [`arca_crypto::passphrase`]).
pub const BUNDLE_CONTEXT: &[u8] = b"arca:certificate-bundle:v1";
/// The value of [`CertificateBundle::format`].
pub const BUNDLE_FORMAT: &str = "arca-certificate-bundle/v1";
/// The shortest passphrase a bundle is sealed with.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// One certificate of a bundle.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BundledCertificate {
    /// The secret's id in the source instance.
    pub source_id: String,
    /// `imported_cert` or `private_cert` (in the source instance).
    pub source_type: String,
    /// The secret's name.
    pub name: String,
    /// The name of its secret group (`default` for the default group).
    pub secret_group_name: String,
    /// Its description, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Its custom metadata, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_metadata: Option<Value>,
    /// The certificate (PEM), as stored.
    pub certificate: String,
    /// The chain (PEM): `intermediate` of an imported certificate, the CA chain of a private
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediate: Option<String>,
    /// The private key (PEM), as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

impl Drop for BundledCertificate {
    fn drop(&mut self) {
        if let Some(k) = self.private_key.as_mut() {
            k.zeroize();
        }
    }
}

impl fmt::Debug for BundledCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundledCertificate")
            .field("source_id", &self.source_id)
            .field("name", &self.name)
            .field("secret_group_name", &self.secret_group_name)
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// A certificate backup bundle (the plaintext inside the sealed file).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificateBundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The instance the certificates were exported from.
    pub source_instance: String,
    /// The certificates.
    pub certificates: Vec<BundledCertificate>,
}

/// Why a bundle could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Wrong passphrase, or the file was changed.
    #[error("the bundle cannot be opened: wrong passphrase, or the file was changed")]
    Authentication,
    /// Not a certificate bundle of a version this client reads.
    #[error("not a certificate bundle: {0}")]
    Malformed(String),
    /// The passphrase is too short to seal with.
    #[error("the passphrase must be at least {MIN_PASSPHRASE_CHARS} characters")]
    WeakPassphrase,
    /// The sealing itself failed.
    #[error("sealing the bundle failed: {0}")]
    Crypto(arca_crypto::CryptoError),
}

impl CertificateBundle {
    /// Seals the bundle under `passphrase` (Argon2id, AES-256-GCM). CPU-heavy by design
    /// (about a quarter of a second): call it off the async executor.
    ///
    /// # Errors
    /// [`BundleError::WeakPassphrase`] below [`MIN_PASSPHRASE_CHARS`] characters.
    pub fn seal(&self, passphrase: &str) -> Result<Vec<u8>, BundleError> {
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(BundleError::WeakPassphrase);
        }
        let json = Zeroizing::new(
            serde_json::to_vec(self).map_err(|e| BundleError::Malformed(e.to_string()))?,
        );
        arca_crypto::passphrase::seal(passphrase.as_bytes(), BUNDLE_CONTEXT, &json)
            .map_err(BundleError::Crypto)
    }

    /// Opens a sealed bundle. CPU-heavy like [`CertificateBundle::seal`].
    ///
    /// # Errors
    /// [`BundleError::Authentication`] for a wrong passphrase or a changed file,
    /// [`BundleError::Malformed`] for anything that is not a bundle.
    pub fn open(sealed: &[u8], passphrase: &str) -> Result<Self, BundleError> {
        let json = arca_crypto::passphrase::open(passphrase.as_bytes(), BUNDLE_CONTEXT, sealed)
            .map_err(|e| match e {
                arca_crypto::CryptoError::AuthenticationFailed => BundleError::Authentication,
                other => BundleError::Malformed(other.to_string()),
            })?;
        Self::from_json(&json)
    }

    /// Parses the bundle's plaintext (JSON) and checks its format.
    ///
    /// # Errors
    /// [`BundleError::Malformed`] unless it is a bundle of [`BUNDLE_FORMAT`].
    pub fn from_json(json: &[u8]) -> Result<Self, BundleError> {
        let bundle: Self = serde_json::from_slice(json)
            .map_err(|e| BundleError::Malformed(format!("{e} (line {})", e.line())))?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(BundleError::Malformed(format!(
                "format {:?}, expected {BUNDLE_FORMAT:?}",
                bundle.format
            )));
        }
        Ok(bundle)
    }
}

/// What an import did with each certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Names (`group/name`) of certificates created as new secrets.
    pub created: Vec<String>,
    /// Names of existing secrets that received the certificate as a new version.
    pub new_versions: Vec<String>,
    /// Names of existing secrets whose current certificate already was this one.
    pub unchanged: Vec<String>,
    /// Names and reasons of certificates the instance refused (e.g. expired).
    pub failed: Vec<(String, String)>,
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The chain of a secret as one PEM text: `intermediate` (imported), or the CA chain
/// (private: `ca_chain`, else `issuing_ca`).
fn chain_of(secret: &Value) -> Option<String> {
    if let Some(i) = text(secret, "intermediate") {
        return Some(i);
    }
    let chain: Vec<&str> = secret
        .get("ca_chain")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if chain.is_empty() {
        return text(secret, "issuing_ca");
    }
    let mut joined = String::new();
    for pem in chain {
        joined.push_str(pem.trim_end());
        joined.push('\n');
    }
    Some(joined)
}

impl SmClient {
    /// Reads every certificate (`imported_cert`, `private_cert`) of the instance with its data.
    /// `progress(done, total)` is called after each one. Certificates whose data was destroyed
    /// (expired or revoked and deleted data) are left out.
    ///
    /// # Errors
    /// The first failed call.
    pub async fn export_certificates(
        &self,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<CertificateBundle, ClientError> {
        let groups = self.list_groups().await?;
        let group_name = |id: &str| -> String {
            groups["secret_groups"]
                .as_array()
                .and_then(|a| a.iter().find(|g| g["id"] == id))
                .and_then(|g| g["name"].as_str())
                .unwrap_or("default")
                .to_owned()
        };
        let listed = self
            .all_secrets(&[("secret_types", "imported_cert,private_cert")])
            .await?;
        let total = listed.len();
        progress(0, total);
        let mut certificates = Vec::with_capacity(total);
        for (done, meta) in listed.iter().enumerate() {
            let id = meta["id"].as_str().unwrap_or_default();
            let secret = self.get_secret(id).await?;
            if let Some(certificate) = text(&secret, "certificate") {
                certificates.push(BundledCertificate {
                    source_id: id.to_owned(),
                    source_type: text(&secret, "secret_type").unwrap_or_default(),
                    name: text(&secret, "name").unwrap_or_default(),
                    secret_group_name: group_name(
                        secret["secret_group_id"].as_str().unwrap_or("default"),
                    ),
                    description: text(&secret, "description"),
                    labels: secret["labels"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                    custom_metadata: secret
                        .get("custom_metadata")
                        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                        .cloned(),
                    intermediate: chain_of(&secret),
                    private_key: text(&secret, "private_key"),
                    certificate,
                });
            }
            progress(done + 1, total);
        }
        Ok(CertificateBundle {
            format: BUNDLE_FORMAT.into(),
            source_instance: self.instance_id().to_owned(),
            certificates,
        })
    }

    /// Imports every certificate of `bundle` as an `imported_cert` secret of the same name in a
    /// group of the same name (created when missing). A secret of that name that already holds
    /// the certificate is left unchanged; one that holds another gets it as a new version, so
    /// importing a newer backup again rotates the copies. `progress(done, total)` is called
    /// after each certificate; a certificate the instance refuses is reported, not fatal.
    ///
    /// # Errors
    /// A failure that is not about one certificate (the instance cannot be reached, no access).
    pub async fn import_certificates(
        &self,
        bundle: &CertificateBundle,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ImportReport, ClientError> {
        let mut report = ImportReport::default();
        let total = bundle.certificates.len();
        progress(0, total);
        let mut group_ids = std::collections::HashMap::<String, String>::new();
        for (done, cert) in bundle.certificates.iter().enumerate() {
            let label = format!("{}/{}", cert.secret_group_name, cert.name);
            match self.import_one(cert, &mut group_ids).await {
                Ok(Imported::Created) => report.created.push(label),
                Ok(Imported::NewVersion) => report.new_versions.push(label),
                Ok(Imported::Unchanged) => report.unchanged.push(label),
                Err(e) if refused(&e) => report.failed.push((label, e.to_string())),
                Err(e) => return Err(e),
            }
            progress(done + 1, total);
        }
        Ok(report)
    }

    async fn group_id(
        &self,
        name: &str,
        known: &mut std::collections::HashMap<String, String>,
    ) -> Result<String, ClientError> {
        if name == "default" {
            return Ok("default".into());
        }
        if let Some(id) = known.get(name) {
            return Ok(id.clone());
        }
        let groups = self.list_groups().await?;
        let found = groups["secret_groups"]
            .as_array()
            .and_then(|a| a.iter().find(|g| g["name"] == name))
            .and_then(|g| g["id"].as_str())
            .map(str::to_owned);
        let id = match found {
            Some(id) => id,
            None => {
                let g = self.create_group(name, None).await?;
                text(&g, "id").ok_or_else(|| ClientError::Unexpected {
                    status: 201,
                    detail: "created secret group has no id".into(),
                })?
            }
        };
        known.insert(name.to_owned(), id.clone());
        Ok(id)
    }

    async fn import_one(
        &self,
        cert: &BundledCertificate,
        groups: &mut std::collections::HashMap<String, String>,
    ) -> Result<Imported, ClientError> {
        let group_id = self.group_id(&cert.secret_group_name, groups).await?;
        let mut data = json!({ "certificate": cert.certificate });
        if let Some(i) = &cert.intermediate {
            data["intermediate"] = Value::String(i.clone());
        }
        if let Some(k) = &cert.private_key {
            data["private_key"] = Value::String(k.clone());
        }
        let existing = match self
            .get_secret_by_name(&cert.secret_group_name, "imported_cert", &cert.name)
            .await
        {
            Ok(s) => Some(s),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND.as_u16()) => None,
            Err(e) => return Err(e),
        };
        let result = match existing {
            Some(s) => {
                let same = text(&s, "certificate").as_deref() == Some(cert.certificate.as_str())
                    && text(&s, "private_key") == cert.private_key
                    && text(&s, "intermediate") == cert.intermediate;
                if same {
                    Imported::Unchanged
                } else {
                    let id = text(&s, "id").unwrap_or_default();
                    self.create_version(&id, &data).await?;
                    Imported::NewVersion
                }
            }
            None => {
                let mut prototype = data;
                prototype["secret_type"] = json!("imported_cert");
                prototype["name"] = json!(cert.name);
                prototype["secret_group_id"] = json!(group_id);
                prototype["labels"] = json!(cert.labels);
                if let Some(d) = &cert.description {
                    prototype["description"] = json!(d);
                }
                if let Some(m) = &cert.custom_metadata {
                    prototype["custom_metadata"] = m.clone();
                }
                self.create_secret(&prototype).await?;
                Imported::Created
            }
        };
        Ok(result)
    }
}

enum Imported {
    Created,
    NewVersion,
    Unchanged,
}

/// A refusal about this certificate (bad or expired certificate, name taken by another type,
/// locked secret), as opposed to a failure of the whole import.
fn refused(e: &ClientError) -> bool {
    matches!(e.status(), Some(400 | 409 | 412 | 422))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(name: &str) -> BundledCertificate {
        BundledCertificate {
            source_id: "id".into(),
            source_type: "imported_cert".into(),
            name: name.into(),
            secret_group_name: "default".into(),
            description: None,
            labels: vec!["a".into()],
            custom_metadata: None,
            certificate: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into(),
            intermediate: None,
            private_key: Some(
                "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n".into(),
            ),
        }
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let shown = format!("{:?}", cert("web"));
        assert!(
            !shown.contains("PRIVATE KEY") && !shown.contains("\nsecret\n"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn json_round_trip_and_format_check() {
        let bundle = CertificateBundle {
            format: BUNDLE_FORMAT.into(),
            source_instance: "i".into(),
            certificates: vec![cert("web"), cert("api")],
        };
        let json = serde_json::to_vec(&bundle).unwrap();
        assert_eq!(CertificateBundle::from_json(&json).unwrap(), bundle);
        let other = serde_json::to_vec(&json!({
            "format": "something-else", "source_instance": "i", "certificates": []
        }))
        .unwrap();
        assert!(matches!(
            CertificateBundle::from_json(&other),
            Err(BundleError::Malformed(_))
        ));
        assert!(CertificateBundle::from_json(b"{").is_err());
    }

    #[test]
    fn weak_passphrases_are_refused() {
        let bundle = CertificateBundle {
            format: BUNDLE_FORMAT.into(),
            source_instance: "i".into(),
            certificates: vec![],
        };
        assert!(matches!(
            bundle.seal("short"),
            Err(BundleError::WeakPassphrase)
        ));
    }

    #[test]
    fn the_chain_of_a_private_certificate_is_its_ca_chain() {
        let s = json!({ "issuing_ca": "ICA\n", "ca_chain": ["ICA\n", "ROOT\n"] });
        assert_eq!(chain_of(&s).as_deref(), Some("ICA\nROOT\n"));
        let s = json!({ "intermediate": "X\n", "ca_chain": ["ICA\n"] });
        assert_eq!(chain_of(&s).as_deref(), Some("X\n"));
        assert_eq!(chain_of(&json!({})), None);
    }
}
