//! What refused requests may cost: the per-source rate limit on requests without a valid
//! token (429), and the coalescing of alike refusals (401, 403, 429) into one audit record
//! per window with a count. It keeps only counters in memory, bounded by `[limits]`; the
//! records themselves go through the audit service into the hash-chained events table.
//! It must not hold its lock across an await, nor decide who is authenticated.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

use super::audit::RequestInfo;
use super::roles::Role;
use crate::config::LimitSettings;
use crate::domain::audit::{AuditEvent, RefusalError};
use crate::error::ApiError;
use crate::service::{Caller, Services};

/// The source a limit and a record are kept for: an IPv4 address, or an IPv6 address's
/// /64 (one host usually holds a whole /64), or [`OVERFLOW`] once too many are tracked.
fn source_of(remote_addr: Option<&str>) -> String {
    let ip = remote_addr.and_then(|a| {
        a.parse::<std::net::SocketAddr>()
            .map(|s| s.ip())
            .or_else(|_| a.parse::<IpAddr>())
            .ok()
    });
    match ip {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => "-".to_owned(),
    }
}

/// The source standing for every source beyond `refusal_sources_max`.
const OVERFLOW: &str = "*";

/// What makes two refusals alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    source: String,
    vault: String,
    actor: String,
    status: u16,
    code: String,
    message: String,
    certificate: Option<String>,
}

/// The refusals of one key in the current window.
#[derive(Debug)]
struct Pending {
    /// Order of opening, for writing records oldest first.
    seq: u64,
    opened: Instant,
    since: DateTime<Utc>,
    count: u64,
    method: String,
    path: String,
    role: Option<String>,
    client_request_id: Option<String>,
    remote_addr: Option<String>,
}

/// A source's token bucket for requests without a valid token.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    pending: HashMap<Key, Pending>,
    /// Open records per source in the current window.
    kinds: HashMap<String, usize>,
    buckets: HashMap<String, Bucket>,
    opened: u64,
}

/// The refusal counters of one server.
#[derive(Debug)]
pub struct Refusals {
    limits: LimitSettings,
    inner: Mutex<Inner>,
}

impl Refusals {
    pub fn new(limits: LimitSettings) -> Self {
        Refusals {
            limits,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The limits it enforces.
    pub fn limits(&self) -> &LimitSettings {
        &self.limits
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The counters stay usable if a holder panicked: they are only counters.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes one request without a valid token from `remote_addr`'s allowance: `Ok`, or
    /// the seconds until the next one is allowed (for `Retry-After`).
    pub fn admit_unauthenticated(&self, remote_addr: Option<&str>) -> Result<(), u64> {
        let rate = f64::from(self.limits.unauthenticated_per_second);
        let burst = f64::from(self.limits.unauthenticated_burst);
        let now = Instant::now();
        let mut inner = self.lock();
        let mut source = source_of(remote_addr);
        if !inner.buckets.contains_key(&source)
            && inner.buckets.len() >= self.limits.refusal_sources_max
        {
            source = OVERFLOW.to_owned();
        }
        let bucket = inner.buckets.entry(source).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            // Whole seconds, at least one, until a token is back.
            let wait = ((1.0 - bucket.tokens) / rate).ceil();
            Err((wait as u64).max(1))
        }
    }

    /// Counts one refusal of `req` answered with `error`, for the record of its window.
    pub fn note(
        &self,
        req: &RequestInfo,
        caller: Option<(&str, Role)>,
        error: &ApiError,
        now: DateTime<Utc>,
    ) {
        let l = &self.limits;
        let mut source = source_of(req.remote_addr.as_deref());
        let mut key = Key {
            source: source.clone(),
            vault: req.vault.clone(),
            actor: caller.map_or("anonymous", |(a, _)| a).to_owned(),
            status: error.status.as_u16(),
            code: error.code.to_owned(),
            message: truncate(&error.message, l.refusal_path_chars + 256),
            certificate: req.certificate.clone(),
        };
        let mut inner = self.lock();
        if inner.pending.contains_key(&key) {
            if let Some(p) = inner.pending.get_mut(&key) {
                p.count += 1;
            }
            return;
        }
        if !inner.kinds.contains_key(&source) && inner.kinds.len() >= l.refusal_sources_max {
            source = OVERFLOW.to_owned();
        }
        if source == OVERFLOW
            || inner.kinds.get(&source).copied().unwrap_or(0) >= l.refusal_kinds_per_source
        {
            // Past the bounds: one record per status for the rest of this source's (or
            // every further source's) refusals in the window.
            key = Key {
                source: source.clone(),
                vault: crate::DEFAULT_VAULT.to_owned(),
                actor: if source == OVERFLOW {
                    "*".into()
                } else {
                    key.actor
                },
                status: key.status,
                code: key.code,
                message: "Refusals of several kinds, counted together.".into(),
                certificate: None,
            };
            if let Some(p) = inner.pending.get_mut(&key) {
                p.count += 1;
                return;
            }
        }
        *inner.kinds.entry(source).or_insert(0) += 1;
        inner.opened += 1;
        let seq = inner.opened;
        inner.pending.insert(
            key,
            Pending {
                seq,
                opened: Instant::now(),
                since: now,
                count: 1,
                method: truncate(&req.method, 16),
                path: truncate(&req.path, l.refusal_path_chars),
                role: caller.map(|(_, r)| r.as_str().to_owned()),
                client_request_id: req
                    .client_request_id
                    .as_deref()
                    .map(|c| truncate(c, l.refusal_request_id_chars)),
                remote_addr: req.remote_addr.clone(),
            },
        );
    }

    /// Takes the records due (every one when `all`, else those whose window has closed),
    /// oldest first.
    fn take(&self, all: bool) -> Vec<(Key, Pending)> {
        let window = Duration::from_secs(self.limits.refusal_window_seconds);
        let mut inner = self.lock();
        let due: Vec<Key> = inner
            .pending
            .iter()
            .filter(|(_, p)| all || p.opened.elapsed() >= window)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<(Key, Pending)> = due
            .into_iter()
            .filter_map(|k| inner.pending.remove_entry(&k))
            .collect();
        for (k, _) in &out {
            if let Some(n) = inner.kinds.get_mut(&k.source) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    inner.kinds.remove(&k.source);
                }
            }
        }
        // Buckets back to full hold nothing worth keeping.
        let rate = f64::from(self.limits.unauthenticated_per_second);
        let burst = f64::from(self.limits.unauthenticated_burst);
        inner
            .buckets
            .retain(|_, b| b.tokens + b.at.elapsed().as_secs_f64() * rate < burst);
        out.sort_by_key(|(_, p)| p.seq);
        out
    }

