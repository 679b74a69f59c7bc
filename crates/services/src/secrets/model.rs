//! The secrets service's vocabulary: secret types, states, the stored metadata documents and the
//! validation rules of names, labels and metadata (the limits of IBM's CLI reference).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ServiceError, ServiceResult};

/// The secret types Arca stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretType {
    /// Any text.
    Arbitrary,
    /// A JSON object.
    Kv,
    /// A username and a password (generated when not given).
    UsernamePassword,
    /// A certificate imported with its chain and private key.
    ImportedCert,
    /// A certificate issued by the instance's private CA.
    PrivateCert,
}

/// Types of IBM's service that need IBM Cloud behind them (IAM, ACME CAs and DNS providers,
/// Resource Controller, Code Engine): named so the refusal can say so.
const UNSUPPORTED_TYPES: [&str; 4] = [
    "public_cert",
    "iam_credentials",
    "service_credentials",
    "custom_credentials",
];

impl SecretType {
    /// All supported types.
    pub const ALL: [Self; 5] = [
        Self::Arbitrary,
        Self::Kv,
        Self::UsernamePassword,
        Self::ImportedCert,
        Self::PrivateCert,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arbitrary => "arbitrary",
            Self::Kv => "kv",
            Self::UsernamePassword => "username_password",
            Self::ImportedCert => "imported_cert",
            Self::PrivateCert => "private_cert",
        }
    }

    /// Parses a wire name; other types are refused with a message naming the supported ones.
    pub fn parse(s: &str) -> ServiceResult<Self> {
        if let Some(t) = Self::ALL.into_iter().find(|t| t.as_str() == s) {
            return Ok(t);
        }
        let supported = Self::ALL.map(Self::as_str).join(", ");
        if UNSUPPORTED_TYPES.contains(&s) {
            Err(ServiceError::InvalidInput(format!(
                "secret type {s} is not supported by this server (it needs IBM Cloud services); \
                 supported types: {supported}"
            )))
        } else {
            Err(ServiceError::InvalidInput(format!(
                "unknown secret type; supported types: {supported}"
            )))
        }
    }

    /// Whether a secret of this type may carry an `expiration_date` set by the caller.
    pub fn takes_expiration(self) -> bool {
        matches!(self, Self::Arbitrary | Self::UsernamePassword)
    }

    /// Whether this type rotates on a schedule.
    pub fn rotates(self) -> bool {
        matches!(self, Self::UsernamePassword | Self::PrivateCert)
    }
}

/// NIST SP 800-57 states, as Secrets Manager numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretState {
    /// Not yet usable.
    PreActivation,
    /// Usable.
    Active,
    /// Temporarily unusable.
    Suspended,
    /// No longer usable.
    Deactivated,
    /// Data destroyed; metadata kept.
    Destroyed,
}

impl SecretState {
    /// The number on the wire and in the store.
    pub fn number(self) -> i64 {
        match self {
            Self::PreActivation => 0,
            Self::Active => 1,
            Self::Suspended => 2,
            Self::Deactivated => 3,
            Self::Destroyed => 5,
        }
    }

    /// From the stored number (unknown numbers read as deactivated, the safe side).
    pub fn from_number(n: i64) -> Self {
        match n {
            0 => Self::PreActivation,
            1 => Self::Active,
            2 => Self::Suspended,
            5 => Self::Destroyed,
            _ => Self::Deactivated,
        }
    }

    /// `state_description` on the wire.
    pub fn description(self) -> &'static str {
        match self {
            Self::PreActivation => "pre_activation",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deactivated => "deactivated",
            Self::Destroyed => "destroyed",
        }
    }
}

