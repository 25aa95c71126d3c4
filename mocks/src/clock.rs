//! The one source of wall-clock time (invariant 4).
//!
//! Everything that needs "now" — signature skew windows, token expiry, JWT `exp` rules — asks a
//! [`Clock`]. Tests and scenarios use [`ManualClock`] and move it with `advance`; `serve` uses
//! [`SystemClock`]. Latency measurement uses `std::time::Instant`, which is not wall time.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> SystemTime;

    /// Seconds since the Unix epoch.
    fn unix(&self) -> i64 {
        match self.now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        }
    }

    /// Moves a manual clock; a system clock refuses.
    fn advance(&self, _by: Duration) -> Result<(), ClockError> {
        Err(ClockError::NotManual)
    }

    /// Sets a manual clock; a system clock refuses.
    fn set(&self, _to: SystemTime) -> Result<(), ClockError> {
        Err(ClockError::NotManual)
    }

    fn is_manual(&self) -> bool {
        false
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("the clock is the system clock; start with a manual clock to move time")]
    NotManual,
    #[error("the clock stays between 1970-01-01T00:00:00Z and 8999-12-31T23:59:59Z (answers add up to years to it and print it with four-digit years)")]
    OutOfRange,
}

/// The first second a manual clock may not reach (9000-01-01T00:00:00Z): token and credential
/// lifetimes are added to "now" and printed as RFC 3339, whose years end at 9999.
const END_UNIX: u64 = 221_845_392_000;

/// `t` if a manual clock may show it.
pub fn in_range(t: SystemTime) -> Result<SystemTime, ClockError> {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.as_secs() < END_UNIX => Ok(t),
        _ => Err(ClockError::OutOfRange),
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read of the wall clock
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to; offsets from a start time.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// A manual clock at a Unix timestamp.
    pub fn at_unix(secs: u64) -> Self {
        Self::new(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// A manual clock starting at the system time (for `serve --manual-clock`).
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn advance(&self, by: Duration) -> Result<(), ClockError> {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now = in_range(now.checked_add(by).ok_or(ClockError::OutOfRange)?)?;
        Ok(())
    }

    fn set(&self, to: SystemTime) -> Result<(), ClockError> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = in_range(to)?;
        Ok(())
    }

    fn is_manual(&self) -> bool {
        true
    }
}

/// RFC 3339 in UTC with a `Z`, seconds precision (`2015-08-30T12:36:00Z`), as AWS and Google print.
pub fn rfc3339(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        dt.month() as u8,
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Parses a duration such as `90s`, `15m`, `1h30m`, `2d` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        return Some(Duration::from_secs(n));
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let value: f64 = num.parse().ok()?;
        num.clear();
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                'd' => 86400.0,
                _ => return None,
            }
        };
        total = total.checked_add(Duration::try_from_secs_f64(value * unit).ok()?)?;
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at_unix(1_440_938_160);
        assert_eq!(c.unix(), 1_440_938_160);
        c.advance(Duration::from_secs(60)).unwrap();
        assert_eq!(c.unix(), 1_440_938_220);
        assert_eq!(rfc3339(c.now()), "2015-08-30T12:37:00Z");
    }

    #[test]
    fn manual_clock_stays_in_printable_years() {
        let c = ManualClock::at_unix(END_UNIX - 10);
        assert_eq!(
            c.advance(Duration::from_secs(10)),
            Err(ClockError::OutOfRange)
        );
        assert_eq!(c.advance(Duration::MAX), Err(ClockError::OutOfRange));
        assert_eq!(c.unix(), END_UNIX as i64 - 10);
        c.advance(Duration::from_secs(9)).unwrap();
        assert_eq!(rfc3339(c.now()), "8999-12-31T23:59:59Z");
        assert_eq!(
            c.set(UNIX_EPOCH - Duration::from_secs(1)),
            Err(ClockError::OutOfRange)
        );
    }

    #[test]
    fn system_clock_refuses_to_move() {
        assert_eq!(
            SystemClock.advance(Duration::from_secs(1)),
            Err(ClockError::NotManual)
        );
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("16m"), Some(Duration::from_secs(960)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("42"), Some(Duration::from_secs(42)));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("5m3"), None);
    }
}
