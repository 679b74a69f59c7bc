//! Locks on secret versions. A locked version's data cannot be deleted or rotated away (412).
//! Secret-level creation locks the `current` version; deletion at secret level removes locks from
//! every version. `locks_total` on the secret counts them.

use std::collections::BTreeSet;

use arca_store::secrets::{SecretChange, SecretLockRecord, SecretRecord, SecretVersionRecord};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::SecretsService;
use super::model::{check_description, to_doc};
use super::versions::alias_at;
use crate::access::Permission;
use crate::auth::Principal;
use crate::clock::to_millis;
use crate::{ServiceError, ServiceResult, ids};

/// At most this many locks per secret.
const MAX_LOCKS: usize = 1000;

/// A lock to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLock {
    /// Name, unique per version.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Attributes (a JSON object).
    pub attributes: Option<Map<String, Value>>,
}

/// What else a lock creation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Only add the locks.
    Add,
    /// Also remove locks of the same names from the previous version.
    RemovePrevious,
    /// Also destroy the previous version's data once it has no locks left.
    RemovePreviousAndDelete,
}

impl LockMode {
    /// Parses the `mode` query parameter (absent: [`LockMode::Add`]).
    pub fn parse(mode: Option<&str>) -> ServiceResult<Self> {
        match mode {
            None | Some("") => Ok(Self::Add),
            Some("remove_previous") => Ok(Self::RemovePrevious),
            Some("remove_previous_and_delete") => Ok(Self::RemovePreviousAndDelete),
            Some(_) => Err(ServiceError::InvalidInput(
                "mode must be remove_previous or remove_previous_and_delete".into(),
            )),
        }
    }
}

/// A lock as listed.
#[derive(Debug, Clone)]
pub struct LockView {
    /// The stored lock.
    pub record: SecretLockRecord,
    /// The secret's group.
    pub secret_group_id: String,
    /// `current` or `previous` (locks live only on versions with data).
    pub secret_version_alias: Option<&'static str>,
}

/// A version's locks, in a [`SecretLocksView`].
#[derive(Debug, Clone)]
pub struct VersionLocks {
    /// Version id.
    pub version_id: String,
    /// `current` or `previous`.
    pub version_alias: Option<&'static str>,
    /// Lock names.
    pub locks: Vec<String>,
    /// Whether the version still has data.
    pub payload_available: bool,
}

/// The locks of a secret, per version (current first).
#[derive(Debug, Clone)]
pub struct SecretLocksView {
    /// Secret id.
    pub secret_id: String,
    /// Its group.
    pub secret_group_id: String,
    /// Its type.
    pub secret_type: String,
    /// Its name.
    pub secret_name: String,
    /// Versions with locks (and, after a bulk change, the versions it touched).
    pub versions: Vec<VersionLocks>,
}

fn check_lock(l: &NewLock) -> ServiceResult<()> {
    let mut chars = l.name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let len = l.name.chars().count();
    if !(first_ok && rest_ok && (2..=64).contains(&len)) {
        return Err(ServiceError::InvalidInput(
            "lock names must be 2 to 64 characters: letters, digits, '-', '_', '.', starting \
             with a letter"
                .into(),
        ));
    }
    check_description(l.description.as_deref().unwrap_or_default())?;
    if let Some(a) = &l.attributes {
        super::model::check_custom_metadata("attributes", a)?;
    }
    Ok(())
}

fn locks_view(
    record: &SecretRecord,
    versions: &[SecretVersionRecord],
    locks: &[SecretLockRecord],
    always: &[String],
) -> SecretLocksView {
    let versions = versions
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let names: Vec<String> = locks
                .iter()
                .filter(|l| l.version_id == v.id)
                .map(|l| l.name.clone())
                .collect();
            (!names.is_empty() || always.contains(&v.id)).then(|| VersionLocks {
                version_id: v.id.clone(),
                version_alias: alias_at(i),
                locks: names,
                payload_available: v.payload.is_some(),
            })
        })
        .collect();
    SecretLocksView {
        secret_id: record.id.clone(),
        secret_group_id: record.group_id.clone(),
        secret_type: record.secret_type.clone(),
        secret_name: record.name.clone(),
        versions,
    }
}