/// A rotation policy (`CommonRotationPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationPolicy {
    /// Whether the secret rotates by itself.
    pub auto_rotate: bool,
    /// Every `interval` `unit`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// `day`, `month` or `hour`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl RotationPolicy {
    /// Checks the policy: with `auto_rotate`, an interval of 1 day to 24 months.
    pub fn validate(&self) -> ServiceResult<()> {
        if !self.auto_rotate {
            return Ok(());
        }
        let (Some(interval), Some(unit)) = (self.interval, self.unit.as_deref()) else {
            return Err(invalid(
                "rotation: interval and unit are required when auto_rotate is true",
            ));
        };
        let ok = match unit {
            "day" => (1..=730).contains(&interval),
            "month" => (1..=24).contains(&interval),
            "hour" => (24..=17_520).contains(&interval),
            _ => return Err(invalid("rotation: unit must be day, month or hour")),
        };
        if ok {
            Ok(())
        } else {
            Err(invalid("rotation: the interval must be 1 day to 24 months"))
        }
    }

    /// The rotation period, when automatic.
    pub fn period(&self) -> Option<time::Duration> {
        if !self.auto_rotate {
            return None;
        }
        let n = self.interval?;
        match self.unit.as_deref()? {
            "hour" => Some(time::Duration::hours(n)),
            "day" => Some(time::Duration::days(n)),
            // Months as 30 days: the schedule is a policy, not a calendar.
            "month" => Some(time::Duration::days(30 * n)),
            _ => None,
        }
    }

    /// The policy of a secret that does not rotate by itself.
    pub fn manual() -> Self {
        Self {
            auto_rotate: false,
            interval: None,
            unit: None,
        }
    }
}

/// How passwords are generated (`password_generation_policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Length, 12 to 256 (default 32).
    #[serde(default = "default_password_length")]
    pub length: i64,
    /// Include digits (default true).
    #[serde(default = "yes")]
    pub include_digits: bool,
    /// Include symbols (default true).
    #[serde(default = "yes")]
    pub include_symbols: bool,
    /// Include uppercase letters (default true).
    #[serde(default = "yes")]
    pub include_uppercase: bool,
}

fn default_password_length() -> i64 {
    32
}

fn yes() -> bool {
    true
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            length: default_password_length(),
            include_digits: true,
            include_symbols: true,
            include_uppercase: true,
        }
    }
}

impl PasswordPolicy {
    /// Checks the length.
    pub fn validate(&self) -> ServiceResult<()> {
        if (12..=256).contains(&self.length) {
            Ok(())
        } else {
            Err(invalid(
                "password_generation_policy.length must be 12 to 256",
            ))
        }
    }
}

/// Certificate facts shown in metadata (imported and private certificates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateMeta {
    /// Subject common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Subject alternative names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_names: Vec<String>,
    /// Issuer distinguished name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Serial number, hex bytes joined by `:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Validity (RFC 3339 `not_before`, `not_after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Validity>,
    /// Key algorithm (`RSA2048`, `ECDSA256`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<String>,
    /// Signature algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_algorithm: Option<String>,
    /// An intermediate chain was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediate_included: Option<bool>,
    /// A private key was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_included: Option<bool>,
    /// Private certificates: the template that issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_template: Option<String>,
    /// Private certificates: the issuing CA configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<String>,
    /// Private certificates: revocation time (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_time_seconds: Option<i64>,
}

/// A certificate's validity period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    /// Start (RFC 3339).
    pub not_before: String,
    /// End (RFC 3339).
    pub not_after: String,
}

/// The stored metadata document of a secret (non-secret fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretMeta {
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Caller's metadata.
    #[serde(default)]
    pub custom_metadata: Map<String, Value>,
    /// Rotation policy (rotating types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationPolicy>,
    /// Password generation (username_password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_generation_policy: Option<PasswordPolicy>,
    /// Private certificates: the request, kept for rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_request: Option<Value>,
    /// Certificate facts of the current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateMeta>,
}

/// The stored metadata document of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// Caller's version metadata.
    #[serde(default)]
    pub version_custom_metadata: Map<String, Value>,
    /// Certificate facts of this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateMeta>,
}

pub(crate) fn invalid(msg: &str) -> ServiceError {
    ServiceError::InvalidInput(msg.to_owned())
}

