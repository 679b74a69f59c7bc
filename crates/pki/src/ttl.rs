//! The Secrets Manager TTL syntax (`ttl`, `max_ttl`, `crl_expiry`).

use std::time::Duration;

use crate::error::PkiError;

/// Parses a TTL string: digits with an optional unit `s`, `m`, `h` or `d`
/// (no unit means seconds), at most 10 characters, e.g. `43830h`, `10h`,
/// `30d`, `3600`.
///
/// # Errors
/// [`PkiError::InvalidParams`] for anything else.
pub fn parse_ttl(text: &str) -> Result<Duration, PkiError> {
    let invalid = || {
        PkiError::InvalidParams(format!(
            "ttl {text:?} must be a number of seconds, or a number followed by s, m, h or d"
        ))
    };
    if text.is_empty() || text.len() > 10 {
        return Err(invalid());
    }
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let value: u64 = digits.parse().map_err(|_| invalid())?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(invalid()),
    };
    value
        .checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_ttl("3600").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_ttl("10h").unwrap(), Duration::from_secs(36_000));
        assert_eq!(
            parse_ttl("43830h").unwrap(),
            Duration::from_secs(43_830 * 3600)
        );
        assert_eq!(parse_ttl("30d").unwrap(), Duration::from_secs(30 * 86_400));
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in ["", "h", "10x", "-5", "1.5h", "10hh", "12345678901", " 10"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
    }
}
