//! Instance policies of the key service: `allowedNetwork`, `dualAuthDelete`, `allowedIP`,
//! `keyCreateImportAccess`, `metrics`, `rotation`. Each is `{enabled, attributes?}`; attributes
//! are present exactly when enabled, and only those of the policy's own type.

use std::sync::Arc;

use arca_store::{InstancePolicyRecord, Store};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::access::{AccessService, Permission};
use crate::auth::Principal;
use crate::cache::CoherentMap;
use crate::clock::{Clock, from_millis, to_millis};
use crate::instances::InstanceService;
use crate::{ServiceError, ServiceResult, kms_access};

/// The policy types.
pub const POLICY_TYPES: [&str; 6] = [
    "allowedNetwork",
    "dualAuthDelete",
    "allowedIP",
    "keyCreateImportAccess",
    "metrics",
    "rotation",
];

/// One instance policy as callers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePolicy {
    /// Policy type.
    pub policy_type: String,
    /// Whether enabled.
    pub enabled: bool,
    /// Attributes (present when enabled and the type has any).
    pub attributes: Option<Map<String, Value>>,
    /// Creator.
    pub created_by: String,
    /// When created.
    pub creation_date: OffsetDateTime,
    /// Last updater.
    pub updated_by: String,
    /// When last updated.
    pub last_updated: OffsetDateTime,
}

/// A policy to set.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInput {
    /// Policy type.
    pub policy_type: String,
    /// Whether enabled.
    pub enabled: bool,
    /// Attributes.
    pub attributes: Option<Map<String, Value>>,
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::InvalidInput(msg.into())
}

/// A CIDR range (`10.0.0.0/8`) or a single address.
fn parse_range(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

fn is_cidr(s: &str) -> bool {
    parse_range(s).is_some()
}

/// Addresses of private networks: RFC 1918, loopback, link-local, IPv6 unique local.
fn is_private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(std::net::IpAddr::V4(v4)))
        }
    }
}

/// Checks one policy's attributes against its type.
fn validate(p: &PolicyInput) -> ServiceResult<()> {
    if !POLICY_TYPES.contains(&p.policy_type.as_str()) {
        return Err(invalid(format!("unknown policy_type {:?}", p.policy_type)));
    }
    let attrs = match (&p.attributes, p.enabled) {
        (Some(_), false) => {
            return Err(invalid(
                "attributes are allowed only when the policy is enabled",
            ));
        }
        (None, _) => {
            return match p.policy_type.as_str() {
                "allowedNetwork" | "allowedIP" | "rotation" if p.enabled => Err(invalid(format!(
                    "policy {} needs attributes when enabled",
                    p.policy_type
                ))),
                _ => Ok(()),
            };
        }
        (Some(a), true) => a,
    };
    let allowed: &[&str] = match p.policy_type.as_str() {
        "allowedNetwork" => &["allowed_network"],
        "allowedIP" => &["allowed_ip"],
        "rotation" => &["interval_month"],
        "keyCreateImportAccess" => &[
            "create_root_key",
            "create_standard_key",
            "import_root_key",
            "import_standard_key",
            "enforce_token",
        ],
        _ => &[],
    };
    if let Some(k) = attrs.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(format!(
            "attribute {k:?} is not valid for policy {}",
            p.policy_type
        )));
    }
    match p.policy_type.as_str() {
        "allowedNetwork" => match attrs.get("allowed_network").and_then(Value::as_str) {
            Some("public-and-private" | "private-only") => Ok(()),
            _ => Err(invalid(
                "allowed_network must be public-and-private or private-only",
            )),
        },
        "allowedIP" => match attrs.get("allowed_ip").and_then(Value::as_array) {
            Some(list)
                if !list.is_empty() && list.iter().all(|v| v.as_str().is_some_and(is_cidr)) =>
            {
                Ok(())
            }
            _ => Err(invalid(
                "allowed_ip must be a non-empty list of IPv4/IPv6 CIDR ranges",
            )),
        },
        "rotation" => match attrs.get("interval_month").and_then(Value::as_i64) {
            Some(1..=12) => Ok(()),
            _ => Err(invalid("interval_month must be 1 to 12")),
        },
        "keyCreateImportAccess" => {
            if attrs.values().all(Value::is_boolean) {
                Ok(())
            } else {
                Err(invalid("keyCreateImportAccess attributes are booleans"))
            }
        }
        _ => Ok(()),
    }
}

