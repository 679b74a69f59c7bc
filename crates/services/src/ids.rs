//! Identifiers and CRNs.

use arca_crypto::random::fill_random;

use crate::{ServiceError, ServiceResult};

/// A random UUID (v4), from the system CSPRNG.
pub fn uuid() -> ServiceResult<String> {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes).map_err(|e| ServiceError::Internal(Box::new(e)))?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string())
}

/// An account id: 32 lowercase hex characters, as IBM account ids are.
pub fn account_id() -> ServiceResult<String> {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes).map_err(|e| ServiceError::Internal(Box::new(e)))?;
    Ok(hex::encode(bytes))
}

/// The CRN of a service instance:
/// `crn:v1:arca:private:<service>:<region>:a/<account>:<instance>::`.
pub fn instance_crn(service: &str, region: &str, account_id: &str, instance_id: &str) -> String {
    format!("crn:v1:arca:private:{service}:{region}:a/{account_id}:{instance_id}::")
}

/// Whether `s` looks like a UUID (ids arrive from untrusted paths and headers).
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
}

/// The CRN of a key: `crn:v1:arca:private:kms:<region>:a/<account>:<instance>:key:<key>`.
pub fn key_crn(region: &str, account_id: &str, instance_id: &str, key_id: &str) -> String {
    format!("crn:v1:arca:private:kms:{region}:a/{account_id}:{instance_id}:key:{key_id}")
}
