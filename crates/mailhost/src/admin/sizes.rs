//! Sizes as administrators and configuration files write them: "500M",
//! "2G", "64KiB", and for quotas "unlimited".

use super::AdminError;

/// A size in octets: a number with an optional unit (K, M, G, with or
/// without B / iB, any case; powers of 1024). `None` when it is not one or
/// does not fit.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A storage quota: a [`parse_size`] size, or "unlimited" / "none" (no
/// limit, `None`).
pub fn parse_quota(s: &str) -> Result<Option<u64>, AdminError> {
    match s.to_ascii_lowercase().as_str() {
        "unlimited" | "none" => Ok(None),
        _ => parse_size(s)
            .map(Some)
            .ok_or_else(|| AdminError::InvalidQuota(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64K"), Some(65536));
        assert_eq!(parse_size("50MiB"), Some(50 << 20));
        assert_eq!(parse_size(" 2 g "), Some(2 << 30));
        assert_eq!(parse_size("7"), Some(7));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("5T"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }

    #[test]
    fn quotas() {
        assert_eq!(parse_quota("500M").unwrap(), Some(500 << 20));
        assert_eq!(parse_quota("Unlimited").unwrap(), None);
        assert_eq!(parse_quota("none").unwrap(), None);
        assert!(matches!(
            parse_quota("-1"),
            Err(AdminError::InvalidQuota(t)) if t == "-1"
        ));
    }
}
