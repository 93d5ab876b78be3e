//! Reads served from memory between writes, for a database one process writes alone
//! (SQLite). Every batch the writer ends bumps a [`Generation`] before its callers are
//! answered; a cached value counts only while the generation it was read at is current.
//! So a read that follows an acknowledged write never sees what was there before it, and
//! no write has to know which cached values it touched.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The number of write batches ended so far. Cheap to clone; shared by the writer and the
/// caches.
#[derive(Clone, Default)]
pub struct Generation(Arc<AtomicU64>);

impl Generation {
    /// The generation now. Read it before reading the database for a value to cache.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Marks that a batch ended (committed or not): every cached value is stale.
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// Values by key, each good for the generation it was read at.
pub struct ReadCache<K, V> {
    generation: Generation,
    capacity: usize,
    entries: Mutex<HashMap<K, (u64, V)>>,
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    /// A cache invalidated by `generation`, holding at most `capacity` values.
    pub fn new(generation: Generation, capacity: usize) -> Self {
        ReadCache {
            generation,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value cached for `key`, if it was read in the current generation.
    pub fn get(&self, key: &K) -> Option<V> {
        let now = self.generation.current();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some((read_at, v)) if *read_at == now => Some(v.clone()),
            _ => None,
        }
    }

    /// Caches `value`, read from the database after [`Generation::current`] returned
    /// `read_at`; a value read before a batch ended is not kept.
    pub fn fill(&self, key: K, read_at: u64, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.generation.current();
        if read_at != now {
            return;
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, (at, _)| *at == now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (read_at, value));
    }

    /// The generation to read at (see [`ReadCache::fill`]).
    pub fn generation(&self) -> u64 {
        self.generation.current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_counts_only_in_the_generation_it_was_read_at() {
        let generation = Generation::default();
        let cache = ReadCache::new(generation.clone(), 8);
        let at = cache.generation();
        cache.fill("a", at, 1);
        assert_eq!(cache.get(&"a"), Some(1));
        generation.bump();
        assert_eq!(cache.get(&"a"), None, "a batch ended since it was read");
    }

    #[test]
    fn a_value_read_before_a_batch_ended_is_not_kept() {
        let generation = Generation::default();
        let cache = ReadCache::new(generation.clone(), 8);
        let at = cache.generation();
        generation.bump();
        cache.fill("a", at, 1);
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = ReadCache::new(Generation::default(), 2);
        let at = cache.generation();
        for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
            cache.fill(k, at, v);
        }
        assert_eq!(cache.get(&"c"), Some(3));
        assert!(cache.entries.lock().unwrap().len() <= 2);
    }
}
