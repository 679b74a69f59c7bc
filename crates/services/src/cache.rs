//! The in-memory caches of the hot paths (instances, keys, aliases, roles, API keys, policies),
//! kept coherent with changes made by this node and by the other nodes of a cluster.
//!
//! A lookup that misses reads the store and then caches what it read. If a change is committed
//! and its entry dropped while that read is in flight, caching the read would bring the old
//! value back for good. So every drop moves a generation counter on, and a lookup caches its
//! result only if the generation is still the one it saw before reading
//! ([`CoherentMap::generation`], [`CoherentMap::insert_if_current`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// A map cache whose drops win over lookups that started before them.
#[derive(Debug)]
pub(crate) struct CoherentMap<K, V> {
    inner: RwLock<Inner<K, V>>,
}

#[derive(Debug)]
struct Inner<K, V> {
    entries: HashMap<K, V>,
    generation: u64,
}

impl<K, V> Default for CoherentMap<K, V> {
    fn default() -> Self {
        Self {
            inner: RwLock::new(Inner {
                entries: HashMap::new(),
                generation: 0,
            }),
        }
    }
}

/// The generation reported when the lock is poisoned: never current, so nothing is cached.
const POISONED: u64 = u64::MAX;

impl<K: Eq + Hash, V: Clone> CoherentMap<K, V> {
    /// The cached value.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.inner.read().ok()?.entries.get(key).cloned()
    }

    /// The generation to pass to [`CoherentMap::insert_if_current`], taken before reading
    /// the store.
    pub(crate) fn generation(&self) -> u64 {
        self.inner.read().map_or(POISONED, |i| i.generation)
    }

    /// Caches a value read from the store, unless something was dropped since `generation`.
    pub(crate) fn insert_if_current(&self, generation: u64, key: K, value: V) {
        if let Ok(mut i) = self.inner.write()
            && i.generation == generation
            && generation != POISONED
        {
            i.entries.insert(key, value);
        }
    }

    /// Caches the value this node has just committed.
    pub(crate) fn insert(&self, key: K, value: V) {
        if let Ok(mut i) = self.inner.write() {
            i.entries.insert(key, value);
        }
    }

    /// Drops one entry.
    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if let Ok(mut i) = self.inner.write() {
            i.entries.remove(key);
            i.generation = i.generation.wrapping_add(1);
        }
    }

    /// Drops the entries `keep` returns false for.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        if let Ok(mut i) = self.inner.write() {
            i.entries.retain(|k, v| keep(k, v));
            i.generation = i.generation.wrapping_add(1);
        }
    }

    /// Drops everything.
    pub(crate) fn clear(&self) {
        if let Ok(mut i) = self.inner.write() {
            i.entries.clear();
            i.generation = i.generation.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_during_a_lookup_keeps_the_stale_read_out() {
        let m: CoherentMap<String, u32> = CoherentMap::default();
        let before = m.generation();
        // ... the lookup reads the store; meanwhile a change drops the entry ...
        m.remove("k");
        m.insert_if_current(before, "k".into(), 1);
        assert_eq!(m.get("k"), None);
        let now = m.generation();
        m.insert_if_current(now, "k".into(), 2);
        assert_eq!(m.get("k"), Some(2));
    }

    #[test]
    fn retain_and_clear_drop_and_move_on() {
        let m: CoherentMap<u32, &str> = CoherentMap::default();
        m.insert(1, "a");
        m.insert(2, "b");
        let g = m.generation();
        m.retain(|_, v| *v != "a");
        assert_eq!((m.get(&1), m.get(&2)), (None, Some("b")));
        assert_ne!(m.generation(), g);
        m.clear();
        assert_eq!(m.get(&2), None);
    }
}
