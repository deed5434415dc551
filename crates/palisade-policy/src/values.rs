//! Parsers for the value syntaxes settings use. Each returns `Err(allowed)` — a description of
//! what would have been accepted — so the caller can build a [`crate::ConfigError::Invalid`].

use std::time::Duration;

/// `true/false`, `on/off`, `yes/no`, `1/0` (any case).
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err("true or false (also on/off, yes/no, 1/0)".into()),
    }
}

/// An integer in `min..=max`.
pub fn parse_int(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let allowed = || format!("a whole number from {min} to {max}");
    let n: u64 = s.trim().parse().map_err(|_| allowed())?;
    if n < min || n > max {
        return Err(allowed());
    }
    Ok(n)
}

/// A TCP port, 1-65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    let n = parse_int(s, 1, 65535).map_err(|_| "a TCP port number from 1 to 65535".to_string())?;
    u16::try_from(n).map_err(|_| "a TCP port number from 1 to 65535".to_string())
}

/// A duration: plain seconds (`30`), or with a unit `ms`, `s`, `m`, `h` (`500ms`, `2m`);
/// must lie in `min..=max`.
pub fn parse_duration(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let allowed = || {
        format!(
            "a duration from {} to {} (seconds, or with a unit: 500ms, 30s, 2m, 1h)",
            fmt_duration(min),
            fmt_duration(max)
        )
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| allowed())?;
    let d = match unit.trim() {
        "" | "s" | "sec" | "secs" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(allowed()),
    };
    if d < min || d > max {
        return Err(allowed());
    }
    Ok(d)
}

/// Renders a duration the way a user would write it.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 {
        format!("{ms}ms")
    } else if ms % 3_600_000 == 0 && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms >= 600_000 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// A byte size: plain bytes (`65536`) or with a unit `k`/`KiB`, `m`/`MiB`, `g`/`GiB`
/// (binary multiples; `KB`, `MB`, `GB` are read the same way); must lie in `min..=max`.
pub fn parse_size(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let allowed = || {
        format!(
            "a size from {} to {} (bytes, or with a unit: 64KiB, 1MiB, 1GiB)",
            fmt_size(min),
            fmt_size(max)
        )
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| allowed())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(allowed()),
    };
    let v = n.checked_mul(mult).ok_or_else(allowed)?;
    if v < min || v > max {
        return Err(allowed());
    }
    Ok(v)
}

/// Renders a byte size with the largest exact binary unit.
pub fn fmt_size(n: u64) -> String {
    if n >= 1 << 30 && n % (1 << 30) == 0 {
        format!("{}GiB", n >> 30)
    } else if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{}MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{}KiB", n >> 10)
    } else {
        format!("{n}")
    }
}

/// One of a fixed set of words (case-insensitive); returns the index into `choices`.
pub fn parse_choice(s: &str, choices: &[&str]) -> Result<usize, String> {
    let t = s.trim().to_ascii_lowercase();
    choices
        .iter()
        .position(|c| *c == t)
        .ok_or_else(|| format!("one of: {}", choices.join(", ")))
}

/// `HOST:PORT` with a numeric port (host may be a name, an IPv4 address, or `[IPv6]`).
pub fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let allowed = || "HOST:PORT, e.g. 127.0.0.1:3000 or [::1]:3000".to_string();
    let t = s.trim();
    let (host, port) = t.rsplit_once(':').ok_or_else(allowed)?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(allowed());
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(allowed());
    }
    let port = parse_port(port).map_err(|_| allowed())?;
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bools() {
        assert_eq!(parse_bool("ON"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert!(parse_bool("maybe").unwrap_err().contains("true or false"));
    }

    #[test]
    fn durations() {
        let (lo, hi) = (Duration::from_millis(100), Duration::from_secs(3600));
        assert_eq!(parse_duration("30", lo, hi), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m", lo, hi), Ok(Duration::from_secs(120)));
        assert_eq!(
            parse_duration("250ms", lo, hi),
            Ok(Duration::from_millis(250))
        );
        let e = parse_duration("2d", lo, hi).unwrap_err();
        assert!(e.contains("100ms to 1h"), "{e}");
        assert!(parse_duration("5h", lo, hi).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1MiB", 0, u64::MAX), Ok(1 << 20));
        assert_eq!(parse_size("512k", 0, u64::MAX), Ok(512 << 10));
        assert_eq!(parse_size("4096", 0, u64::MAX), Ok(4096));
        assert!(parse_size("1 parsec", 0, u64::MAX).is_err());
        assert!(parse_size("99999999999999999999g", 0, u64::MAX).is_err());
        assert_eq!(fmt_size(1 << 20), "1MiB");
    }

    #[test]
    fn host_ports() {
        assert_eq!(
            parse_host_port("127.0.0.1:3000"),
            Ok(("127.0.0.1".into(), 3000))
        );
        assert_eq!(parse_host_port("[::1]:80"), Ok(("[::1]".into(), 80)));
        assert!(parse_host_port("::1:80").is_err());
        assert!(parse_host_port("localhost").is_err());
        assert!(parse_host_port("localhost:0").is_err());
    }
}
