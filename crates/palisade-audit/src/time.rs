//! RFC 3339 UTC timestamps, formatted and parsed without a date library.
//!
//! Audit lines need one format only (`2026-12-04T17:00:00.123456Z`), and the report needs to read it
//! back (plus the `+00:00` offsets logplex writes), so a few lines of civil-calendar arithmetic replace
//! a date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st, 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01; the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats `t` as RFC 3339 UTC with microseconds, e.g. `2026-12-04T17:00:00.123456Z`.
///
/// Times before the Unix epoch are clamped to it (a clock that far off is not worth a branch per line).
pub fn format_rfc3339_micros(t: SystemTime) -> String {
    let mut out = String::with_capacity(27);
    write_rfc3339_micros(&mut out, t);
    out
}

/// Appends the RFC 3339 form of `t` (see [`format_rfc3339_micros`]) to `out` without allocating.
pub fn write_rfc3339_micros(out: &mut String, t: SystemTime) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs() as i64;
    let micros = since.subsec_micros();
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let fields = [
        (year, 4),
        (i64::from(month), 2),
        (i64::from(day), 2),
        (sod / 3600, 2),
        (sod / 60 % 60, 2),
        (sod % 60, 2),
        (i64::from(micros), 6),
    ];
    const SEPARATORS: [u8; 7] = *b"--T::.Z";
    if !(0..=9999).contains(&year) {
        // A clock thousands of years off: the slow path pads a wider year.
        for ((value, width), sep) in fields.iter().zip(SEPARATORS) {
            push_padded(out, *value, *width);
            out.push(char::from(sep));
        }
        return;
    }
    // One line's timestamp is written per event: digits go into a stack buffer, then one copy.
    let mut buf = [0u8; 27];
    let mut at = 0;
    for ((value, width), sep) in fields.iter().zip(SEPARATORS) {
        let mut v = value.unsigned_abs();
        for slot in buf[at..at + width].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        buf[at + width] = sep;
        at += width + 1;
    }
    // Only ASCII digits and separators were written.
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

fn push_padded(out: &mut String, value: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = value.unsigned_abs();
    let mut n = 0;
    while v > 0 || n == 0 {
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        n += 1;
    }
    for _ in n..width {
        out.push('0');
    }
    for d in digits[..n].iter().rev() {
        out.push(char::from(*d));
    }
}

/// Parses an RFC 3339 timestamp (`Z` or `±hh:mm` offset, optional fraction) into microseconds since
/// the Unix epoch. Returns `None` for anything malformed.
pub fn parse_rfc3339_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = num(0, 4)?;
    let month = u32::try_from(num(5, 7)?).ok()?;
    let day = u32::try_from(num(8, 10)?).ok()?;
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                micros = micros * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..6 {
            micros *= 10;
        }
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = num(i + 1, i + 3)?;
            let m = num(i + 4, i + 6)?;
            let off = h * 3600 + m * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1_000_000 + micros)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            format_rfc3339_micros(at(0, 0)),
            "1970-01-01T00:00:00.000000Z"
        );
        // 2026-12-04T17:00:00Z, checked with `date -u -d @1796403600`.
        assert_eq!(
            format_rfc3339_micros(at(1_796_403_600, 42)),
            "2026-12-04T17:00:00.000042Z"
        );
        // A leap day.
        assert_eq!(
            format_rfc3339_micros(at(951_782_400, 999_999)),
            "2000-02-29T00:00:00.999999Z"
        );
        // Past year 9999 the fixed-width fast path hands over to the padded one.
        assert_eq!(
            format_rfc3339_micros(at(253_402_300_799, 7)),
            "9999-12-31T23:59:59.000007Z"
        );
        assert_eq!(
            format_rfc3339_micros(at(253_402_300_800, 0)),
            "10000-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn parse_inverts_format_across_many_days() {
        for day in (0..30_000u64).step_by(7) {
            let t = at(
                day * 86_400 + day * 37 % 86_400,
                (day * 13 % 1_000_000) as u32,
            );
            let text = format_rfc3339_micros(t);
            let micros = parse_rfc3339_micros(&text).unwrap();
            let expected = t.duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
            assert_eq!(micros, expected, "{text}");
        }
    }

    #[test]
    fn parses_logplex_offsets() {
        let z = parse_rfc3339_micros("2026-12-04T17:00:00.000000Z").unwrap();
        assert_eq!(
            parse_rfc3339_micros("2026-12-04T17:00:00.000000+00:00"),
            Some(z)
        );
        assert_eq!(parse_rfc3339_micros("2026-12-04T18:00:00+01:00"), Some(z));
        assert_eq!(
            parse_rfc3339_micros("2026-12-04T17:00:00.5Z"),
            Some(z + 500_000)
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-12-04",
            "2026-13-04T17:00:00Z",
            "2026-12-04T17:00:00",
            "2026-12-04T17:00:00.Z",
            "2026-12-04T17:0a:00Z",
            "2026-12-04T17:00:00+0100",
        ] {
            assert_eq!(parse_rfc3339_micros(bad), None, "{bad}");
        }
    }
}