/// Secrets Manager's name rule: letters, digits, `_`, `-`, `.`; starting with a letter, digit or
/// `_`, ending with a letter or digit.
pub(crate) fn check_name(what: &str, name: &str, min: usize, max: usize) -> ServiceResult<()> {
    let len = name.chars().count();
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let last_ok = name
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if (min..=max).contains(&len) && chars_ok && first_ok && last_ok {
        Ok(())
    } else {
        Err(ServiceError::InvalidInput(format!(
            "{what} must be {min} to {max} characters: letters, digits, '_', '-', '.', starting \
             with a letter, digit or '_' and ending with a letter or digit"
        )))
    }
}

/// Description: at most 1024 characters.
pub(crate) fn check_description(d: &str) -> ServiceResult<()> {
    if d.chars().count() <= 1024 {
        Ok(())
    } else {
        Err(invalid("description must be at most 1024 characters"))
    }
}

/// Labels: at most 30, each 2 to 64 characters.
pub(crate) fn check_labels(labels: &[String]) -> ServiceResult<()> {
    if labels.len() > 30 {
        return Err(invalid("at most 30 labels"));
    }
    if labels
        .iter()
        .any(|l| !(2..=64).contains(&l.chars().count()) || l.chars().any(char::is_control))
    {
        return Err(invalid("each label must be 2 to 64 printable characters"));
    }
    Ok(())
}

/// Custom metadata: at most 10 KB of JSON.
pub(crate) fn check_custom_metadata(what: &str, m: &Map<String, Value>) -> ServiceResult<()> {
    let size = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX);
    if size <= 10 * 1024 {
        Ok(())
    } else {
        Err(ServiceError::InvalidInput(format!(
            "{what} must be at most 10 KB"
        )))
    }
}

/// Serializes a stored document.
pub(crate) fn to_doc<T: Serialize>(doc: &T) -> ServiceResult<String> {
    serde_json::to_string(doc).map_err(|e| ServiceError::Internal(Box::new(e)))
}

/// Reads a stored document.
pub(crate) fn from_doc<T: for<'de> Deserialize<'de>>(doc: &str) -> ServiceResult<T> {
    serde_json::from_str(doc).map_err(|e| ServiceError::Internal(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for ok in [
            "ab",
            "my-secret-group",
            "a.b_c-d9",
            "_x1",
            "example-arbitrary-secret",
        ] {
            assert!(check_name("name", ok, 2, 64).is_ok(), "{ok}");
        }
        for bad in ["a", "-ab", "ab-", "a b", "a/b", "é1", ""] {
            assert!(check_name("name", bad, 2, 64).is_err(), "{bad}");
        }
        assert!(check_name("name", &"a".repeat(65), 2, 64).is_err());
    }

    #[test]
    fn types_parse_and_unsupported_ones_are_named() {
        assert_eq!(SecretType::parse("kv").unwrap(), SecretType::Kv);
        let err = SecretType::parse("public_cert").unwrap_err().to_string();
        assert!(
            err.contains("not supported") && err.contains("arbitrary"),
            "{err}"
        );
        assert!(SecretType::parse("nope").is_err());
    }

    #[test]
    fn rotation_bounds() {
        let p = |i, u: &str| RotationPolicy {
            auto_rotate: true,
            interval: Some(i),
            unit: Some(u.into()),
        };
        assert!(p(1, "day").validate().is_ok());
        assert!(p(24, "month").validate().is_ok());
        assert!(p(25, "month").validate().is_err());
        assert!(p(0, "day").validate().is_err());
        assert!(p(1, "week").validate().is_err());
        assert!(RotationPolicy::manual().validate().is_ok());
        assert_eq!(p(2, "day").period(), Some(time::Duration::days(2)));
    }

    #[test]
    fn states_round_trip() {
        for s in [
            SecretState::PreActivation,
            SecretState::Active,
            SecretState::Suspended,
            SecretState::Deactivated,
            SecretState::Destroyed,
        ] {
            assert_eq!(SecretState::from_number(s.number()), s);
        }
    }
}
