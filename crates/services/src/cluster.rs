//! Cache coherence across the nodes of a cluster: what each change announced by the store
//! (see `arca_store::cluster`) drops from this node's caches.
//!
//! Drops are by table and id, coarse where a finer mapping would need more than the id (every
//! cached authorization of a source instance, every alias of a key). Anything unknown, and every
//! [`FeedEvent::Resync`], drops everything: after a lost notification the only safe assumption
//! is that anything may have changed.

use arca_store::cluster::{Change, FeedEvent};

use crate::Arca;

impl Arca {
    /// Applies one event of the store's change feed to this node's caches.
    pub fn apply_cluster_event(&self, event: &FeedEvent) {
        match event {
            FeedEvent::Changed(change) => self.forget_changed(change),
            FeedEvent::Resync => self.forget_cached(),
        }
    }

    fn forget_changed(&self, Change { table, id }: &Change) {
        match table.as_str() {
            "instances" | "instance_reclamations" => {
                self.instances.forget(id);
                self.instance_policies.forget(id);
                self.secrets.forget_instance(id);
            }
            "kp_keys" | "kp_aliases" => self.keys.forget_key(id),
            "kp_instance_policies" => self.instance_policies.forget(id),
            "role_grants" => self.access.forget_principal(id),
            "service_authorizations" => self.access.forget_source(id),
            "principals" | "api_keys" => {
                self.auth.forget_principal(id);
                self.access.forget_principal(id);
            }
            "sm_instance_roots" => self.secrets.forget_instance(id),
            _ => self.forget_cached(),
        }
    }

    /// Drops everything cached from the store (not the master key or the token signing key,
    /// which do not change): instances, keys, aliases, wrapping keys, roles, authorizations,
    /// API keys, policies, secrets root keys and key-encryption keys.
    pub fn forget_cached(&self) {
        self.instances.forget_all();
        self.keys.forget_keys();
        self.access.forget_all();
        self.auth.forget_all();
        self.instance_policies.forget_all();
        self.secrets.forget_keys();
    }
}
