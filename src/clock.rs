//! Local wall-clock time for CSV rows, API bodies and log lines, through the C library's
//! `localtime_r`: the time zone is loaded once per process (a Rust time-zone crate reloads it on
//! every thread that asks first, which cost the first flush about 100 µs).

use std::fmt::Write;
use std::time::Instant;

/// The tracker's monotonic time: `Instant::now()`. Builds with the `test-hooks` feature add an
/// offset that tests move forward ([`advance_for_tests`]), so that a run of hours with a known
/// pace takes milliseconds and gives exact numbers; no shipped build has it.
#[inline]
pub fn now() -> Instant {
    #[cfg(any(test, feature = "test-hooks"))]
    {
        Instant::now() + std::time::Duration::from_nanos(test_clock::OFFSET_NS.load(std::sync::atomic::Ordering::SeqCst))
    }
    #[cfg(not(any(test, feature = "test-hooks")))]
    {
        Instant::now()
    }
}

/// Test builds only: moves [`now`] forward by `d` for every tracker of the process (a test that
/// uses it runs in a process of its own, or alone among the tests of its binary).
#[cfg(any(test, feature = "test-hooks"))]
pub fn advance_for_tests(d: std::time::Duration) {
    test_clock::OFFSET_NS.fetch_add(d.as_nanos() as u64, std::sync::atomic::Ordering::SeqCst);
}

#[cfg(any(test, feature = "test-hooks"))]
mod test_clock {
    pub static OFFSET_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
}

/// Loads the time zone now (once per process), so that the first timestamp, often in a
/// caller's first flush, does not pay for reading `/etc/localtime`.
pub fn load_zone() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" {
        fn tzset();
    }
    // SAFETY: tzset has no preconditions; it initialises the C library's zone state.
    ONCE.call_once(|| unsafe { tzset() });
}

/// A moment in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
    /// Seconds east of UTC.
    pub utc_offset_s: i64,
}

impl LocalTime {
    pub fn now() -> LocalTime {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid timespec to fill.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        LocalTime::at(ts.tv_sec, (ts.tv_nsec / 1000) as u32)
    }

    /// `secs` since the epoch, in the process's time zone.
    pub fn at(secs: libc::time_t, micros: u32) -> LocalTime {
        // SAFETY: zeroed `tm` is a valid value to be overwritten; localtime_r is thread-safe.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
            // SAFETY: as above; gmtime_r cannot fail for representable times.
            unsafe { libc::gmtime_r(&secs, &mut tm) };
            tm.tm_gmtoff = 0;
        }
        LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            micros,
            utc_offset_s: tm.tm_gmtoff,
        }
    }

    /// CodeCarbon's CSV timestamp: `2026-11-25T12:00:05` (no zone).
    pub fn iso_seconds(&self) -> String {
        format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", self.year, self.month, self.day, self.hour, self.minute, self.second)
    }

    /// `arrow.now().isoformat()`: `2026-11-25T12:00:05.123456+01:00`.
    pub fn rfc3339_micros(&self) -> String {
        let mut s = self.iso_seconds();
        let off = self.utc_offset_s;
        let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
        let _ = write!(s, ".{:06}{sign}{:02}:{:02}", self.micros, off / 3600, off % 3600 / 60);
        s
    }

    /// Log lines: `12:00:05`.
    pub fn hms(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C library's own formatting of the same moment.
    fn strftime(secs: libc::time_t, fmt: &str) -> String {
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        unsafe { libc::localtime_r(&secs, &mut tm) };
        let mut buf = [0u8; 64];
        let fmt = std::ffi::CString::new(fmt).unwrap();
        let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm) };
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn formats_match_the_c_library() {
        for secs in [0, 1_764_072_005, 1_700_000_000, 951_782_400 /* 2000-02-29 */] {
            let t = LocalTime::at(secs, 42);
            assert_eq!(t.iso_seconds(), strftime(secs, "%Y-%m-%dT%H:%M:%S"));
            assert_eq!(t.hms(), strftime(secs, "%H:%M:%S"));
            let z = strftime(secs, "%z"); // +0100
            let want = format!("{}.000042{}:{}", strftime(secs, "%Y-%m-%dT%H:%M:%S"), &z[..3], &z[3..]);
            assert_eq!(t.rfc3339_micros(), want);
        }
    }

    #[test]
    fn now_is_now() {
        let a = LocalTime::now();
        assert!(a.year >= 2024 && (1..=12).contains(&a.month) && a.micros < 1_000_000);
    }
}
