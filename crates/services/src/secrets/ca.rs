//! The private CA: root and intermediate CA configurations, certificate templates, their
//! actions (sign an intermediate or a CSR, set an externally signed certificate, revoke, rotate
//! the CRL or the intermediate) and the certificate revocation lists.
//!
//! Storage: a configuration's displayable fields, already in their wire form
//! (`max_ttl_seconds`, `status`, `expiration_date`, ...), are the record's metadata. A CA's
//! private key, certificate, chain, pending CSR and CRL state (revoked serial numbers with their
//! times, the CRL number and the last CRL) are sealed ([`CaState`]) like secret data. Templates
//! have metadata only. No response ever carries a CA's private key.
//!
//! Deliberate limits: HPCS-held keys (`crypto_key`), `other_sans`, `allowed_other_sans`,
//! `policy_identifiers` and `allowed_domains_template` are refused with a 400; the
//! `crl_distribution_points_encoded` / `issuing_certificates_urls_encoded` flags are stored and
//! shown but no URL is written into certificates (the server publishes no CRL endpoint yet: the
//! CRL is the `crl` field of a CA's `data`). A CA configuration's own `format` is stored and
//! shown; `pem_bundle` applies to what `sign_csr` returns and to private certificates. CRLs are
//! re-signed on every revocation, on `rotate_crl` and when the CRL fields are patched; nothing
//! re-signs them when `crl_expiry` runs out on its own.

use std::time::Duration;

use arca_pki::{CaParams, CaSigner, KeyType, PkiError, PrivateKeyFormat, SignOverrides, Template};
use arca_store::secrets::SecretsConfigRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::SecretsService;
use super::configs::{ConfigView, INTERMEDIATE_CA, ROOT_CA, TEMPLATE};
use super::model::{SecretMeta, SecretType, from_doc, to_doc};
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::{rfc3339, to_millis};
use crate::{ServiceError, ServiceResult};

/// Most configurations of each private CA type per instance (IBM's limit).
const MAX_PER_TYPE: usize = 10;

/// CRL lifetime when `crl_expiry` is not given (Vault's default, 72 hours).
const DEFAULT_CRL_EXPIRY: u64 = 72 * 3600;

/// CA statuses.
const CONFIGURED: &str = "configured";
const SIGNING_REQUIRED: &str = "signing_required";
const SIGNED_CERTIFICATE_REQUIRED: &str = "signed_certificate_required";
const EXPIRED: &str = "expired";
const REVOKED: &str = "revoked";

/// Action types.
const SIGN_INTERMEDIATE: &str = "private_cert_configuration_action_sign_intermediate";
const SIGN_CSR: &str = "private_cert_configuration_action_sign_csr";
const SET_SIGNED: &str = "private_cert_configuration_action_set_signed";
const REVOKE_CA: &str = "private_cert_configuration_action_revoke_ca_certificate";
const ROTATE_CRL: &str = "private_cert_configuration_action_rotate_crl";
const ROTATE_INTERMEDIATE: &str = "private_cert_configuration_action_rotate_intermediate";

/// Fields a patch may change on root and intermediate CA configurations.
const CA_PATCHABLE: &[&str] = &[
    "max_ttl",
    "crl_expiry",
    "crl_disable",
    "crl_distribution_points_encoded",
    "issuing_certificates_urls_encoded",
];

/// Maps a private CA failure to a service error: the caller's input or policy is a 400 (the
/// messages name fields, never key material); randomness and signing failures are internal.
pub(crate) fn pki_error(e: PkiError) -> ServiceError {
    match e {
        PkiError::Random | PkiError::Signing(_) => ServiceError::Internal(Box::new(e)),
        other => ServiceError::InvalidInput(other.to_string()),
    }
}

/// A failure to use the private CA's own stored material: a bug or corruption, never the
/// caller's fault.
fn stored_error(e: PkiError) -> ServiceError {
    ServiceError::Internal(Box::new(e))
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(e))
}

/// Runs CPU-heavy work (key generation, signing) off the async workers.
pub(crate) async fn blocking<T, F>(f: F) -> ServiceResult<T>
where
    F: FnOnce() -> Result<T, PkiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(internal)?
        .map_err(pki_error)
}

// ---------------------------------------------------------------------------------------------
// Sealed state
// ---------------------------------------------------------------------------------------------

/// A PEM private key kept in a zeroizing buffer (serialized as a plain string only into the
/// buffer that is sealed).
pub(crate) struct KeyPem(Zeroizing<String>);

impl Serialize for KeyPem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyPem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self(Zeroizing::new(s)))
    }
}

/// One revoked certificate in a CA's CRL state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RevokedCert {
    /// Serial number (`38:eb:01` form).
    pub serial_number: String,
    /// Revocation time, Unix seconds.
    pub revoked_at: i64,
}

/// The sealed part of a root or intermediate CA configuration.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct CaState {
    /// The CA's private key (PKCS#8 PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private_key: Option<KeyPem>,
    /// The CA's certificate, once signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<String>,
    /// The certificates above it, its issuer first, up to the root (empty for a root).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    parents: Vec<String>,
    /// An intermediate's certificate signing request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    csr: Option<String>,
    /// Certificates this CA revoked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<RevokedCert>,
    /// Number of the last CRL.
    #[serde(default)]
    crl_number: u64,
    /// The last CRL (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crl: Option<String>,
}