/// Instance policies.
#[derive(Debug, Clone)]
pub struct InstancePolicyService {
    /// Policies by instance, read on every Key Protect request (network policies).
    cache: Arc<CoherentMap<String, Arc<Vec<InstancePolicyRecord>>>>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    instances: InstanceService,
    access: AccessService,
}

impl InstancePolicyService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        instances: InstanceService,
        access: AccessService,
    ) -> Self {
        Self {
            cache: Arc::default(),
            store,
            clock,
            instances,
            access,
        }
    }

    /// Reads the policies into the cache: unconditionally after this node changed them
    /// (`generation` `None`), else only if nothing was dropped since `generation`.
    async fn reload(
        &self,
        instance_id: &str,
        generation: Option<u64>,
    ) -> ServiceResult<Arc<Vec<InstancePolicyRecord>>> {
        let policies = Arc::new(self.store.instance_policies(instance_id).await?);
        match generation {
            None => self.cache.insert(instance_id.to_owned(), policies.clone()),
            Some(g) => self
                .cache
                .insert_if_current(g, instance_id.to_owned(), policies.clone()),
        }
        Ok(policies)
    }

    /// Drops the cached policies of an instance (changed by another node).
    pub(crate) fn forget(&self, instance_id: &str) {
        self.cache.remove(instance_id);
    }

    /// Drops every cached policy.
    pub(crate) fn forget_all(&self) {
        self.cache.clear();
    }

    /// Whether a request from `addr` may reach the instance, by its `allowedIP` and
    /// `allowedNetwork` policies. Unknown instances pass (the request is refused later).
    pub async fn check_network(
        &self,
        instance_id: &str,
        addr: std::net::IpAddr,
    ) -> ServiceResult<()> {
        if !crate::ids::is_uuid(instance_id) {
            return Ok(());
        }
        let policies = match self.cache.get(instance_id) {
            Some(p) => p,
            None => {
                let generation = self.cache.generation();
                self.reload(instance_id, Some(generation)).await?
            }
        };
        let attrs = |kind: &str| {
            policies
                .iter()
                .find(|p| p.policy_type == kind && p.enabled)
                .and_then(|p| p.attributes.as_deref())
                .and_then(|a| serde_json::from_str::<Value>(a).ok())
        };
        // An IPv4 client seen through an IPv6 socket is matched as IPv4.
        let addr = match addr {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, std::net::IpAddr::V4),
            v4 => v4,
        };
        if let Some(a) = attrs("allowedIP") {
            let allowed = a
                .get("allowed_ip")
                .and_then(Value::as_array)
                .is_some_and(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .filter_map(parse_range)
                        .any(|net| net.contains(&addr))
                });
            if !allowed {
                return Err(ServiceError::Forbidden(
                    "the instance's allowedIP policy does not allow requests from this address",
                ));
            }
        }
        if let Some(a) = attrs("allowedNetwork")
            && a.get("allowed_network").and_then(Value::as_str) == Some("private-only")
            && !is_private(addr)
        {
            return Err(ServiceError::Forbidden(
                "the instance's allowedNetwork policy allows private networks only",
            ));
        }
        Ok(())
    }

    /// The instance's policies, optionally only one type.
    pub async fn get(
        &self,
        principal: &Principal,
        instance_id: &str,
        only: Option<&str>,
    ) -> ServiceResult<Vec<InstancePolicy>> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Permission::Read,
        )
        .await?;
        if let Some(t) = only
            && !POLICY_TYPES.contains(&t)
        {
            return Err(invalid(format!("unknown policy {t:?}")));
        }
        self.store
            .instance_policies(instance_id)
            .await?
            .into_iter()
            .filter(|r| only.is_none_or(|t| t == r.policy_type))
            .map(|r| {
                let attributes = match r.attributes {
                    Some(text) => Some(
                        serde_json::from_str::<Map<String, Value>>(&text)
                            .map_err(|e| ServiceError::Internal(Box::new(e)))?,
                    ),
                    None => None,
                };
                Ok(InstancePolicy {
                    policy_type: r.policy_type,
                    enabled: r.enabled,
                    attributes,
                    created_by: r.created_by,
                    creation_date: from_millis(r.creation_date),
                    updated_by: r.updated_by,
                    last_updated: from_millis(r.last_updated),
                })
            })
            .collect()
    }

    /// Sets policies. With `only`, exactly one item of that type is expected.
    pub async fn put(
        &self,
        principal: &Principal,
        instance_id: &str,
        only: Option<&str>,
        items: Vec<PolicyInput>,
    ) -> ServiceResult<()> {
        kms_access::authorize(
            &self.instances,
            &self.access,
            principal,
            instance_id,
            Permission::Manage,
        )
        .await?;
        if items.is_empty() {
            return Err(invalid("at least one policy is required"));
        }
        if let Some(t) = only
            && (items.len() != 1 || items[0].policy_type != t)
        {
            return Err(invalid(format!(
                "with policy={t}, the body must hold exactly one {t} policy"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &items {
            validate(p)?;
            if !seen.insert(p.policy_type.clone()) {
                return Err(invalid(format!("policy {} is given twice", p.policy_type)));
            }
        }
        let now = to_millis(self.clock.now());
        let records: Vec<InstancePolicyRecord> = items
            .into_iter()
            .map(|p| InstancePolicyRecord {
                instance_id: instance_id.to_owned(),
                policy_type: p.policy_type,
                enabled: p.enabled,
                attributes: p.attributes.map(|a| Value::Object(a).to_string()),
                created_by: principal.id.clone(),
                creation_date: now,
                updated_by: principal.id.clone(),
                last_updated: now,
            })
            .collect();
        self.store.put_instance_policies(&records).await?;
        self.reload(instance_id, None).await?;
        tracing::info!(instance_id, count = records.len(), "instance policies set");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(t: &str, enabled: bool, attrs: Option<Value>) -> PolicyInput {
        PolicyInput {
            policy_type: t.into(),
            enabled,
            attributes: attrs.and_then(|v| v.as_object().cloned()),
        }
    }

    #[test]
    fn private_networks() {
        for ip in [
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "127.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:db8::1", "172.32.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
        assert!(
            parse_range("10.0.0.0/8")
                .unwrap()
                .contains(&"10.9.9.9".parse::<std::net::IpAddr>().unwrap())
        );
        assert!(
            parse_range("127.0.0.1")
                .unwrap()
                .contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap())
        );
        assert!(parse_range("10.0.0.0/33").is_none());
    }

    #[test]
    fn validation_follows_the_policy_type() {
        let ok = [
            input(
                "allowedNetwork",
                true,
                Some(serde_json::json!({"allowed_network": "private-only"})),
            ),
            input("allowedNetwork", false, None),
            input(
                "allowedIP",
                true,
                Some(serde_json::json!({"allowed_ip": ["10.0.0.0/8", "::1/128"]})),
            ),
            input(
                "rotation",
                true,
                Some(serde_json::json!({"interval_month": 3})),
            ),
            input("dualAuthDelete", true, None),
            input("metrics", false, None),
            input(
                "keyCreateImportAccess",
                true,
                Some(serde_json::json!({"enforce_token": true})),
            ),
        ];
        for p in &ok {
            validate(p).unwrap();
        }
        let bad = [
            input("bogus", true, None),
            input("allowedNetwork", true, None),
            input(
                "allowedNetwork",
                false,
                Some(serde_json::json!({"allowed_network": "private-only"})),
            ),
            input(
                "allowedNetwork",
                true,
                Some(serde_json::json!({"allowed_network": "anywhere"})),
            ),
            input(
                "allowedIP",
                true,
                Some(serde_json::json!({"allowed_ip": ["300.1.1.1/8"]})),
            ),
            input(
                "allowedIP",
                true,
                Some(serde_json::json!({"allowed_ip": []})),
            ),
            input(
                "rotation",
                true,
                Some(serde_json::json!({"interval_month": 13})),
            ),
            input(
                "rotation",
                true,
                Some(serde_json::json!({"allowed_network": "private-only"})),
            ),
            input("dualAuthDelete", true, Some(serde_json::json!({"x": 1}))),
            input(
                "keyCreateImportAccess",
                true,
                Some(serde_json::json!({"enforce_token": "yes"})),
            ),
        ];
        for p in &bad {
            assert!(validate(p).is_err(), "{p:?}");
        }
    }
}
