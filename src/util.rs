//! Small helpers shared by the engine and the emulator.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Formats a timestamp the way Redash does: ISO-8601, millisecond precision, `Z`, and no
/// fraction at all when the milliseconds are zero.
pub fn iso_millis(millis: i64) -> String {
    let (date, ms_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(date);
    let secs = ms_of_day / 1000;
    let ms = ms_of_day % 1000;
    let (hh, mm, ss) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if !(0..=9999).contains(&y) {
        return if ms == 0 {
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
        } else {
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{ms:03}Z")
        };
    }
    // Digit by digit: the emulator writes four of these for each query of a list page, and
    // `format!` with widths took a tenth of its CPU in a plan of 10,000 queries.
    let mut text = String::with_capacity(24);
    let mut push = |n: i64, width: u32, then: char| {
        for place in (0..width).rev() {
            text.push(char::from(b'0' + (n / 10_i64.pow(place) % 10) as u8));
        }
        text.push(then);
    };
    push(y, 4, '-');
    push(i64::from(m), 2, '-');
    push(i64::from(d), 2, 'T');
    push(hh, 2, ':');
    push(mm, 2, ':');
    if ms == 0 {
        push(ss, 2, 'Z');
    } else {
        push(ss, 2, '.');
        push(ms, 3, 'Z');
    }
    text
}

/// `f` of every item, in order, computed on every core: for CPU-bound work over thousands of
/// resources or hundreds of files. Each thread takes the next item left, as items differ in cost.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads = cores.min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let (next, f) = (std::sync::atomic::AtomicUsize::new(0), &f);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break done };
                        done.push((i, f(item)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// SHA-256 in lowercase hex (hashed for every resource of every plan and every manifest
/// document read: no `format!` per byte).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes`, two digits each.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [HEX[usize::from(b >> 4)] as char, HEX[usize::from(b & 15)] as char]).collect()
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub fn utc_today() -> String {
    iso_millis(now_millis())[..10].to_string()
}

/// Days since 1970-01-01 to a (year, month, day) civil date (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Checks a `YYYY-MM-DD` calendar date.
pub fn is_valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Checks an `HH:MM` time of day.
pub fn is_valid_time_of_day(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return false;
    }
    matches!((s[0..2].parse::<u32>(), s[3..5].parse::<u32>()), (Ok(h), Ok(m)) if h < 24 && m < 60)
        && b[0].is_ascii_digit()
        && b[3].is_ascii_digit()
}

/// A small deterministic pseudo-random generator (SplitMix64): enough for api keys and
/// jitter, and reproducible from a seed in tests.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An alphanumeric string of `len` characters.
    pub fn alphanumeric(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| CHARS[(self.next_u64() % CHARS.len() as u64) as usize] as char).collect()
    }
}

/// A scratch directory for one test: empty when made, removed when dropped (a failing test
/// included). Reads as its path.
#[cfg(test)]
pub struct TestDir(std::path::PathBuf);

#[cfg(test)]
impl TestDir {
    /// `tag` tells the tests of one binary apart (they run at once).
    pub fn new(tag: &str) -> TestDir {
        let dir = std::env::temp_dir().join(format!("redash-gitops-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TestDir(dir)
    }
}

#[cfg(test)]
impl std::ops::Deref for TestDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_the_order_of_items_of_uneven_cost() {
        let items: Vec<u64> = (0..400).collect();
        // Early items take longest, so the threads finish them out of order.
        let out = par_map(&items, |i| {
            std::thread::sleep(std::time::Duration::from_micros(400 - i));
            i * 3
        });
        assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>());
    }

    #[test]
    fn formats_timestamps_like_redash() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_millis(1_795_885_883_950), "2026-11-28T17:11:23.950Z");
        assert_eq!(iso_millis(951_782_400_001), "2000-02-29T00:00:00.001Z");
        assert_eq!(iso_millis(-62_135_596_800_000 + 3_723_004), "0001-01-01T01:02:03.004Z");
        assert_eq!(iso_millis(253_402_300_800_000), "10000-01-01T00:00:00Z");
    }

    #[test]
    fn validates_dates_and_times() {
        assert!(is_valid_date("2024-02-29"));
        assert!(!is_valid_date("2023-02-29"));
        assert!(!is_valid_date("2023-13-01"));
        assert!(!is_valid_date("23-01-01"));
        assert!(is_valid_time_of_day("23:59"));
        assert!(!is_valid_time_of_day("24:00"));
        assert!(!is_valid_time_of_day("9:30"));
    }

    #[test]
    fn random_keys_are_alphanumeric_and_reproducible() {
        let a = SplitMix64::new(7).alphanumeric(40);
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(a, SplitMix64::new(7).alphanumeric(40));
    }
}