impl std::fmt::Debug for CaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaState")
            .field("signed", &self.certificate.is_some())
            .field("revoked", &self.revoked.len())
            .field("crl_number", &self.crl_number)
            .field("private_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl CaState {
    fn is_empty(&self) -> bool {
        self.private_key.is_none()
            && self.certificate.is_none()
            && self.csr.is_none()
            && self.revoked.is_empty()
            && self.crl.is_none()
    }

    /// A signer for this CA; refused while it has no certificate.
    pub(crate) fn signer(&self) -> ServiceResult<CaSigner> {
        let (Some(cert), Some(key)) = (&self.certificate, &self.private_key) else {
            return Err(ServiceError::InvalidState(
                "the certificate authority has no signed certificate yet".into(),
            ));
        };
        CaSigner::from_pem(cert, &key.0)
            .and_then(|s| s.with_chain(&self.parents))
            .map_err(stored_error)
    }

    /// Records a revocation (idempotent: an already listed serial keeps its time, which is
    /// returned) and publishes a new CRL.
    pub(crate) fn revoke(
        &mut self,
        fields: &Map<String, Value>,
        serial_number: &str,
        now: OffsetDateTime,
    ) -> ServiceResult<i64> {
        if let Some(r) = self
            .revoked
            .iter()
            .find(|r| r.serial_number == serial_number)
        {
            return Ok(r.revoked_at);
        }
        let at = now.unix_timestamp();
        self.revoked.push(RevokedCert {
            serial_number: serial_number.to_owned(),
            revoked_at: at,
        });
        self.rebuild_crl(fields, now)?;
        Ok(at)
    }

    /// Signs a new CRL (number + 1) listing the revoked certificates (none when
    /// `crl_disable`), valid for `crl_expiry`.
    fn rebuild_crl(
        &mut self,
        fields: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> ServiceResult<()> {
        let signer = self.signer()?;
        let expiry = seconds(fields, "crl_expiry_seconds").unwrap_or(DEFAULT_CRL_EXPIRY);
        let listed: Vec<(&str, OffsetDateTime)> = if flag(fields, "crl_disable", false) {
            Vec::new()
        } else {
            self.revoked
                .iter()
                .map(|r| {
                    (
                        r.serial_number.as_str(),
                        OffsetDateTime::from_unix_timestamp(r.revoked_at).unwrap_or(now),
                    )
                })
                .collect()
        };
        let number = self.crl_number + 1;
        let crl = arca_pki::build_crl(
            &signer,
            &listed,
            number,
            now,
            Duration::from_secs(expiry.max(1)),
        )
        .map_err(pki_error)?;
        self.crl_number = number;
        self.crl = Some(crl);
        Ok(())
    }

    /// Installs a signed certificate: status `configured`, its expiry, a first CRL.
    fn install_signed(
        &mut self,
        fields: &mut Map<String, Value>,
        certificate: String,
        parents: Vec<String>,
        now: OffsetDateTime,
    ) -> ServiceResult<()> {
        let info = arca_pki::inspect(&certificate, None, None).map_err(pki_error)?;
        self.certificate = Some(certificate);
        self.parents = parents;
        fields.insert("status".into(), CONFIGURED.into());
        fields.insert(
            "expiration_date".into(),
            rfc3339(to_millis(info.not_after)).into(),
        );
        self.rebuild_crl(fields, now)
    }

    /// The `data` a full configuration shows: the certificate, its issuer and chain, expiry and
    /// CRL once signed; the CSR while unsigned. Never the private key.
    fn data(&self, config_type: &str, fields: &Map<String, Value>) -> Value {
        let mut data = Map::new();
        if let Some(cert) = &self.certificate {
            data.insert("certificate".into(), cert.clone().into());
            let issuing = self.parents.first().unwrap_or(cert);
            data.insert("issuing_ca".into(), issuing.clone().into());
            let chain = if self.parents.is_empty() {
                vec![cert.clone()]
            } else {
                self.parents.clone()
            };
            data.insert("ca_chain".into(), chain.into());
            if let Some(t) = text(fields, "expiration_date")
                .and_then(|d| OffsetDateTime::parse(d, &Rfc3339).ok())
            {
                data.insert("expiration".into(), t.unix_timestamp().into());
            }
            if let Some(crl) = &self.crl {
                data.insert("crl".into(), crl.clone().into());
            }
        } else if let Some(csr) = &self.csr {
            data.insert("csr".into(), csr.clone().into());
            data.insert(
                "private_key_type".into(),
                text(fields, "key_type").unwrap_or("rsa").into(),
            );
        }
        if config_type == INTERMEDIATE_CA
            && let Some(t) = fields.get("revocation_time_seconds")
        {
            data.insert("revocation_time_seconds".into(), t.clone());
        }
        Value::Object(data)
    }
}

// ---------------------------------------------------------------------------------------------
// Field tables: the prototype fields of each type, normalized to their displayed form
// ---------------------------------------------------------------------------------------------

/// How a prototype field is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A TTL string (`8760h`, `30d`, `3600`) or a number of seconds; shown in seconds.
    Ttl,
    /// A boolean.
    Bool,
    /// An integer.
    Int,
    /// A string.
    Str,
    /// A list of strings (a comma-separated string is accepted too).
    List,
    /// A comma-separated string (a list is accepted too).
    Csv,
    /// One of some strings.
    OneOf(&'static [&'static str]),
    /// Something this server does not implement: accepted only empty.
    Unsupported,
}

/// The displayed name of a prototype field (TTLs are shown in seconds).
fn shown(key: &str) -> &str {
    match key {
        "max_ttl" => "max_ttl_seconds",
        "ttl" => "ttl_seconds",
        "crl_expiry" => "crl_expiry_seconds",
        "not_before_duration" => "not_before_duration_seconds",
        other => other,
    }
}

fn subject_kind(key: &str) -> Option<Kind> {
    match key {
        "ou" | "organization" | "country" | "locality" | "province" | "street_address"
        | "postal_code" => Some(Kind::List),
        "serial_number" => Some(Kind::Str),
        _ => None,
    }
}

/// The fields of root (`root` true) and intermediate CA prototypes.
fn ca_kind(root: bool, key: &str) -> Option<Kind> {
    Some(match key {
        "common_name" => Kind::Str,
        "max_ttl" | "crl_expiry" => Kind::Ttl,
        "crl_disable"
        | "crl_distribution_points_encoded"
        | "issuing_certificates_urls_encoded"
        | "exclude_cn_from_sans" => Kind::Bool,
        "alt_names" => Kind::List,
        "ip_sans" | "uri_sans" => Kind::Csv,
        "other_sans" | "crypto_key" => Kind::Unsupported,
        "format" => Kind::OneOf(&["pem", "pem_bundle"]),
        "private_key_format" => Kind::OneOf(&["der", "pkcs8"]),
        "key_type" => Kind::OneOf(&["rsa", "ec"]),
        "key_bits" => Kind::Int,
        "ttl" if root => Kind::Ttl,
        "max_path_length" if root => Kind::Int,
        "permitted_dns_domains" if root => Kind::List,
        "signing_method" if !root => Kind::OneOf(&["internal", "external"]),
        "issuer" if !root => Kind::Str,
        _ => return subject_kind(key),
    })
}

/// The fields of template prototypes.
fn template_kind(key: &str) -> Option<Kind> {
    Some(match key {
        "certificate_authority" => Kind::Str,
        "allowed_secret_groups" => Kind::Csv,
        "max_ttl" | "ttl" | "not_before_duration" => Kind::Ttl,
        "allow_localhost"
        | "allow_bare_domains"
        | "allow_subdomains"
        | "allow_glob_domains"
        | "allow_wildcard_certificates"
        | "allow_any_name"
        | "enforce_hostnames"
        | "allow_ip_sans"
        | "server_flag"
        | "client_flag"
        | "code_signing_flag"
        | "email_protection_flag"
        | "use_csr_common_name"
        | "use_csr_sans"
        | "require_cn"
        | "basic_constraints_valid_for_non_ca" => Kind::Bool,
        "allowed_domains" | "allowed_uri_sans" | "key_usage" | "ext_key_usage"
        | "ext_key_usage_oids" => Kind::List,
        "allowed_other_sans" | "policy_identifiers" | "allowed_domains_template" => {
            Kind::Unsupported
        }
        "key_type" => Kind::OneOf(&["rsa", "ec"]),
        "key_bits" => Kind::Int,
        _ => return subject_kind(key),
    })
}

/// The optional fields of the `sign_intermediate` and `sign_csr` actions.
fn sign_kind(key: &str) -> Option<Kind> {
    Some(match key {
        "common_name" => Kind::Str,
        "alt_names" | "permitted_dns_domains" => Kind::List,
        "ip_sans" | "uri_sans" => Kind::Csv,
        "other_sans" => Kind::Unsupported,
        "ttl" => Kind::Ttl,
        "format" => Kind::OneOf(&["pem", "pem_bundle"]),
        "max_path_length" => Kind::Int,
        "exclude_cn_from_sans" | "use_csr_values" => Kind::Bool,
        _ => return subject_kind(key),
    })
}

fn kind_of(config_type: &str, key: &str) -> Option<Kind> {
    match config_type {
        ROOT_CA => ca_kind(true, key),
        INTERMEDIATE_CA => ca_kind(false, key),
        TEMPLATE => template_kind(key),
        _ => None,
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn strings(key: &str, v: &Value) -> ServiceResult<Vec<String>> {
    match v {
        Value::String(s) => Ok(split_list(s)),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let s = item.as_str().ok_or_else(|| {
                    ServiceError::InvalidInput(format!("{key} must be a list of strings"))
                })?;
                if !s.trim().is_empty() {
                    out.push(s.trim().to_owned());
                }
            }
            Ok(out)
        }
        _ => Err(ServiceError::InvalidInput(format!(
            "{key} must be a list of strings"
        ))),
    }
}

/// Reads a TTL (string or seconds).
fn ttl_value(key: &str, v: &Value) -> ServiceResult<u64> {
    match v {
        Value::String(s) => arca_pki::parse_ttl(s).map(|d| d.as_secs()).map_err(|_| {
            ServiceError::InvalidInput(format!(
                "{key} must be a duration: digits followed by s, m, h or d (e.g. 8760h)"
            ))
        }),
        Value::Number(n) => n.as_u64().ok_or_else(|| {
            ServiceError::InvalidInput(format!("{key} must be a non-negative number of seconds"))
        }),
        _ => Err(ServiceError::InvalidInput(format!(
            "{key} must be a duration such as 8760h"
        ))),
    }
}

