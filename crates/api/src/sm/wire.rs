//! Secrets Manager v2 response bodies, as IBM's SDK models them. Built as JSON objects because
//! the bodies are polymorphic on `secret_type` and `config_type`.

use arca_services::clock::rfc3339;
use arca_services::secrets::{
    ConfigView, LockView, SecretData, SecretLocksView, SecretState, SecretView, VersionView,
};
use arca_store::secrets::{NotificationRegistrationRecord, SecretGroupRecord};
use serde_json::{Map, Value, json};

/// `retrieved_at` of a secret never read: the epoch, as Secrets Manager shows it.
const NEVER: &str = "1970-01-01T00:00:00Z";

fn put(m: &mut Map<String, Value>, k: &str, v: impl Into<Value>) {
    m.insert(k.to_owned(), v.into());
}

/// A secret group.
pub(crate) fn group(g: &SecretGroupRecord) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "created_by": g.created_by,
        "created_at": rfc3339(g.created_at),
        "updated_at": rfc3339(g.updated_at),
    })
}

/// A secret's metadata (`SecretMetadata`).
pub(crate) fn secret_metadata(s: &SecretView) -> Map<String, Value> {
    let r = &s.record;
    let state = SecretState::from_number(r.state);
    let mut m = Map::new();
    put(&mut m, "id", r.id.as_str());
    put(&mut m, "crn", s.crn.as_str());
    put(&mut m, "name", r.name.as_str());
    put(&mut m, "description", s.meta.description.as_str());
    put(&mut m, "secret_type", r.secret_type.as_str());
    put(&mut m, "secret_group_id", r.group_id.as_str());
    put(&mut m, "labels", s.meta.labels.clone());
    put(&mut m, "custom_metadata", s.meta.custom_metadata.clone());
    put(&mut m, "state", r.state);
    put(&mut m, "state_description", state.description());
    put(&mut m, "created_by", r.created_by.as_str());
    put(&mut m, "created_at", rfc3339(r.created_at));
    put(&mut m, "updated_at", rfc3339(r.updated_at));
    put(
        &mut m,
        "retrieved_at",
        r.retrieved_at.map_or_else(|| NEVER.to_owned(), rfc3339),
    );
    put(&mut m, "downloaded", r.downloaded);
    put(&mut m, "versions_total", r.versions_total);
    put(&mut m, "locks_total", r.locks_total);
    put(&mut m, "referenced_by", Vec::<String>::new());
    if let Some(e) = r.expiration_date {
        put(&mut m, "expiration_date", rfc3339(e));
    }
    if let Some(rotation) = &s.meta.rotation {
        put(
            &mut m,
            "rotation",
            serde_json::to_value(rotation).unwrap_or(Value::Null),
        );
    }
    if let Some(n) = r.next_rotation_date {
        put(&mut m, "next_rotation_date", rfc3339(n));
    }
    if let Some(p) = &s.meta.password_generation_policy {
        put(
            &mut m,
            "password_generation_policy",
            serde_json::to_value(p).unwrap_or(Value::Null),
        );
    }
    if let Some(Value::Object(cert)) = s
        .meta
        .certificate
        .as_ref()
        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
    {
        if let Some(t) = cert.get("revocation_time_seconds").and_then(Value::as_i64) {
            put(&mut m, "revocation_time_rfc3339", rfc3339(t * 1000));
        }
        m.extend(cert);
    }
    m
}

/// A secret with its data (`Secret`).
pub(crate) fn secret(s: &SecretView, data: &SecretData) -> Value {
    let mut m = secret_metadata(s);
    m.extend(data.0.clone());
    Value::Object(m)
}

