//! The time source. The server uses the system clock; tests (and, later, operators with an
//! adjustable clock) move it.

use chrono::{DateTime, Utc};

/// The time source.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock plus an offset that only moves forward (`clock.adjustable`): an admin
/// moves it so expiry, lifetime actions and purges happen now instead of in weeks.
#[derive(Debug, Default)]
pub struct AdjustableClock {
    offset_seconds: std::sync::atomic::AtomicI64,
}

impl AdjustableClock {
    /// A clock `offset_seconds` ahead of the system clock.
    pub fn new(offset_seconds: i64) -> Self {
        AdjustableClock {
            offset_seconds: std::sync::atomic::AtomicI64::new(offset_seconds.max(0)),
        }
    }

    /// Moves the clock forward by `seconds` (at least 1); returns the new offset.
    pub fn advance(&self, seconds: i64) -> i64 {
        let by = seconds.max(1);
        self.offset_seconds
            .fetch_add(by, std::sync::atomic::Ordering::SeqCst)
            + by
    }

    /// How far ahead of the system clock it is, in seconds.
    pub fn offset_seconds(&self) -> i64 {
        self.offset_seconds
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Clock for AdjustableClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_seconds())
    }
}

/// Parses a duration such as `25d`, `36h`, `90m`, `30s`, `2w` or `1d12h` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the duration is empty".into());
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            other => return Err(format!("unknown unit {other:?} (use s, m, h, d or w)")),
        };
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("a number must come before {c:?}"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or("the duration is too large")?;
    }
    if !digits.is_empty() {
        return Err(format!("'{digits}' needs a unit (s, m, h, d or w)"));
    }
    if total <= 0 {
        return Err("the duration must be positive".into());
    }
    // At most about 100 years.
    if total > 100 * 366 * 86400 {
        return Err("the duration is too large".into());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_units_and_refuse_nonsense() {
        assert_eq!(parse_duration("25d"), Ok(25 * 86400));
        assert_eq!(parse_duration("1d12h"), Ok(36 * 3600));
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("2w"), Ok(14 * 86400));
        for bad in ["", "25", "d", "0d", "-1d", "3y", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_adjustable_clock_only_moves_forward() {
        let clock = AdjustableClock::new(0);
        let before = clock.now();
        assert_eq!(clock.advance(86400), 86400);
        assert!(clock.now() - before >= chrono::Duration::seconds(86400));
        assert_eq!(clock.advance(-5), 86401);
        assert_eq!(clock.offset_seconds(), 86401);
    }
}
