//! [`StaticRoute`]: a fixed next hop (per-domain route or smarthost).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::TlsMode;

/// Why a next hop could not be read; each names the text it was given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StaticRouteError {
    /// `[` without the closing `]`.
    #[error("{0:?}: missing ']'")]
    MissingBracket(String),
    /// Something in brackets that is not an IP address.
    #[error("{0:?}: {1:?} is not an IP address")]
    NotAnIp(String, String),
    /// Text after `]` that is not `:port`.
    #[error("{0:?}: expected ':port' after ']'")]
    ExpectedPort(String),
    /// An IPv6 address and a port without brackets.
    #[error("{0:?}: write an IPv6 address with a port as [address]:port")]
    UnbracketedIpv6(String),
    /// Only a port.
    #[error("{0:?}: no host")]
    NoHost(String),
    /// A host name that is not a valid (IDNA) domain name.
    #[error("{0:?}: {1:?} is not a valid host name")]
    InvalidHost(String, String),
    /// A port that is not a number from 1 to 65535.
    #[error("{0:?}: {1:?} is not a port number (1-65535)")]
    InvalidPort(String, String),
}

/// A fixed next hop: mail goes to this host and port, no MX lookup.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticRoute {
    /// Host name (lower-case A-label) or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// STARTTLS (opportunistic) or implicit TLS (e.g. port 465).
    pub tls: TlsMode,
    /// User name and password for AUTH.
    pub auth: Option<(String, String)>,
    /// The server's certificate must verify for `host`, even without
    /// `auth` (with `auth` it always must: see [`must_verify`](Self::must_verify)).
    pub verify_tls: bool,
}

impl StaticRoute {
    /// Parses `host:port`, `host` (port 25), `[IPv6]:port`, `[IPv6]`, or a bare
    /// IPv6 address (port 25). IPv4 addresses are written as is (`192.0.2.1:587`);
    /// `[192.0.2.1]` and `[IPv6:2001:db8::1]` (RFC 5321 address-literal forms)
    /// are accepted too. A Unicode host name is converted to its A-label.
    ///
    /// The result uses STARTTLS, no AUTH and no certificate check; set `tls`,
    /// `auth` and `verify_tls` afterwards.
    pub fn parse(s: &str) -> Result<Self, StaticRouteError> {
        let s = s.trim();
        let input = || s.to_string();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| StaticRouteError::MissingBracket(input()))?;
            let inside = inside
                .strip_prefix("IPv6:")
                .or_else(|| inside.strip_prefix("ipv6:"))
                .unwrap_or(inside);
            let ip: IpAddr = inside
                .parse()
                .map_err(|_| StaticRouteError::NotAnIp(input(), inside.to_string()))?;
            let port = match after {
                "" => 25,
                _ => match after.strip_prefix(':') {
                    Some(p) => parse_port(s, p)?,
                    None => return Err(StaticRouteError::ExpectedPort(input())),
                },
            };
            return Ok(Self::new(ip.to_string(), port));
        } else if let Ok(ip) = s.parse::<Ipv6Addr>() {
            (ip.to_string(), 25)
        } else if let Some((host, port)) = s.rsplit_once(':') {
            if host.contains(':') {
                return Err(StaticRouteError::UnbracketedIpv6(input()));
            }
            (host.to_string(), parse_port(s, port)?)
        } else {
            (s.to_string(), 25)
        };
        if host.is_empty() {
            return Err(StaticRouteError::NoHost(input()));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Self::new(ip.to_string(), port));
        }
        let name = host.strip_suffix('.').unwrap_or(&host);
        let ascii = idna::domain_to_ascii_strict(name)
            .map_err(|_| StaticRouteError::InvalidHost(input(), host.clone()))?;
        let valid = !ascii.is_empty()
            && ascii.len() <= 253
            && ascii.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(StaticRouteError::InvalidHost(input(), host));
        }
        Ok(Self::new(ascii, port))
    }

    /// Parses a configured next hop like [`parse`](Self::parse), with
    /// implicit TLS when the port is 465 (submissions, RFC 8314) and AUTH
    /// with `auth` when given.
    pub fn next_hop(s: &str, auth: Option<(String, String)>) -> Result<Self, StaticRouteError> {
        let mut r = Self::parse(s)?;
        if r.port == 465 {
            r.tls = TlsMode::Implicit;
        }
        r.auth = auth;
        Ok(r)
    }

    /// Whether the server's certificate must verify: asked for, or
    /// credentials to protect. A password is only worth sending to the
    /// server it is meant for, and opportunistic TLS cannot tell.
    pub fn must_verify(&self) -> bool {
        self.verify_tls || self.auth.is_some()
    }

    fn new(host: String, port: u16) -> Self {
        StaticRoute {
            host,
            port,
            tls: TlsMode::Starttls,
            auth: None,
            verify_tls: false,
        }
    }
}

fn parse_port(whole: &str, p: &str) -> Result<u16, StaticRouteError> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(StaticRouteError::InvalidPort(
            whole.to_string(),
            p.to_string(),
        )),
        Ok(port) => Ok(port),
    }
}

/// `host:port`, with brackets around an IPv6 address: the form `parse` reads.
impl fmt::Display for StaticRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Shows the user name, never the password.
impl fmt::Debug for StaticRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticRoute")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field(
                "auth",
                &self.auth.as_ref().map(|(user, _)| (user, "<hidden>")),
            )
            .field("verify_tls", &self.verify_tls)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_text() {
        let e = StaticRoute::parse("relay.test:0").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#""relay.test:0": "0" is not a port number (1-65535)"#
        );
        let e = StaticRoute::parse("[::1").unwrap_err();
        assert_eq!(e, StaticRouteError::MissingBracket("[::1".into()));
        assert_eq!(e.to_string(), r#""[::1": missing ']'"#);
    }

    #[test]
    fn next_hop_on_465_is_implicit_tls() {
        let r = StaticRoute::next_hop("relay.test:465", Some(("u".into(), "p".into()))).unwrap();
        assert_eq!(r.tls, TlsMode::Implicit);
        assert_eq!(r.auth, Some(("u".into(), "p".into())));
        assert!(r.must_verify(), "credentials need a verified server");
        let mut r = StaticRoute::next_hop("relay.test:587", None).unwrap();
        assert_eq!(r.tls, TlsMode::Starttls);
        assert_eq!(r.auth, None);
        assert!(!r.must_verify());
        r.verify_tls = true;
        assert!(r.must_verify());
    }
}
