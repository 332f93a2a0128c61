//! Reading what a request names: query parameters, the address, the Host.

use crate::http::Response;
use praisani_mailaddr::{Address, Domain};

/// Percent-decodes (RFC 3986) into UTF-8; `None` when the result is not
/// UTF-8. A `+` stays a `+`: it is common in local parts, never a space in
/// an address, and clients encode a literal `+` as `%2B` anyway.
pub fn decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// The first value of query parameter `name` (name compared without
/// regard to case), decoded.
pub fn param(query: Option<&str>, name: &str) -> Result<Option<String>, Response> {
    let Some(query) = query else {
        return Ok(None);
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(k).is_some_and(|k| k.eq_ignore_ascii_case(name)) {
            return decode(v).map(Some).ok_or_else(|| {
                Response::text(400, &format!("the {name} parameter is not valid UTF-8"))
            });
        }
    }
    Ok(None)
}

/// The address as typed (trimmed) and its domain, or a 400 naming it.
pub fn address(typed: &str) -> Result<(String, Domain), Response> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(Response::text(400, "the email address is empty"));
    }
    match Address::parse(typed) {
        Ok(a) => Ok((typed.to_string(), a.domain().clone())),
        Err(_) => Err(Response::text(
            400,
            "that is not a valid email address (expected name@domain)",
        )),
    }
}

/// Prefixes of the names mail programs ask under, before the mail domain.
const HOST_PREFIXES: [&str; 2] = ["autoconfig.", "autodiscover."];

/// The mail domain a Host field names: the host itself, or what follows an
/// `autoconfig.` / `autodiscover.` prefix.
pub fn host_domain(host: Option<&str>) -> Result<Domain, Response> {
    let refuse = || {
        Response::text(
            400,
            "no emailaddress parameter, and the Host field names no mail domain",
        )
    };
    let host = host.ok_or_else(refuse)?;
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return Err(refuse());
    }
    let lower = host.to_lowercase();
    let name = HOST_PREFIXES
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .unwrap_or(&lower);
    Domain::parse(name).map_err(|_| refuse())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(decode("a%40b.c").as_deref(), Some("a@b.c"));
        assert_eq!(decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(decode("%E7%94%A8").as_deref(), Some("用"));
        assert_eq!(decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(decode("%FF"), None);
    }

    #[test]
    fn parameters() {
        let q = Some("a=1&emailaddress=x%40y.z&emailaddress=second&flag");
        assert_eq!(param(q, "EMAILADDRESS").unwrap().as_deref(), Some("x@y.z"));
        assert_eq!(param(q, "flag").unwrap().as_deref(), Some(""));
        assert_eq!(param(q, "missing").unwrap(), None);
        assert_eq!(param(None, "a").unwrap(), None);
        assert_eq!(param(Some("a=%C3"), "a").unwrap_err().status, 400);
    }

    #[test]
    fn addresses_as_typed() {
        let (t, d) = address("  Somchai@ตัวอย่าง.ไทย ").unwrap();
        assert_eq!(t, "Somchai@ตัวอย่าง.ไทย");
        assert_eq!(d, Domain::parse("xn--72c1a1bt4awk9o.xn--o3cw4h").unwrap());
        let (t, d) = address("用户@xn--fsqu00a.xn--fiqs8s").unwrap();
        assert_eq!(t, "用户@xn--fsqu00a.xn--fiqs8s");
        assert_eq!(d, Domain::parse("例子.中国").unwrap());
        for bad in [
            "",
            "  ",
            "no-at",
            "a@",
            "@b.c",
            "a b@c.d",
            "a@b.c.",
            "<a@b.c>",
            "a\r\n@b.c",
        ] {
            assert_eq!(address(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn hosts() {
        let d = |h: &str| host_domain(Some(h)).map(|d| d.ascii().to_string());
        assert_eq!(d("autoconfig.example.com").unwrap(), "example.com");
        assert_eq!(d("AUTODISCOVER.Example.com").unwrap(), "example.com");
        assert_eq!(d("example.com").unwrap(), "example.com");
        assert_eq!(
            d("autoconfig.ตัวอย่าง.ไทย").unwrap(),
            "xn--72c1a1bt4awk9o.xn--o3cw4h"
        );
        assert_eq!(
            d("autoconfig.xn--fsqu00a.xn--fiqs8s").unwrap(),
            "xn--fsqu00a.xn--fiqs8s"
        );
        for bad in ["127.0.0.1", "[::1]", "bad host", "example.com."] {
            assert_eq!(host_domain(Some(bad)).unwrap_err().status, 400, "{bad}");
        }
        assert_eq!(host_domain(None).unwrap_err().status, 400);
    }
}