/// Normalizes one field value; `None` drops it.
fn normalize(kind: Kind, key: &str, v: &Value) -> ServiceResult<Option<Value>> {
    let bad = |what: &str| ServiceError::InvalidInput(format!("{key} must be {what}"));
    Ok(match kind {
        Kind::Ttl => {
            let secs = ttl_value(key, v)?;
            if secs == 0 && key != "not_before_duration" {
                return Err(bad("longer than zero"));
            }
            Some(secs.into())
        }
        Kind::Bool => Some(Value::Bool(
            v.as_bool().ok_or_else(|| bad("true or false"))?,
        )),
        Kind::Int => Some(v.as_i64().ok_or_else(|| bad("an integer"))?.into()),
        Kind::Str => {
            let s = v.as_str().ok_or_else(|| bad("a string"))?.trim();
            (!s.is_empty()).then(|| s.to_owned().into())
        }
        Kind::List => Some(strings(key, v)?.into()),
        Kind::Csv => {
            let items = strings(key, v)?;
            (!items.is_empty()).then(|| items.join(",").into())
        }
        Kind::OneOf(allowed) => match v.as_str() {
            Some(s) if allowed.contains(&s) => Some(s.into()),
            _ => return Err(bad(&format!("one of {}", allowed.join(", ")))),
        },
        Kind::Unsupported => {
            let empty = match v {
                Value::Null => true,
                Value::Bool(b) => !b,
                Value::String(s) => s.trim().is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Number(_) => false,
            };
            if !empty {
                return Err(ServiceError::InvalidInput(format!(
                    "{key} is not supported by this server"
                )));
            }
            None
        }
    })
}

/// Applies prototype (or patch) field `key` to the displayed fields; `null` resets it to its
/// default.
fn apply(
    config_type: &str,
    fields: &mut Map<String, Value>,
    key: &str,
    v: &Value,
) -> ServiceResult<()> {
    let kind = kind_of(config_type, key).ok_or_else(|| {
        ServiceError::InvalidInput(format!(
            "{key} is not a field of {config_type} configurations"
        ))
    })?;
    let name = shown(key);
    let value = if v.is_null() {
        defaults(config_type).remove(name)
    } else {
        normalize(kind, key, v)?
    };
    match value {
        Some(value) => fields.insert(name.to_owned(), value),
        None => fields.remove(name),
    };
    Ok(())
}

/// The displayed defaults of a new configuration.
fn defaults(config_type: &str) -> Map<String, Value> {
    let mut m = Map::new();
    match config_type {
        ROOT_CA | INTERMEDIATE_CA => {
            m.insert("crl_expiry_seconds".into(), DEFAULT_CRL_EXPIRY.into());
            for b in [
                "crl_disable",
                "crl_distribution_points_encoded",
                "issuing_certificates_urls_encoded",
                "exclude_cn_from_sans",
            ] {
                m.insert(b.into(), false.into());
            }
            m.insert("format".into(), "pem".into());
            m.insert("private_key_format".into(), "der".into());
            m.insert("key_type".into(), "rsa".into());
            if config_type == ROOT_CA {
                m.insert("max_path_length".into(), (-1).into());
            }
        }
        TEMPLATE => {
            let d = Template::default();
            let flags = [
                ("allow_localhost", d.allow_localhost),
                ("allow_bare_domains", d.allow_bare_domains),
                ("allow_subdomains", d.allow_subdomains),
                ("allow_glob_domains", d.allow_glob_domains),
                ("allow_wildcard_certificates", d.allow_wildcard_certificates),
                ("allow_any_name", d.allow_any_name),
                ("enforce_hostnames", d.enforce_hostnames),
                ("allow_ip_sans", d.allow_ip_sans),
                ("server_flag", d.server_flag),
                ("client_flag", d.client_flag),
                ("code_signing_flag", d.code_signing_flag),
                ("email_protection_flag", d.email_protection_flag),
                ("use_csr_common_name", d.use_csr_common_name),
                ("use_csr_sans", d.use_csr_sans),
                ("require_cn", d.require_cn),
                (
                    "basic_constraints_valid_for_non_ca",
                    d.basic_constraints_valid_for_non_ca,
                ),
            ];
            for (k, b) in flags {
                m.insert(k.into(), b.into());
            }
            m.insert("allowed_domains".into(), d.allowed_domains.into());
            m.insert("key_type".into(), d.key_type.as_str().into());
            m.insert("key_usage".into(), d.key_usage.into());
            m.insert(
                "not_before_duration_seconds".into(),
                d.not_before_duration.as_secs().into(),
            );
        }
        _ => {}
    }
    m
}

/// Fills `key_bits` from `key_type` when absent.
fn fill_key_bits(fields: &mut Map<String, Value>) -> ServiceResult<()> {
    let key_type = KeyType::parse(text(fields, "key_type").unwrap_or("rsa")).map_err(pki_error)?;
    if !fields.contains_key("key_bits") {
        fields.insert("key_bits".into(), key_type.default_bits().into());
    }
    Ok(())
}

/// Builds a configuration's displayed fields from a prototype.
fn fields_from(config_type: &str, proto: &Map<String, Value>) -> ServiceResult<Map<String, Value>> {
    let mut fields = defaults(config_type);
    for (k, v) in proto {
        apply(config_type, &mut fields, k, v)?;
    }
    fill_key_bits(&mut fields)?;
    Ok(fields)
}

fn require(fields: &Map<String, Value>, names: &[(&str, &str)]) -> ServiceResult<()> {
    for (shown_name, proto_name) in names {
        if !fields.contains_key(*shown_name) {
            return Err(ServiceError::InvalidInput(format!(
                "{proto_name} is required"
            )));
        }
    }
    Ok(())
}

fn text<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    fields.get(key).and_then(Value::as_str)
}

fn flag(fields: &Map<String, Value>, key: &str, default: bool) -> bool {
    fields.get(key).and_then(Value::as_bool).unwrap_or(default)
}

fn seconds(fields: &Map<String, Value>, key: &str) -> Option<u64> {
    fields.get(key).and_then(Value::as_u64)
}

fn list(fields: &Map<String, Value>, key: &str) -> Vec<String> {
    match fields.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => split_list(s),
        _ => Vec::new(),
    }
}

fn key_bits(fields: &Map<String, Value>, key_type: KeyType) -> ServiceResult<u32> {
    match fields.get("key_bits").and_then(Value::as_i64) {
        None => Ok(key_type.default_bits()),
        Some(b) => u32::try_from(b)
            .map_err(|_| ServiceError::InvalidInput("key_bits is out of range".into())),
    }
}

/// The CA certificate parameters of a root or intermediate configuration. The stored key is
/// always PKCS#8 (`private_key_format` only applies to keys handed out, and CA keys never are).
fn ca_params(fields: &Map<String, Value>, ttl: Duration) -> ServiceResult<CaParams> {
    let mut p = CaParams::new(text(fields, "common_name").unwrap_or_default(), ttl);
    p.alt_names = list(fields, "alt_names");
    p.ip_sans = list(fields, "ip_sans");
    p.uri_sans = list(fields, "uri_sans");
    p.ou = list(fields, "ou");
    p.organization = list(fields, "organization");
    p.country = list(fields, "country");
    p.locality = list(fields, "locality");
    p.province = list(fields, "province");
    p.street_address = list(fields, "street_address");
    p.postal_code = list(fields, "postal_code");
    p.serial_number = text(fields, "serial_number").map(str::to_owned);
    p.key_type = KeyType::parse(text(fields, "key_type").unwrap_or("rsa")).map_err(pki_error)?;
    p.key_bits = key_bits(fields, p.key_type)?;
    p.max_path_length = fields.get("max_path_length").and_then(Value::as_i64);
    p.permitted_dns_domains = list(fields, "permitted_dns_domains");
    p.exclude_cn_from_sans = flag(fields, "exclude_cn_from_sans", false);
    p.private_key_format = PrivateKeyFormat::Pkcs8;
    Ok(p)
}