impl SecretsService {
    /// Every secret of the instance that has locks, with its locks per version.
    pub async fn list_instance_locks(
        &self,
        principal: &Principal,
        instance_id: &str,
    ) -> ServiceResult<Vec<SecretLocksView>> {
        self.authorize(principal, instance_id, Permission::Read)
            .await?;
        let locks = self.store.list_secret_locks(instance_id, None).await?;
        let secret_ids: BTreeSet<&str> = locks.iter().map(|l| l.secret_id.as_str()).collect();
        let mut out = Vec::with_capacity(secret_ids.len());
        for id in secret_ids {
            let Ok((record, versions)) = self.with_versions(instance_id, id).await else {
                continue; // deleted meanwhile
            };
            let mine: Vec<SecretLockRecord> = locks
                .iter()
                .filter(|l| l.secret_id == id)
                .cloned()
                .collect();
            out.push(locks_view(&record, &versions, &mine, &[]));
        }
        Ok(out)
    }

    /// The locks of a secret (`version_id` `None`) or of one of its versions.
    pub async fn list_locks(
        &self,
        principal: &Principal,
        instance_id: &str,
        secret_id: &str,
        version_id: Option<&str>,
    ) -> ServiceResult<Vec<LockView>> {
        self.authorize(principal, instance_id, Permission::Read)
            .await?;
        let (record, versions) = self.with_versions(instance_id, secret_id).await?;
        let only = match version_id {
            Some(v) => Some(versions[self.version_position(&versions, v)?].id.clone()),
            None => None,
        };
        let locks = self
            .store
            .list_secret_locks(instance_id, Some(secret_id))
            .await?;
        Ok(locks
            .into_iter()
            .filter(|l| only.as_ref().is_none_or(|v| &l.version_id == v))
            .map(|l| {
                let alias = versions
                    .iter()
                    .position(|v| v.id == l.version_id)
                    .and_then(alias_at);
                LockView {
                    record: l,
                    secret_group_id: record.group_id.clone(),
                    secret_version_alias: alias,
                }
            })
            .collect())
    }

    pub(crate) fn version_position(
        &self,
        versions: &[SecretVersionRecord],
        id: &str,
    ) -> ServiceResult<usize> {
        match id {
            "current" if !versions.is_empty() => Ok(0),
            "previous" if versions.len() > 1 => Ok(1),
            _ if ids::is_uuid(id) => versions
                .iter()
                .position(|v| v.id == id)
                .ok_or(ServiceError::NotFound("secret version")),
            _ => Err(ServiceError::NotFound("secret version")),
        }
    }

