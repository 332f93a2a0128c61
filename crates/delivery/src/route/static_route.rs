//! [`StaticRoute`]: a fixed next hop (per-domain route or smarthost).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::TlsMode;

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
}

impl StaticRoute {
    /// Parses `host:port`, `host` (port 25), `[IPv6]:port`, `[IPv6]`, or a bare
    /// IPv6 address (port 25). IPv4 addresses are written as is (`192.0.2.1:587`);
    /// `[192.0.2.1]` and `[IPv6:2001:db8::1]` (RFC 5321 address-literal forms)
    /// are accepted too. A Unicode host name is converted to its A-label.
    ///
    /// The result uses STARTTLS and no AUTH; set `tls` and `auth` afterwards.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: missing ']'"))?;
            let inside = inside
                .strip_prefix("IPv6:")
                .or_else(|| inside.strip_prefix("ipv6:"))
                .unwrap_or(inside);
            let ip: IpAddr = inside
                .parse()
                .map_err(|_| format!("{s:?}: {inside:?} is not an IP address"))?;
            let port = match after {
                "" => 25,
                _ => match after.strip_prefix(':') {
                    Some(p) => parse_port(s, p)?,
                    None => return Err(format!("{s:?}: expected ':port' after ']'")),
                },
            };
            return Ok(Self::new(ip.to_string(), port));
        } else if let Ok(ip) = s.parse::<Ipv6Addr>() {
            (ip.to_string(), 25)
        } else if let Some((host, port)) = s.rsplit_once(':') {
            if host.contains(':') {
                return Err(format!(
                    "{s:?}: write an IPv6 address with a port as [address]:port"
                ));
            }
            (host.to_string(), parse_port(s, port)?)
        } else {
            (s.to_string(), 25)
        };
        if host.is_empty() {
            return Err(format!("{s:?}: no host"));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Self::new(ip.to_string(), port));
        }
        let name = host.strip_suffix('.').unwrap_or(&host);
        let ascii = idna::domain_to_ascii_strict(name)
            .map_err(|_| format!("{s:?}: {host:?} is not a valid host name"))?;
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
            return Err(format!("{s:?}: {host:?} is not a valid host name"));
        }
        Ok(Self::new(ascii, port))
    }

    fn new(host: String, port: u16) -> Self {
        StaticRoute {
            host,
            port,
            tls: TlsMode::Starttls,
            auth: None,
        }
    }
}

fn parse_port(whole: &str, p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{whole:?}: {p:?} is not a port number (1-65535)")),
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
            .finish()
    }
}