/// The issuing policy of a template; `ca_max_ttl` (the CA's `max_ttl`) applies when the template
/// sets none.
pub(crate) fn template_of(
    fields: &Map<String, Value>,
    ca_max_ttl: Option<u64>,
) -> ServiceResult<Template> {
    let d = Template::default();
    let key_type = match text(fields, "key_type") {
        Some(t) => KeyType::parse(t).map_err(pki_error)?,
        None => d.key_type,
    };
    let listed = |key: &str, default: Vec<String>| {
        if fields.contains_key(key) {
            list(fields, key)
        } else {
            default
        }
    };
    Ok(Template {
        allowed_domains: list(fields, "allowed_domains"),
        allow_bare_domains: flag(fields, "allow_bare_domains", d.allow_bare_domains),
        allow_subdomains: flag(fields, "allow_subdomains", d.allow_subdomains),
        allow_glob_domains: flag(fields, "allow_glob_domains", d.allow_glob_domains),
        allow_wildcard_certificates: flag(
            fields,
            "allow_wildcard_certificates",
            d.allow_wildcard_certificates,
        ),
        allow_any_name: flag(fields, "allow_any_name", d.allow_any_name),
        allow_localhost: flag(fields, "allow_localhost", d.allow_localhost),
        enforce_hostnames: flag(fields, "enforce_hostnames", d.enforce_hostnames),
        allow_ip_sans: flag(fields, "allow_ip_sans", d.allow_ip_sans),
        allowed_uri_sans: list(fields, "allowed_uri_sans"),
        max_ttl: seconds(fields, "max_ttl_seconds")
            .or(ca_max_ttl)
            .map(Duration::from_secs),
        ttl: seconds(fields, "ttl_seconds").map(Duration::from_secs),
        key_type,
        key_bits: match fields.get("key_bits") {
            Some(_) => key_bits(fields, key_type)?,
            None => key_type.default_bits(),
        },
        key_usage: listed("key_usage", d.key_usage),
        ext_key_usage: list(fields, "ext_key_usage"),
        ext_key_usage_oids: list(fields, "ext_key_usage_oids"),
        server_flag: flag(fields, "server_flag", d.server_flag),
        client_flag: flag(fields, "client_flag", d.client_flag),
        code_signing_flag: flag(fields, "code_signing_flag", d.code_signing_flag),
        email_protection_flag: flag(fields, "email_protection_flag", d.email_protection_flag),
        use_csr_common_name: flag(fields, "use_csr_common_name", d.use_csr_common_name),
        use_csr_sans: flag(fields, "use_csr_sans", d.use_csr_sans),
        require_cn: flag(fields, "require_cn", d.require_cn),
        basic_constraints_valid_for_non_ca: flag(
            fields,
            "basic_constraints_valid_for_non_ca",
            d.basic_constraints_valid_for_non_ca,
        ),
        not_before_duration: seconds(fields, "not_before_duration_seconds")
            .map_or(d.not_before_duration, Duration::from_secs),
        ou: list(fields, "ou"),
        organization: list(fields, "organization"),
        country: list(fields, "country"),
        locality: list(fields, "locality"),
        province: list(fields, "province"),
        street_address: list(fields, "street_address"),
        postal_code: list(fields, "postal_code"),
        serial_number: text(fields, "serial_number").map(str::to_owned),
    })
}

/// The status shown: a configured CA past its expiry is `expired`.
fn status_at(fields: &Map<String, Value>, now: OffsetDateTime) -> Option<&str> {
    let status = text(fields, "status")?;
    let expired = text(fields, "expiration_date")
        .and_then(|d| OffsetDateTime::parse(d, &Rfc3339).ok())
        .is_some_and(|t| t <= now);
    Some(if status == CONFIGURED && expired {
        EXPIRED
    } else {
        status
    })
}

/// Refuses to sign with a CA that is not configured (unsigned, expired or revoked).
pub(crate) fn check_can_sign(
    name: &str,
    fields: &Map<String, Value>,
    now: OffsetDateTime,
) -> ServiceResult<()> {
    match status_at(fields, now) {
        Some(CONFIGURED) => Ok(()),
        status => Err(ServiceError::InvalidState(format!(
            "certificate authority {name} cannot sign: its status is {}",
            status.unwrap_or("unknown")
        ))),
    }
}

/// The fields a listing shows per type.
fn listed(config_type: &str, key: &str) -> bool {
    match config_type {
        TEMPLATE => key == "certificate_authority",
        _ => {
            matches!(
                key,
                "common_name"
                    | "crl_distribution_points_encoded"
                    | "expiration_date"
                    | "key_type"
                    | "key_bits"
                    | "status"
                    | "crypto_key"
            ) || (config_type == INTERMEDIATE_CA && matches!(key, "issuer" | "signing_method"))
        }
    }
}

/// Splits PEM text into its `CERTIFICATE` blocks (each re-terminated with a newline).
pub(crate) fn split_certificates(pem: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start..];
        let Some(end) = after.find(END) else { break };
        out.push(format!("{}\n", &after[..end + END.len()]));
        rest = &after[end + END.len()..];
    }
    out
}

/// Reads the optional sign fields of an action into displayed form (`ttl` → `ttl_seconds`).
fn sign_fields(
    params: &Map<String, Value>,
    required: &str,
) -> ServiceResult<(String, Map<String, Value>)> {
    let mut out = Map::new();
    let mut target = None;
    for (k, v) in params {
        if k == required {
            target = v.as_str().map(str::trim).filter(|s| !s.is_empty());
            if target.is_none() {
                return Err(ServiceError::InvalidInput(format!(
                    "{required} must be a non-empty string"
                )));
            }
            continue;
        }
        let kind = sign_kind(k).ok_or_else(|| {
            ServiceError::InvalidInput(format!("{k} is not a field of this action"))
        })?;
        if v.is_null() {
            continue;
        }
        if let Some(value) = normalize(kind, k, v)? {
            out.insert(shown(k).to_owned(), value);
        }
    }
    let target =
        target.ok_or_else(|| ServiceError::InvalidInput(format!("{required} is required")))?;
    Ok((target.to_owned(), out))
}