/// A version's metadata (`SecretVersionMetadata`).
pub(crate) fn version_metadata(v: &VersionView) -> Map<String, Value> {
    let r = &v.record;
    let mut m = Map::new();
    put(&mut m, "id", r.id.as_str());
    put(&mut m, "secret_id", r.secret_id.as_str());
    put(&mut m, "secret_name", v.secret_name.as_str());
    put(&mut m, "secret_type", v.secret_type.as_str());
    put(&mut m, "secret_group_id", v.secret_group_id.as_str());
    put(&mut m, "created_by", r.created_by.as_str());
    put(&mut m, "created_at", rfc3339(r.created_at));
    put(&mut m, "downloaded", r.downloaded);
    put(&mut m, "auto_rotated", r.auto_rotated);
    put(&mut m, "payload_available", v.payload_available);
    put(
        &mut m,
        "version_custom_metadata",
        v.meta.version_custom_metadata.clone(),
    );
    if let Some(alias) = v.alias {
        put(&mut m, "alias", alias);
    }
    if let Some(e) = r.expiration_date {
        put(&mut m, "expiration_date", rfc3339(e));
    }
    if let Some(c) = &v.meta.certificate {
        if let Some(s) = &c.serial_number {
            put(&mut m, "serial_number", s.as_str());
        }
        if let Some(validity) = &c.validity {
            put(
                &mut m,
                "validity",
                json!({"not_before": validity.not_before, "not_after": validity.not_after}),
            );
        }
    }
    m
}

/// A version with its data (`SecretVersion`).
pub(crate) fn version(v: &VersionView, data: &SecretData) -> Value {
    let mut m = version_metadata(v);
    m.extend(data.0.clone());
    Value::Object(m)
}

/// A lock (`SecretLock`).
pub(crate) fn lock(l: &LockView) -> Value {
    let r = &l.record;
    let attributes: Value = serde_json::from_str(&r.attributes).unwrap_or_else(|_| json!({}));
    let mut m = Map::new();
    put(&mut m, "name", r.name.as_str());
    put(&mut m, "description", r.description.as_str());
    put(&mut m, "attributes", attributes);
    put(&mut m, "created_by", r.created_by.as_str());
    put(&mut m, "created_at", rfc3339(r.created_at));
    put(&mut m, "updated_at", rfc3339(r.updated_at));
    put(&mut m, "secret_id", r.secret_id.as_str());
    put(&mut m, "secret_group_id", l.secret_group_id.as_str());
    put(&mut m, "secret_version_id", r.version_id.as_str());
    if let Some(a) = l.secret_version_alias {
        put(&mut m, "secret_version_alias", a);
    }
    Value::Object(m)
}

/// A secret's locks per version (`SecretLocks`).
pub(crate) fn secret_locks(s: &SecretLocksView) -> Value {
    let versions: Vec<Value> = s
        .versions
        .iter()
        .map(|v| {
            let mut m = Map::new();
            put(&mut m, "version_id", v.version_id.as_str());
            if let Some(a) = v.version_alias {
                put(&mut m, "version_alias", a);
            }
            put(&mut m, "locks", v.locks.clone());
            put(&mut m, "payload_available", v.payload_available);
            Value::Object(m)
        })
        .collect();
    json!({
        "secret_id": s.secret_id,
        "secret_group_id": s.secret_group_id,
        "secret_type": s.secret_type,
        "secret_name": s.secret_name,
        "versions": versions,
    })
}

/// A configuration: metadata only (`with_secrets` false, listings) or in full.
pub(crate) fn config(c: &ConfigView) -> Value {
    let r = &c.record;
    let mut m = Map::new();
    put(&mut m, "config_type", r.config_type.as_str());
    put(&mut m, "name", r.name.as_str());
    put(&mut m, "secret_type", r.secret_type.as_str());
    put(&mut m, "created_by", r.created_by.as_str());
    put(&mut m, "created_at", rfc3339(r.created_at));
    put(&mut m, "updated_at", rfc3339(r.updated_at));
    m.extend(c.fields.clone());
    if let Some(s) = &c.secret_fields {
        m.extend(s.clone());
    }
    Value::Object(m)
}

/// The notifications registration.
pub(crate) fn notifications(r: &NotificationRegistrationRecord) -> Value {
    json!({ "event_notifications_instance_crn": r.instance_crn })
}
