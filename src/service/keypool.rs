//! The key pool: private keys made ahead, per key type, on a bounded number of background
//! threads, so a create does not wait for an RSA prime search. Each pooled key is made and
//! sealed exactly as [`KeyStore::prepare`] does inline (a fresh key id, sealed under the
//! master key with that id as associated data); drawing one removes it from the pool under
//! the pool's lock, so no key is ever handed out twice, and wakes a maker to replace it. A
//! type whose pool is empty (drained, or sized 0) is made inline by the caller.
//!
//! Pooled keys live only in memory: a restart makes a new pool, and an unused pooled key
//! is never stored. The pool must not make keys for anything but [`KeyPool::prepare`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::keystore::{KeyStore, PreparedKey};
use super::Result;
use crate::config::KeySettings;
use crate::domain::policy::{type_name, KeySpec, KEY_TYPES};

struct Slot {
    name: &'static str,
    spec: KeySpec,
    target: usize,
}

struct Levels {
    ready: Vec<VecDeque<PreparedKey>>,
    /// Keys a maker thread is working on, per slot (so makers never overfill a pool).
    making: Vec<usize>,
}

struct Inner {
    keys: Arc<KeyStore>,
    slots: Vec<Slot>,
    levels: Mutex<Levels>,
    /// Signalled when a key is drawn, and at shutdown.
    wanted: Condvar,
    /// Signalled when a key is added (for [`KeyPool::wait_full`]).
    added: Condvar,
    stop: AtomicBool,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Levels> {
        // A maker never panics while holding the lock; if one did, the levels are still
        // consistent (every change is a single push, pop or counter step).
        self.levels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next slot that needs a key, reserved for the caller; `None` at shutdown.
    fn next_job(&self) -> Option<usize> {
        let mut levels = self.lock();
        loop {
            if self.stop.load(Ordering::Acquire) {
                return None;
            }
            let job = self.slots.iter().enumerate().find_map(|(i, s)| {
                (levels.ready[i].len() + levels.making[i] < s.target).then_some(i)
            });
            if let Some(i) = job {
                levels.making[i] += 1;
                return Some(i);
            }
            levels = self.wanted.wait(levels).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn make(self: Arc<Self>) {
        while let Some(i) = self.next_job() {
            let made = self.keys.prepare(&self.slots[i].spec);
            let mut levels = self.lock();
            levels.making[i] -= 1;
            match made {
                Ok(key) => {
                    levels.ready[i].push_back(key);
                    self.added.notify_all();
                }
                Err(e) => {
                    drop(levels);
                    tracing::warn!(key_type = self.slots[i].name, error = %e, "making a pooled key failed");
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            }
        }
    }
}

/// Keys made ahead per type (`keys.pool`), refilled in the background.
pub struct KeyPool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPool")
    }
}

impl KeyPool {
    /// A pool sized by `settings` over `keys`, its maker threads started (none when every
    /// size is 0 or `keys.pool_threads` is 0).
    pub fn start(keys: Arc<KeyStore>, settings: &KeySettings) -> Self {
        let slots: Vec<Slot> = if settings.pool_threads == 0 {
            Vec::new()
        } else {
            KEY_TYPES
                .iter()
                .filter_map(|(name, spec)| {
                    let target = settings.pool.get(*name).copied().unwrap_or(0);
                    (target > 0).then_some(Slot {
                        name,
                        spec: *spec,
                        target,
                    })
                })
                .collect()
        };
        let inner = Arc::new(Inner {
            keys,
            levels: Mutex::new(Levels {
                ready: slots.iter().map(|_| VecDeque::new()).collect(),
                making: vec![0; slots.len()],
            }),
            slots,
            wanted: Condvar::new(),
            added: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        if !inner.slots.is_empty() {
            for n in 0..settings.pool_threads {
                let inner = inner.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("key-pool-{n}"))
                    .spawn(move || inner.make());
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "could not start a key pool thread");
                }
            }
        }
        KeyPool { inner }
    }

    /// A pool that holds nothing (every key is made inline).
    pub fn empty(keys: Arc<KeyStore>) -> Self {
        Self::start(keys, &KeySettings::default())
    }

    /// A pooled key of `spec`, removed from the pool, if one is ready.
    pub fn take(&self, spec: &KeySpec) -> Option<PreparedKey> {
        let i = self.inner.slots.iter().position(|s| s.spec == *spec)?;
        let key = self.inner.lock().ready[i].pop_front();
        if key.is_some() {
            self.inner.wanted.notify_one();
        }
        key
    }

    /// A sealed key of `spec`: drawn from the pool, else made now (slow for RSA: call from
    /// a blocking thread).
    pub fn prepare(&self, spec: &KeySpec) -> Result<PreparedKey> {
        let name = type_name(spec).unwrap_or("other");
        match self.take(spec) {
            Some(key) => {
                crate::metrics::key_drawn(name, "pool");
                Ok(key)
            }
            None => {
                crate::metrics::key_drawn(name, "inline");
                self.inner.keys.prepare(spec)
            }
        }
    }

    /// Keys of `spec` ready now, and the size the pool keeps.
    pub fn level(&self, spec: &KeySpec) -> (usize, usize) {
        match self.inner.slots.iter().position(|s| s.spec == *spec) {
            Some(i) => (self.inner.lock().ready[i].len(), self.inner.slots[i].target),
            None => (0, 0),
        }
    }

    /// Blocks until every pool is full (benchmarks and tests; returns at once when the
    /// pool has no maker thread or no size).
    pub fn wait_full(&self) {
        let mut levels = self.inner.lock();
        while !self.inner.stop.load(Ordering::Acquire)
            && self
                .inner
                .slots
                .iter()
                .enumerate()
                .any(|(i, s)| levels.ready[i].len() < s.target)
        {
            levels = self
                .inner
                .added
                .wait(levels)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for KeyPool {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        self.inner.wanted.notify_all();
        self.inner.added.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;
    use crate::domain::policy::Curve;

    fn pool(sizes: &[(&str, usize)], threads: usize) -> KeyPool {
        let settings = KeySettings {
            pool_threads: threads,
            pool: sizes
                .iter()
                .map(|(n, s)| (n.to_string(), *s))
                .collect::<BTreeMap<_, _>>(),
        };
        KeyPool::start(Arc::new(KeyStore::from_master([7; 32])), &settings)
    }

    const P256: KeySpec = KeySpec::Ec { curve: Curve::P256 };

    #[test]
    fn pooled_keys_are_distinct_sealed_and_never_served_twice() {
        let keys = KeyStore::from_master([7; 32]);
        let pool = pool(&[("ec-p256", 4)], 2);
        let mut ids = HashSet::new();
        let mut publics = HashSet::new();
        for _ in 0..3 {
            pool.wait_full();
            assert_eq!(pool.level(&P256), (4, 4));
            for _ in 0..4 {
                let k = pool.take(&P256).expect("a pooled key");
                // Sealed like any key: under the master key, with its id as associated data.
                let der = keys.unseal(&k.key_id, &k.sealed).expect("unseals");
                assert_eq!(
                    der,
                    crate::crypto::keys::private_key_to_der(&k.key).unwrap()
                );
                assert!(ids.insert(k.key_id.clone()), "key id served twice");
                assert!(publics.insert(k.public_der.clone()), "key served twice");
            }
        }
        assert_eq!(ids.len(), 12);
    }

    #[test]
    fn a_drawn_pool_refills_to_its_size() {
        let pool = pool(&[("rsa-2048", 1), ("ec-p384", 2)], 1);
        pool.wait_full();
        let rsa = KeySpec::Rsa { bits: 2048 };
        let first = pool.take(&rsa).expect("pooled");
        assert_eq!(pool.level(&rsa).0, 0);
        pool.wait_full();
        assert_eq!(pool.level(&rsa), (1, 1));
        let second = pool.take(&rsa).expect("refilled");
        assert_ne!(first.public_der, second.public_der);
    }

    #[test]
    fn a_pool_of_zero_makes_every_key_inline() {
        for p in [pool(&[("ec-p256", 0)], 1), pool(&[("ec-p256", 3)], 0)] {
            pool_of_zero(&p);
        }
    }

    fn pool_of_zero(p: &KeyPool) {
        p.wait_full();
        assert!(p.take(&P256).is_none());
        assert_eq!(p.level(&P256), (0, 0));
        let a = p.prepare(&P256).expect("inline");
        let b = p.prepare(&P256).expect("inline");
        assert_ne!(a.key_id, b.key_id);
        assert_ne!(a.public_der, b.public_der);
    }

    #[test]
    fn a_drained_pool_falls_back_to_inline_keys() {
        let p = pool(&[("ec-p256", 1)], 1);
        p.wait_full();
        let pooled = p.prepare(&P256).expect("pooled");
        // Whether the maker has refilled yet or not, the next key is a new one.
        let next = p.prepare(&P256).expect("pooled or inline");
        assert_ne!(pooled.public_der, next.public_der);
    }

    #[test]
    fn every_key_type_has_a_name() {
        for (name, spec) in KEY_TYPES {
            assert_eq!(type_name(spec), Some(*name));
        }
    }
}