/// What a signature says: the action's overrides, else the signed CA's own fields (`base`);
/// lifetime up to the signer's `max_ttl`.
fn sign_overrides(
    base: Option<&Map<String, Value>>,
    given: &Map<String, Value>,
    signer_fields: &Map<String, Value>,
) -> ServiceResult<SignOverrides> {
    let empty = Map::new();
    let base = base.unwrap_or(&empty);
    let pick = |k: &str| given.get(k).or_else(|| base.get(k));
    let pick_list = |k: &str| {
        let mut m = Map::new();
        if let Some(v) = pick(k) {
            m.insert(k.to_owned(), v.clone());
        }
        list(&m, k)
    };
    let max_ttl = seconds(signer_fields, "max_ttl_seconds");
    let ttl = match (seconds(given, "ttl_seconds"), max_ttl) {
        (Some(t), Some(m)) => Some(t.min(m)),
        (t, m) => t.or(m),
    };
    Ok(SignOverrides {
        common_name: pick("common_name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        alt_names: pick_list("alt_names"),
        ip_sans: pick_list("ip_sans"),
        uri_sans: pick_list("uri_sans"),
        ou: pick_list("ou"),
        organization: pick_list("organization"),
        country: pick_list("country"),
        locality: pick_list("locality"),
        province: pick_list("province"),
        street_address: pick_list("street_address"),
        postal_code: pick_list("postal_code"),
        serial_number: pick("serial_number")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ttl: ttl.map(Duration::from_secs),
        max_path_length: given.get("max_path_length").and_then(Value::as_i64),
        exclude_cn_from_sans: pick("exclude_cn_from_sans")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        permitted_dns_domains: list(given, "permitted_dns_domains"),
        use_csr_values: flag(given, "use_csr_values", false),
    })
}

fn no_params(action: &str, params: &Map<String, Value>) -> ServiceResult<()> {
    match params.keys().next() {
        Some(k) => Err(ServiceError::InvalidInput(format!(
            "{k} is not a field of {action}"
        ))),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Service operations
// ---------------------------------------------------------------------------------------------

impl SecretsService {
    /// Opens a CA configuration's sealed state.
    pub(crate) async fn open_ca(&self, record: &SecretsConfigRecord) -> ServiceResult<CaState> {
        match self.open_config_bytes(record).await? {
            Some(plain) => serde_json::from_slice(&plain).map_err(internal),
            None => Ok(CaState::default()),
        }
    }

    /// Seals `state` into `record`.
    async fn seal_ca(
        &self,
        record: &mut SecretsConfigRecord,
        state: &CaState,
    ) -> ServiceResult<()> {
        if state.is_empty() {
            return self.seal_config_bytes(record, None).await;
        }
        let plain = Zeroizing::new(serde_json::to_vec(state).map_err(internal)?);
        self.seal_config_bytes(record, Some(&plain)).await
    }

    /// A private CA configuration as shown: in full with `data` when `state` is given, else
    /// the listing subset.
    pub(crate) fn ca_view_with(
        &self,
        record: SecretsConfigRecord,
        state: Option<&CaState>,
    ) -> ServiceResult<ConfigView> {
        let mut fields: Map<String, Value> = from_doc(&record.metadata)?;
        let secret_fields = match state {
            None => None,
            Some(_) if record.config_type == TEMPLATE => Some(Map::new()),
            Some(state) => {
                let mut m = Map::new();
                m.insert("data".into(), state.data(&record.config_type, &fields));
                Some(m)
            }
        };
        if let Some(status) = status_at(&fields, self.now()).map(str::to_owned) {
            fields.insert("status".into(), status.into());
        }
        fields.remove("revocation_time_seconds");
        if state.is_none() {
            fields.retain(|k, _| listed(&record.config_type, k));
        }
        Ok(ConfigView {
            record,
            fields,
            secret_fields,
        })
    }

    /// A private CA configuration in full.
    pub(crate) async fn ca_view(&self, record: SecretsConfigRecord) -> ServiceResult<ConfigView> {
        let state = self.open_ca(&record).await?;
        self.ca_view_with(record, Some(&state))
    }

    /// Re-reads CA configuration `name`, lets `f` change its fields and sealed state, and writes
    /// it back; retried when the configuration changed concurrently.
    pub(crate) async fn modify_ca<T>(
        &self,
        instance_id: &str,
        name: &str,
        mut f: impl FnMut(
            &SecretsConfigRecord,
            &mut Map<String, Value>,
            &mut CaState,
        ) -> ServiceResult<T>,
    ) -> ServiceResult<(SecretsConfigRecord, CaState, T)> {
        for _ in 0..5 {
            let mut record = self.config_record(instance_id, name).await?;
            let mut fields: Map<String, Value> = from_doc(&record.metadata)?;
            let mut state = self.open_ca(&record).await?;
            let out = f(&record, &mut fields, &mut state)?;
            record.metadata = to_doc(&fields)?;
            self.seal_ca(&mut record, &state).await?;
            record.updated_at = to_millis(self.now());
            record.revision += 1;
            match self.store.update_secrets_config(&record).await {
                Ok(()) => return Ok((record, state, out)),
                Err(arca_store::StoreError::Stale(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Concurrent(
            "the configuration changed concurrently",
        ))
    }

    /// Creates a root CA (generated at once), an intermediate CA (a key and a CSR, to be signed)
    /// or a certificate template.
    pub(crate) async fn create_ca_config(
        &self,
        principal: &Principal,
        instance_id: &str,
        config_type: &str,
        name: String,
        proto: Map<String, Value>,
        existing: &[SecretsConfigRecord],
    ) -> ServiceResult<ConfigView> {
        let count = existing
            .iter()
            .filter(|c| c.config_type == config_type)
            .count();
        if count >= MAX_PER_TYPE {
            return Err(ServiceError::InvalidInput(format!(
                "you reached the maximum of {MAX_PER_TYPE} configurations of type {config_type}"
            )));
        }
        let mut fields = fields_from(config_type, &proto)?;
        let now = self.now();
        let state = match config_type {
            ROOT_CA => new_root(&mut fields, now).await?,
            INTERMEDIATE_CA => new_intermediate(&mut fields, existing).await?,
            _ => {
                check_template(&fields, existing)?;
                CaState::default()
            }
        };
        let now_ms = to_millis(now);
        let mut record = SecretsConfigRecord {
            instance_id: instance_id.to_owned(),
            name,
            config_type: config_type.to_owned(),
            secret_type: SecretType::PrivateCert.as_str().to_owned(),
            created_by: principal.id.clone(),
            created_at: now_ms,
            updated_at: now_ms,
            revision: 1,
            metadata: to_doc(&fields)?,
            sealed: None,
            wrapped_dek: None,
            root_key: super::sealing::INSTANCE_ROOT.to_owned(),
        };
        self.seal_ca(&mut record, &state).await?;
        self.store.create_secrets_config(&record).await?;
        tracing::info!(instance_id, name = %record.name, config_type, "private CA configuration created");
        self.ca_view_with(record, Some(&state))
    }

    /// Applies a merge-patch to a private CA configuration (inside the caller's retry loop).
    pub(crate) async fn update_ca_config(
        &self,
        mut record: SecretsConfigRecord,
        patch: &Map<String, Value>,
    ) -> ServiceResult<ConfigView> {
        let config_type = record.config_type.clone();
        let mut fields: Map<String, Value> = from_doc(&record.metadata)?;
        for (k, v) in patch {
            let allowed = match config_type.as_str() {
                TEMPLATE => k != "certificate_authority" && template_kind(k).is_some(),
                _ => CA_PATCHABLE.contains(&k.as_str()),
            };
            if !allowed {
                return Err(ServiceError::InvalidInput(format!(
                    "{k} cannot be changed on a {config_type} configuration"
                )));
            }
            if k == "max_ttl" && v.is_null() && config_type != TEMPLATE {
                return Err(ServiceError::InvalidInput("max_ttl is required".into()));
            }
            apply(&config_type, &mut fields, k, v)?;
        }
        fill_key_bits(&mut fields)?;
        let now = self.now();
        let mut state = None;
        if config_type == TEMPLATE {
            let existing = self.store.list_secrets_configs(&record.instance_id).await?;
            check_template(&fields, &existing)?;
        } else if patch.contains_key("crl_disable") || patch.contains_key("crl_expiry") {
            let mut s = self.open_ca(&record).await?;
            if s.certificate.is_some() {
                s.rebuild_crl(&fields, now)?;
            }
            state = Some(s);
        }
        record.metadata = to_doc(&fields)?;
        if let Some(s) = &state {
            self.seal_ca(&mut record, s).await?;
        }
        record.updated_at = to_millis(now);
        record.revision += 1;
        self.store.update_secrets_config(&record).await?;
        match state {
            Some(s) => self.ca_view_with(record, Some(&s)),
            None => self.ca_view(record).await,
        }
    }

    /// Refuses (409) to delete a CA that a template, an intermediate or a private certificate
    /// still uses, or a template that a private certificate still uses.
    pub(crate) async fn check_config_unused(
        &self,
        instance_id: &str,
        record: &SecretsConfigRecord,
    ) -> ServiceResult<()> {
        let name = record.name.as_str();
        let in_use = |by: String| {
            Err(ServiceError::InvalidState(format!(
                "configuration {name} is still used by {by}; delete that first"
            )))
        };
        match record.config_type.as_str() {
            ROOT_CA | INTERMEDIATE_CA => {
                for c in self.store.list_secrets_configs(instance_id).await? {
                    if c.name == name {
                        continue;
                    }
                    let fields: Map<String, Value> = from_doc(&c.metadata)?;
                    if c.config_type == TEMPLATE
                        && text(&fields, "certificate_authority") == Some(name)
                    {
                        return in_use(format!("certificate template {}", c.name));
                    }
                    if c.config_type == INTERMEDIATE_CA && text(&fields, "issuer") == Some(name) {
                        return in_use(format!("intermediate CA {}", c.name));
                    }
                }
            }
            TEMPLATE => {}
            _ => return Ok(()),
        }
        for s in self.store.list_secrets(instance_id).await? {
            if s.secret_type != SecretType::PrivateCert.as_str() {
                continue;
            }
            let meta: SecretMeta = from_doc(&s.metadata)?;
            let Some(cert) = meta.certificate else {
                continue;
            };
            let uses = match record.config_type.as_str() {
                TEMPLATE => cert.certificate_template.as_deref() == Some(name),
                _ => cert.certificate_authority.as_deref() == Some(name),
            };
            if uses {
                return in_use(format!("private certificate {}", s.name));
            }
        }
        Ok(())
    }

    /// A configuration action (private CA: sign, set signed, revoke, rotate). Returns the
    /// action's result fields (the API adds `action_type`).
    pub async fn config_action(
        &self,
        principal: &Principal,
        instance_id: &str,
        name: &str,
        accept_type: Option<&str>,
        action_type: &str,
        params: Map<String, Value>,
    ) -> ServiceResult<Map<String, Value>> {
        self.authorize(principal, instance_id, Permission::Manage)
            .await?;
        let record = self.config_record(instance_id, name).await?;
        super::configs::check_type(&record, accept_type)?;
        let t = record.config_type.as_str();
        let is_ca = t == ROOT_CA || t == INTERMEDIATE_CA;
        let result = match action_type {
            SIGN_INTERMEDIATE if is_ca => self.sign_intermediate(&record, params).await,
            SIGN_CSR if is_ca => self.sign_csr_action(&record, params).await,
            SET_SIGNED if t == INTERMEDIATE_CA => self.set_signed(&record, params).await,
            REVOKE_CA if t == INTERMEDIATE_CA => self.revoke_ca(&record, params).await,
            ROTATE_CRL if is_ca => {
                no_params(action_type, &params)?;
                let now = self.now();
                self.modify_ca(instance_id, name, |_, fields, state| {
                    state.rebuild_crl(fields, now)
                })
                .await?;
                let mut m = Map::new();
                m.insert("success".into(), true.into());
                Ok(m)
            }
            ROTATE_INTERMEDIATE if t == INTERMEDIATE_CA => {
                self.rotate_intermediate(&record, params).await
            }
            SIGN_INTERMEDIATE | SIGN_CSR | SET_SIGNED | REVOKE_CA | ROTATE_CRL
            | ROTATE_INTERMEDIATE => Err(ServiceError::InvalidInput(format!(
                "{action_type} does not apply to {t} configurations"
            ))),
            _ => Err(ServiceError::InvalidInput(
                "unknown action_type for configurations".into(),
            )),
        }?;
        tracing::info!(instance_id, name, action_type, "configuration action");
        Ok(result)
    }

    /// `sign_intermediate`: signs the CSR of an internal intermediate that names this CA as its
    /// issuer; the intermediate becomes `configured`.
    async fn sign_intermediate(
        &self,
        signer_record: &SecretsConfigRecord,
        params: Map<String, Value>,
    ) -> ServiceResult<Map<String, Value>> {
        let (target, given) = sign_fields(&params, "intermediate_certificate_authority")?;
        let signer_name = signer_record.name.as_str();
        if target == signer_name {
            return Err(ServiceError::InvalidInput(
                "a certificate authority cannot sign itself".into(),
            ));
        }
        let now = self.now();
        let signer_fields: Map<String, Value> = from_doc(&signer_record.metadata)?;
        check_can_sign(signer_name, &signer_fields, now)?;
        let signer = self.open_ca(signer_record).await?.signer()?;
        let instance_id = signer_record.instance_id.as_str();
        match self.store.get_secrets_config(instance_id, &target).await? {
            Some(c) if c.config_type == INTERMEDIATE_CA => {}
            _ => {
                return Err(ServiceError::InvalidInput(format!(
                    "intermediate_certificate_authority {target} is not an intermediate CA \
                     configuration of this instance"
                )));
            }
        }
        self.modify_ca(instance_id, &target, |_, fields, state| {
            if text(fields, "signing_method") != Some("internal") {
                return Err(ServiceError::InvalidInput(format!(
                    "{target} is signed externally: sign its CSR with {SIGN_CSR} and give the \
                     certificate to {SET_SIGNED}"
                )));
            }
            if text(fields, "issuer") != Some(signer_name) {
                return Err(ServiceError::InvalidInput(format!(
                    "{target} names another issuer than {signer_name}"
                )));
            }
            if text(fields, "status") == Some(REVOKED) {
                return Err(ServiceError::InvalidState(format!("{target} was revoked")));
            }
            let csr = state
                .csr
                .clone()
                .ok_or_else(|| ServiceError::Internal("an intermediate CA without a CSR".into()))?;
            let overrides = sign_overrides(Some(fields), &given, &signer_fields)?;
            let issued =
                arca_pki::sign_csr(&signer, &csr, &overrides, true, now).map_err(pki_error)?;
            state.install_signed(fields, issued.certificate_pem, issued.ca_chain, now)
        })
        .await?;
        Ok(params)
    }

    /// `sign_csr`: signs a CA certificate for a CSR (e.g. of an externally signed intermediate).
    async fn sign_csr_action(
        &self,
        signer_record: &SecretsConfigRecord,
        mut params: Map<String, Value>,
    ) -> ServiceResult<Map<String, Value>> {
        let (csr, given) = sign_fields(&params, "csr")?;
        let now = self.now();
        let signer_fields: Map<String, Value> = from_doc(&signer_record.metadata)?;
        check_can_sign(&signer_record.name, &signer_fields, now)?;
        let signer = self.open_ca(signer_record).await?.signer()?;
        let overrides = sign_overrides(None, &given, &signer_fields)?;
        let issued =
            blocking(move || arca_pki::sign_csr(&signer, &csr, &overrides, true, now)).await?;
        let format = text(&given, "format").unwrap_or("pem");
        let certificate = if format == "pem_bundle" {
            format!("{}{}", issued.certificate_pem, issued.issuing_ca_pem)
        } else {
            issued.certificate_pem.clone()
        };
        params.insert(
            "data".into(),
            json!({
                "certificate": certificate,
                "issuing_ca": issued.issuing_ca_pem,
                "ca_chain": issued.ca_chain,
                "expiration": issued.not_after.unix_timestamp(),
            }),
        );
        Ok(params)
    }

    /// `set_signed`: accepts the certificate an external CA signed for this intermediate's CSR
    /// (with its chain after it, optionally).
    async fn set_signed(
        &self,
        record: &SecretsConfigRecord,
        params: Map<String, Value>,
    ) -> ServiceResult<Map<String, Value>> {
        let mut certificate = None;
        for (k, v) in &params {
            match (k.as_str(), v) {
                ("certificate", Value::String(s)) => certificate = Some(s.clone()),
                ("certificate", _) => {
                    return Err(ServiceError::InvalidInput(
                        "certificate must be a PEM string".into(),
                    ));
                }
                _ => {
                    return Err(ServiceError::InvalidInput(format!(
                        "{k} is not a field of {SET_SIGNED}"
                    )));
                }
            }
        }
        let certificate = certificate
            .ok_or_else(|| ServiceError::InvalidInput("certificate is required".into()))?;
        let mut blocks = split_certificates(&certificate);
        if blocks.is_empty() {
            return Err(ServiceError::InvalidInput(
                "certificate: no PEM certificate found".into(),
            ));
        }
        let leaf = blocks.remove(0);
        let now = self.now();
        self.modify_ca(&record.instance_id, &record.name, |_, fields, state| {
            if text(fields, "signing_method") != Some("external") {
                return Err(ServiceError::InvalidInput(format!(
                    "{SET_SIGNED} applies to externally signed intermediates; sign this one \
                     with {SIGN_INTERMEDIATE} on its issuer"
                )));
            }
            if text(fields, "status") == Some(REVOKED) {
                return Err(ServiceError::InvalidState(
                    "the intermediate CA was revoked".into(),
                ));
            }
            let key = state.private_key.as_ref().ok_or_else(|| {
                ServiceError::Internal("an intermediate CA without a private key".into())
            })?;
            let signer =
                arca_pki::accept_signed_intermediate(&leaf, &key.0, &blocks).map_err(pki_error)?;
            if signer.not_after() <= now {
                return Err(ServiceError::InvalidInput(
                    "certificate: the certificate has expired".into(),
                ));
            }
            let cert = signer.certificate_pem().to_owned();
            state.install_signed(fields, cert, blocks.clone(), now)
        })
        .await?;
        Ok(params)
    }

    /// `revoke_ca_certificate`: lists an intermediate's certificate in its issuer's CRL (when the
    /// issuer is one of this instance's CAs) and marks it `revoked`.
    async fn revoke_ca(
        &self,
        record: &SecretsConfigRecord,
        params: Map<String, Value>,
    ) -> ServiceResult<Map<String, Value>> {
        no_params(REVOKE_CA, &params)?;
        let fields: Map<String, Value> = from_doc(&record.metadata)?;
        match text(&fields, "status") {
            Some(REVOKED) => {
                return Err(ServiceError::Conflict(
                    "the certificate authority is already revoked",
                ));
            }
            Some(CONFIGURED) => {}
            _ => {
                return Err(ServiceError::InvalidState(
                    "the certificate authority has no signed certificate to revoke".into(),
                ));
            }
        }
        let state = self.open_ca(record).await?;
        let cert = state.certificate.as_deref().ok_or_else(|| {
            ServiceError::Internal("a configured CA without a certificate".into())
        })?;
        let serial = arca_pki::inspect(cert, None, None)
            .map_err(stored_error)?
            .serial_number;
        let now = self.now();
        let mut at = now.unix_timestamp();
        if text(&fields, "signing_method") == Some("internal")
            && let Some(issuer) = text(&fields, "issuer")
        {
            let (_, _, t) = self
                .modify_ca(&record.instance_id, issuer, |_, f, s| {
                    s.revoke(f, &serial, now)
                })
                .await?;
            at = t;
        }
        self.modify_ca(&record.instance_id, &record.name, |_, f, _| {
            if text(f, "status") == Some(REVOKED) {
                return Err(ServiceError::Conflict(
                    "the certificate authority is already revoked",
                ));
            }
            f.insert("status".into(), REVOKED.into());
            f.insert("revocation_time_seconds".into(), at.into());
            Ok(())
        })
        .await?;
        let mut m = Map::new();
        m.insert("revocation_time_seconds".into(), at.into());
        Ok(m)
    }

    /// `rotate_intermediate`: a new key for an intermediate; signed at once by its issuer when
    /// internal, awaiting `set_signed` when external. Revocations it recorded are kept.
    async fn rotate_intermediate(
        &self,
        record: &SecretsConfigRecord,
        params: Map<String, Value>,
    ) -> ServiceResult<Map<String, Value>> {
        no_params(ROTATE_INTERMEDIATE, &params)?;
        let fields: Map<String, Value> = from_doc(&record.metadata)?;
        if text(&fields, "status") == Some(REVOKED) {
            return Err(ServiceError::InvalidState(
                "a revoked intermediate CA cannot be rotated".into(),
            ));
        }
        let now = self.now();
        let internal_issuer = match (text(&fields, "signing_method"), text(&fields, "issuer")) {
            (Some("internal"), Some(issuer)) => {
                let issuer_record = self.config_record(&record.instance_id, issuer).await?;
                let issuer_fields: Map<String, Value> = from_doc(&issuer_record.metadata)?;
                check_can_sign(issuer, &issuer_fields, now)?;
                let signer = self.open_ca(&issuer_record).await?.signer()?;
                Some((signer, issuer_fields))
            }
            _ => None,
        };
        let params_ca = ca_params(&fields, Duration::ZERO)?;
        let bundle = blocking(move || arca_pki::intermediate_csr(&params_ca)).await?;
        let signed = match &internal_issuer {
            Some((signer, issuer_fields)) => {
                let overrides = sign_overrides(Some(&fields), &Map::new(), issuer_fields)?;
                Some(
                    arca_pki::sign_csr(signer, &bundle.csr_pem, &overrides, true, now)
                        .map_err(pki_error)?,
                )
            }
            None => None,
        };
        let (record, state, ()) = self
            .modify_ca(&record.instance_id, &record.name, |_, f, s| {
                if text(f, "status") == Some(REVOKED) {
                    return Err(ServiceError::InvalidState(
                        "a revoked intermediate CA cannot be rotated".into(),
                    ));
                }
                s.private_key = Some(KeyPem(bundle.private_key_pem.clone()));
                s.csr = Some(bundle.csr_pem.clone());
                match &signed {
                    Some(issued) => s.install_signed(
                        f,
                        issued.certificate_pem.clone(),
                        issued.ca_chain.clone(),
                        now,
                    ),
                    None => {
                        s.certificate = None;
                        s.parents.clear();
                        f.insert("status".into(), SIGNED_CERTIFICATE_REQUIRED.into());
                        f.remove("expiration_date");
                        Ok(())
                    }
                }
            })
            .await?;
        let name = record.name.clone();
        let view = self.ca_view_with(record, Some(&state))?;
        let mut config = view.fields;
        if let Some(s) = view.secret_fields {
            config.extend(s);
        }
        let mut m = Map::new();
        m.insert("name".into(), name.into());
        m.insert("config".into(), Value::Object(config));
        Ok(m)
    }
}

/// Generates a root CA: validity `ttl` (default `max_ttl`), status `configured`, a first CRL.
async fn new_root(fields: &mut Map<String, Value>, now: OffsetDateTime) -> ServiceResult<CaState> {
    require(
        fields,
        &[
            ("common_name", "common_name"),
            ("max_ttl_seconds", "max_ttl"),
        ],
    )?;
    let max_ttl = seconds(fields, "max_ttl_seconds").unwrap_or_default();
    let ttl = seconds(fields, "ttl_seconds").unwrap_or(max_ttl);
    if ttl > max_ttl {
        return Err(ServiceError::InvalidInput(
            "ttl must not be longer than max_ttl".into(),
        ));
    }
    fields.insert("ttl_seconds".into(), ttl.into());
    let params = ca_params(fields, Duration::from_secs(ttl))?;
    let issued = blocking(move || arca_pki::generate_root(&params, now)).await?;
    let mut state = CaState {
        private_key: Some(KeyPem(issued.private_key_pem)),
        ..CaState::default()
    };
    state.install_signed(fields, issued.certificate_pem, Vec::new(), now)?;
    Ok(state)
}

/// Generates an intermediate CA's key and CSR: `signing_required` (internal) or
/// `signed_certificate_required` (external).
async fn new_intermediate(
    fields: &mut Map<String, Value>,
    existing: &[SecretsConfigRecord],
) -> ServiceResult<CaState> {
    require(
        fields,
        &[
            ("common_name", "common_name"),
            ("max_ttl_seconds", "max_ttl"),
            ("signing_method", "signing_method"),
        ],
    )?;
    let status = if text(fields, "signing_method") == Some("internal") {
        let issuer = text(fields, "issuer").ok_or_else(|| {
            ServiceError::InvalidInput("issuer is required when signing_method is internal".into())
        })?;
        if !existing.iter().any(|c| {
            c.name == issuer && (c.config_type == ROOT_CA || c.config_type == INTERMEDIATE_CA)
        }) {
            return Err(ServiceError::InvalidInput(format!(
                "issuer {issuer} is not a root or intermediate CA configuration of this instance"
            )));
        }
        SIGNING_REQUIRED
    } else {
        if fields.contains_key("issuer") {
            return Err(ServiceError::InvalidInput(
                "issuer applies to internally signed intermediates only".into(),
            ));
        }
        SIGNED_CERTIFICATE_REQUIRED
    };
    let params = ca_params(fields, Duration::ZERO)?;
    let bundle = blocking(move || arca_pki::intermediate_csr(&params)).await?;
    fields.insert("status".into(), status.into());
    Ok(CaState {
        private_key: Some(KeyPem(bundle.private_key_pem)),
        csr: Some(bundle.csr_pem),
        ..CaState::default()
    })
}

/// Checks a template: its CA exists, and its policy is valid under the CA's `max_ttl`.
fn check_template(
    fields: &Map<String, Value>,
    existing: &[SecretsConfigRecord],
) -> ServiceResult<()> {
    let ca = text(fields, "certificate_authority")
        .ok_or_else(|| ServiceError::InvalidInput("certificate_authority is required".into()))?;
    let ca_record = existing
        .iter()
        .find(|c| c.name == ca && (c.config_type == ROOT_CA || c.config_type == INTERMEDIATE_CA))
        .ok_or_else(|| {
            ServiceError::InvalidInput(format!(
                "certificate_authority {ca} is not a root or intermediate CA configuration of \
                 this instance"
            ))
        })?;
    let ca_fields: Map<String, Value> = from_doc(&ca_record.metadata)?;
    template_of(fields, seconds(&ca_fields, "max_ttl_seconds"))?
        .validate()
        .map_err(pki_error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn proto(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn root_fields_are_normalized_with_defaults() {
        let f = fields_from(
            ROOT_CA,
            &proto(json!({
                "common_name": "localhost", "max_ttl": "43830h", "ttl": 3600,
                "alt_names": "a.example, b.example", "ip_sans": ["127.0.0.1", "::1"],
                "key_type": "ec",
            })),
        )
        .unwrap();
        assert_eq!(f["max_ttl_seconds"], 43_830 * 3600);
        assert_eq!(f["ttl_seconds"], 3600);
        assert_eq!(f["crl_expiry_seconds"], DEFAULT_CRL_EXPIRY);
        assert_eq!(f["alt_names"], json!(["a.example", "b.example"]));
        assert_eq!(f["ip_sans"], "127.0.0.1,::1");
        assert_eq!(f["key_bits"], 256);
        assert_eq!(f["private_key_format"], "der");
        assert_eq!(f["max_path_length"], -1);
        assert!(f.get("max_ttl").is_none());
    }

    #[test]
    fn bad_and_unknown_fields_are_refused() {
        for (v, needle) in [
            (json!({"max_ttl": "ten years"}), "max_ttl"),
            (json!({"key_type": "dsa"}), "key_type"),
            (json!({"crl_disable": "yes"}), "crl_disable"),
            (json!({"other_sans": ["1.2.3;UTF8:x"]}), "not supported"),
            (json!({"signing_method": "internal"}), "not a field"),
            (json!({"colour": "blue"}), "not a field"),
        ] {
            let err = fields_from(ROOT_CA, &proto(v)).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        assert!(fields_from(INTERMEDIATE_CA, &proto(json!({"ttl": "1h"}))).is_err());
        assert!(
            fields_from(
                INTERMEDIATE_CA,
                &proto(json!({"signing_method": "internal"}))
            )
            .is_ok()
        );
    }

    #[test]
    fn template_defaults_allow_localhost_and_cap_at_the_ca() {
        let f = fields_from(
            TEMPLATE,
            &proto(json!({"certificate_authority": "inter-CA"})),
        )
        .unwrap();
        assert_eq!(f["allow_localhost"], true);
        assert_eq!(f["key_bits"], 2048);
        let t = template_of(&f, Some(3600)).unwrap();
        t.validate().unwrap();
        assert!(t.check_name("localhost").is_ok());
        assert!(t.check_name("example.com").is_err());
        assert_eq!(t.max_ttl, Some(Duration::from_secs(3600)));
        let f = fields_from(
            TEMPLATE,
            &proto(json!({
                "certificate_authority": "x", "allowed_domains": ["example.com"],
                "allow_subdomains": true, "ttl": "2h", "key_type": "ec",
            })),
        )
        .unwrap();
        let t = template_of(&f, Some(3600)).unwrap();
        assert!(t.check_name("a.example.com").is_ok());
        assert!(t.validate().is_err(), "ttl over the CA's max_ttl");
        assert_eq!(t.key_bits, 256);
    }

    #[test]
    fn pem_bundles_split() {
        let one = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        let text = format!("junk\n{one}\n{one}\n");
        assert_eq!(split_certificates(&text).len(), 2);
        assert!(split_certificates("nothing").is_empty());
    }

    #[test]
    fn state_round_trips_and_hides_the_key() {
        let state = CaState {
            private_key: Some(KeyPem(Zeroizing::new("KEY-MATERIAL".into()))),
            revoked: vec![RevokedCert {
                serial_number: "01:02".into(),
                revoked_at: 5,
            }],
            crl_number: 3,
            ..CaState::default()
        };
        assert!(!format!("{state:?}").contains("KEY-MATERIAL"));
        let bytes = serde_json::to_vec(&state).unwrap();
        let back: CaState = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.private_key.unwrap().0.as_str(), "KEY-MATERIAL");
        assert_eq!(back.revoked, state.revoked);
        assert_eq!(back.crl_number, 3);
        assert!(CaState::default().is_empty());
    }

    #[test]
    fn statuses_expire_and_listings_filter() {
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let mut f = Map::new();
        f.insert("status".into(), CONFIGURED.into());
        f.insert("expiration_date".into(), "2000-01-01T00:00:00Z".into());
        assert_eq!(status_at(&f, now), Some(EXPIRED));
        assert!(check_can_sign("x", &f, now).is_err());
        f.insert("expiration_date".into(), "2999-01-01T00:00:00Z".into());
        assert!(check_can_sign("x", &f, now).is_ok());
        assert!(listed(INTERMEDIATE_CA, "issuer"));
        assert!(!listed(ROOT_CA, "issuer"));
        assert!(!listed(ROOT_CA, "max_ttl_seconds"));
        assert!(listed(TEMPLATE, "certificate_authority"));
    }

    #[test]
    fn overrides_default_to_the_intermediate_and_cap_at_max_ttl() {
        let base = proto(json!({"common_name": "inter", "organization": ["Org"]}));
        let signer = proto(json!({"max_ttl_seconds": 100}));
        let o = sign_overrides(Some(&base), &proto(json!({"ttl_seconds": 500})), &signer).unwrap();
        assert_eq!(o.common_name.as_deref(), Some("inter"));
        assert_eq!(o.organization, vec!["Org".to_owned()]);
        assert_eq!(o.ttl, Some(Duration::from_secs(100)));
        let (target, given) = sign_fields(
            &proto(json!({"intermediate_certificate_authority": "i", "ttl": "1h"})),
            "intermediate_certificate_authority",
        )
        .unwrap();
        assert_eq!(target, "i");
        assert_eq!(given["ttl_seconds"], 3600);
        assert!(sign_fields(&proto(json!({"ttl": "1h"})), "csr").is_err());
    }
}
