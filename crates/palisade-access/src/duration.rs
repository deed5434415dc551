//! Human durations in config: `30s`, `5m`, `1h`, `1d`, `250ms`, or plain seconds (`90`).

use std::time::Duration;

use crate::error::ConfigError;

/// Parses a duration; `what` names the setting in the error.
pub fn parse_duration(what: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let err = || {
        ConfigError::new(
            what,
            text,
            "expected a number with a unit: `250ms`, `30s`, `5m`, `1h`, `1d` (or plain seconds)",
        )
    };
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return Err(err());
    }
    let n: u64 = t[..digits].parse().map_err(|_| err())?;
    let unit = t[digits..].trim();
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" | "sec" | "secs" | "second" | "seconds" => Duration::from_secs(n),
        "m" | "min" | "mins" | "minute" | "minutes" => Duration::from_secs(n * 60),
        "h" | "hour" | "hours" => Duration::from_secs(n * 3600),
        "d" | "day" | "days" => Duration::from_secs(n * 86_400),
        _ => return Err(err()),
    };
    Ok(d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("x", "90").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("x", "250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_duration("x", "5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("x", "2 hours").unwrap(),
            Duration::from_secs(7200)
        );
        assert_eq!(
            parse_duration("x", "1d").unwrap(),
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn errors_name_setting_and_value() {
        for bad in ["", "m", "5 fortnights", "-1s", "9999999999s"] {
            let e = parse_duration("bans.duration", bad).unwrap_err();
            assert_eq!(e.what, "bans.duration");
            assert_eq!(e.value, bad);
        }
    }
}