    /// Creates (or replaces, by name) locks on the current version (`version_id` `None`) or on
    /// the named version.
    pub async fn create_locks(
        &self,
        principal: &Principal,
        instance_id: &str,
        secret_id: &str,
        version_id: Option<&str>,
        new_locks: Vec<NewLock>,
        mode: LockMode,
    ) -> ServiceResult<SecretLocksView> {
        self.authorize(principal, instance_id, Permission::Modify)
            .await?;
        if new_locks.is_empty() || new_locks.len() > MAX_LOCKS {
            return Err(ServiceError::InvalidInput(format!(
                "send 1 to {MAX_LOCKS} locks"
            )));
        }
        for l in &new_locks {
            check_lock(l)?;
        }
        let new_locks = &new_locks;
        let _turn = self.write_turn(secret_id).await;
        self.retrying(|| async move {
            let (mut record, versions) = self.with_versions(instance_id, secret_id).await?;
            let at = self.version_position(&versions, version_id.unwrap_or("current"))?;
            let target = versions[at].clone();
            if target.payload.is_none() {
                return Err(ServiceError::InvalidState(
                    "only a version whose data is available can be locked".into(),
                ));
            }
            let existing = self
                .store
                .list_secret_locks(instance_id, Some(secret_id))
                .await?;
            let now = to_millis(self.now());
            let put: Vec<SecretLockRecord> = new_locks
                .iter()
                .map(|l| {
                    let created_at = existing
                        .iter()
                        .find(|e| e.version_id == target.id && e.name == l.name)
                        .map_or(now, |e| e.created_at);
                    Ok(SecretLockRecord {
                        instance_id: instance_id.to_owned(),
                        secret_id: secret_id.to_owned(),
                        version_id: target.id.clone(),
                        name: l.name.clone(),
                        description: l.description.clone().unwrap_or_default(),
                        attributes: to_doc(&l.attributes.clone().unwrap_or_default())?,
                        created_by: principal.id.clone(),
                        created_at,
                        updated_at: now,
                    })
                })
                .collect::<ServiceResult<_>>()?;
            // The version before the target: the one `mode` acts on.
            let older = versions.get(at + 1).filter(|v| v.payload.is_some());
            let mut remove = Vec::new();
            let mut destroyed = Vec::new();
            if mode != LockMode::Add
                && let Some(older) = older
            {
                let names: BTreeSet<&str> = new_locks.iter().map(|l| l.name.as_str()).collect();
                remove = existing
                    .iter()
                    .filter(|e| e.version_id == older.id && names.contains(e.name.as_str()))
                    .map(|e| (e.version_id.clone(), e.name.clone()))
                    .collect();
                let left =
                    existing.iter().filter(|e| e.version_id == older.id).count() - remove.len();
                if mode == LockMode::RemovePreviousAndDelete && left == 0 {
                    let mut v = older.clone();
                    v.payload = None;
                    v.wrapped_dek = None;
                    destroyed.push(v);
                }
            }
            let mut after: Vec<SecretLockRecord> = existing
                .into_iter()
                .filter(|e| {
                    !remove
                        .iter()
                        .any(|(v, n)| &e.version_id == v && &e.name == n)
                        && !put
                            .iter()
                            .any(|p| p.version_id == e.version_id && p.name == e.name)
                })
                .collect();
            after.extend(put.iter().cloned());
            if after.len() > MAX_LOCKS {
                return Err(ServiceError::InvalidInput(format!(
                    "a secret has at most {MAX_LOCKS} locks"
                )));
            }
            record.locks_total = i64::try_from(after.len()).unwrap_or(i64::MAX);
            record.updated_at = now;
            record.revision += 1;
            let change = SecretChange {
                versions: &destroyed,
                put_locks: &put,
                remove_locks: &remove,
                ..Default::default()
            };
            self.store.update_secret(&record, change).await?;
            let mut versions = versions;
            for d in &destroyed {
                if let Some(v) = versions.iter_mut().find(|v| v.id == d.id) {
                    v.payload = None;
                }
            }
            Ok(locks_view(
                &record,
                &versions,
                &after,
                std::slice::from_ref(&target.id),
            ))
        })
        .await
    }

    /// Deletes locks by name (all when `names` is `None`) from every version (`version_id`
    /// `None`) or from the named version.
    pub async fn delete_locks(
        &self,
        principal: &Principal,
        instance_id: &str,
        secret_id: &str,
        version_id: Option<&str>,
        names: Option<Vec<String>>,
    ) -> ServiceResult<SecretLocksView> {
        self.authorize(principal, instance_id, Permission::Modify)
            .await?;
        let names = &names;
        let _turn = self.write_turn(secret_id).await;
        self.retrying(|| async move {
            let (mut record, versions) = self.with_versions(instance_id, secret_id).await?;
            let only = match version_id {
                Some(v) => Some(versions[self.version_position(&versions, v)?].id.clone()),
                None => None,
            };
            let existing = self
                .store
                .list_secret_locks(instance_id, Some(secret_id))
                .await?;
            let remove: Vec<(String, String)> = existing
                .iter()
                .filter(|e| only.as_ref().is_none_or(|v| &e.version_id == v))
                .filter(|e| names.as_ref().is_none_or(|n| n.contains(&e.name)))
                .map(|e| (e.version_id.clone(), e.name.clone()))
                .collect();
            let after: Vec<SecretLockRecord> = existing
                .into_iter()
                .filter(|e| {
                    !remove
                        .iter()
                        .any(|(v, n)| &e.version_id == v && &e.name == n)
                })
                .collect();
            if !remove.is_empty() {
                record.locks_total = i64::try_from(after.len()).unwrap_or(i64::MAX);
                record.updated_at = to_millis(self.now());
                record.revision += 1;
                let change = SecretChange {
                    remove_locks: &remove,
                    ..Default::default()
                };
                self.store.update_secret(&record, change).await?;
            }
            let touched: Vec<String> = match &only {
                Some(v) => vec![v.clone()],
                None => remove.iter().map(|(v, _)| v.clone()).collect(),
            };
            Ok(locks_view(&record, &versions, &after, &touched))
        })
        .await
    }
}