    /// Writes the records due (all of them when `all`: before the audit trail is read, and
    /// at shutdown). A failure to record is logged; the counts it held are lost.
    pub async fn flush(&self, services: &Services, all: bool) {
        for (key, p) in self.take(all) {
            let event = AuditEvent::AccessRefused {
                method: p.method,
                path: p.path,
                status: key.status,
                error: RefusalError {
                    code: key.code,
                    message: key.message,
                },
                role: p.role,
                count: p.count,
                since: (p.count > 1).then(|| p.since.to_rfc3339_opts(SecondsFormat::Millis, true)),
            };
            let who = Caller {
                vault: key.vault,
                actor: key.actor,
                client_request_id: p.client_request_id,
                remote_addr: p.remote_addr,
            };
            if let Err(e) = services
                .audit
                .record(&who, key.certificate.as_deref(), event)
                .await
            {
                tracing::error!(error = %e, count = p.count, "could not record refused requests in the audit trail");
            }
        }
    }

    /// Flushes closed windows every second until the task is aborted.
    pub fn spawn_flusher(self: &Arc<Self>, services: Services) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                me.flush(&services, false).await;
            }
        })
    }
}

/// At most `n` characters of `s`.
fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_addresses_and_ipv6_counts_by_its_64() {
        assert_eq!(source_of(Some("192.0.2.7:5000")), "192.0.2.7");
        assert_eq!(
            source_of(Some("[2001:db8:1:2:aaaa::1]:443")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            source_of(Some("[2001:db8:1:2:bbbb::9]:80")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(source_of(Some("[::ffff:192.0.2.7]:1")), "192.0.2.7");
        assert_eq!(source_of(None), "-");
    }

    fn limits() -> LimitSettings {
        let mut s = crate::config::Settings::from_toml("")
            .expect("defaults load")
            .limits;
        s.unauthenticated_burst = 3;
        s.unauthenticated_per_second = 1;
        s.refusal_kinds_per_source = 2;
        s.refusal_sources_max = 2;
        s
    }

    #[test]
    fn the_burst_is_allowed_then_429_with_a_wait() {
        let r = Refusals::new(limits());
        for _ in 0..3 {
            assert_eq!(r.admit_unauthenticated(Some("192.0.2.1:1")), Ok(()));
        }
        assert_eq!(r.admit_unauthenticated(Some("192.0.2.1:2")), Err(1));
        // Another source has its own allowance.
        assert_eq!(r.admit_unauthenticated(Some("192.0.2.2:1")), Ok(()));
    }

    fn info(addr: &str, path: &str, certificate: Option<&str>) -> RequestInfo {
        RequestInfo {
            vault: "default".into(),
            method: "GET".into(),
            path: path.into(),
            certificate: certificate.map(Into::into),
            client_request_id: Some("x".repeat(500)),
            remote_addr: Some(addr.into()),
        }
    }

    #[test]
    fn alike_refusals_are_one_record_and_the_bounds_hold() {
        let r = Refusals::new(limits());
        let e = ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "m",
        );
        let now = Utc::now();
        for _ in 0..10 {
            r.note(
                &info("192.0.2.1:1", &"/a".repeat(400), Some("c1")),
                None,
                &e,
                now,
            );
        }
        // Other certificates from the same source: one more record, then the overflow one.
        for c in ["c2", "c3", "c4", "c5"] {
            r.note(&info("192.0.2.1:9", "/b", Some(c)), None, &e, now);
        }
        // A second source, then sources past the bound share one record.
        r.note(&info("192.0.2.2:1", "/b", None), None, &e, now);
        for i in 3..20 {
            r.note(&info(&format!("192.0.2.{i}:1"), "/b", None), None, &e, now);
        }
        let taken = r.take(true);
        let counts: Vec<(String, Option<String>, u64)> = taken
            .iter()
            .map(|(k, p)| (k.source.clone(), k.certificate.clone(), p.count))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("192.0.2.1".into(), Some("c1".into()), 10),
                ("192.0.2.1".into(), Some("c2".into()), 1),
                ("192.0.2.1".into(), None, 3),
                ("192.0.2.2".into(), None, 1),
                ("*".into(), None, 17),
            ]
        );
        let (_, first) = &taken[0];
        assert_eq!(first.path.chars().count(), 256);
        assert_eq!(first.client_request_id.as_deref().map(str::len), Some(64));
        assert!(r.take(true).is_empty());
    }
}
