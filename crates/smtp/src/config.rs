//! Limits and identity of an SMTP server, read once when a session starts.

/// Limits and identity, set once by the server and shared by all sessions.
///
/// Every limit exists so that memory and work per connection stay bounded
/// whatever the peer sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Our host name, used in the 220 greeting, the EHLO/HELO reply and 221/421 replies.
    pub hostname: String,
    /// Largest accepted body in octets, counted after dot-unstuffing with CRLF line
    /// ends. Advertised as `SIZE <n>`; 0 means unlimited and is advertised as a
    /// plain `SIZE` (RFC 1870 section 4).
    pub max_message_size: u64,
    /// Accepted recipients per transaction; one more gets `452 4.5.3`.
    pub max_recipients: usize,
    /// Longest command line in octets including its line end (RFC 5321 4.5.3.1.4: 512).
    pub max_command_line: usize,
    /// Longest body text line in octets including CRLF, not counting a stuffed dot
    /// (RFC 5321 4.5.3.1.6: 1000). 0 means unlimited.
    pub max_text_line: usize,
    /// Syntax and sequence errors, and recipients the server refused, tolerated
    /// per connection; the next one gets `421 4.7.0` and the connection is closed.
    pub max_bad_commands: usize,
    /// Accepted messages per connection; a further MAIL gets `421 4.7.0` and the
    /// connection is closed, so one client cannot hold a session forever.
    pub max_messages_per_connection: usize,
    /// Advertise SMTPUTF8 (RFC 6531) and accept the SMTPUTF8 MAIL parameter.
    pub smtputf8: bool,
    /// Refuse, with `550 5.6.9`, a message whose header section has non-ASCII octets
    /// when its transaction did not declare SMTPUTF8: RFC 6531 section 3.1 and RFC
    /// 6532 let UTF-8 header fields travel only in SMTPUTF8 transactions. Off keeps
    /// the lenient habit of accepting legacy 8-bit headers.
    pub utf8_headers_need_smtputf8: bool,
    /// Advertise DSN (RFC 3461) and accept its parameters: RET and ENVID on MAIL,
    /// NOTIFY and ORCPT on RCPT. When false they are unknown parameters (555).
    /// MAIL and RCPT command lines may then be 100 and 500 octets longer than
    /// `max_command_line` (RFC 3461 section 4).
    pub dsn: bool,
    /// Offer STARTTLS (RFC 3207) while the session is not under TLS. The server must
    /// then be able to run a TLS handshake when it sees `Event::StartTls`.
    pub starttls: bool,
    /// SASL mechanisms offered with `AUTH` (RFC 4954) when the session is under TLS
    /// (after STARTTLS, or on an implicit-TLS listener). Empty: no AUTH under TLS.
    pub auth_mechanisms_tls: Vec<String>,
    /// SASL mechanisms offered when the session is not under TLS. Usually empty or
    /// limited to mechanisms that do not reveal the password (RFC 4954 section 4
    /// asks that plaintext password mechanisms be refusable without TLS). A
    /// mechanism listed only in `auth_mechanisms_tls` is answered with
    /// `538 5.7.11` on a plaintext session.
    pub auth_mechanisms_plain: Vec<String>,
    /// Submission (RFC 6409 section 4.3): MAIL before a successful AUTH is refused
    /// with `530 5.7.0 Authentication required` (RFC 4954 section 6).
    pub require_auth: bool,
    /// MAIL on a session that is not under TLS is refused with
    /// `530 5.7.0 Must issue a STARTTLS command first` (RFC 3207 section 4).
    pub require_tls_for_mail: bool,
    /// Advertise CHUNKING (RFC 3030) and accept BDAT. Off, BDAT is answered
    /// `502 5.5.1` like any command we do not implement.
    pub chunking: bool,
    /// Advertise REQUIRETLS (RFC 8689) on sessions under TLS and accept the
    /// REQUIRETLS MAIL parameter there; before TLS it is refused with
    /// `530 5.7.10`. Off, REQUIRETLS is an unknown parameter (555). Only a
    /// server whose queue honours it may turn it on.
    pub requiretls: bool,
}

impl Config {
    /// A configuration with the given host name and the usual defaults:
    /// 50 MiB messages, 100 recipients, 512-octet command lines, 1000-octet text
    /// lines, 20 bad commands, 100 messages per connection, SMTPUTF8 on; no DSN, no
    /// STARTTLS, no AUTH, neither authentication nor TLS required, no CHUNKING (the
    /// server turns it on per listener).
    pub fn new(hostname: impl Into<String>) -> Self {
        Config {
            hostname: hostname.into(),
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_command_line: 512,
            max_text_line: 1000,
            max_bad_commands: 20,
            max_messages_per_connection: 100,
            smtputf8: true,
            utf8_headers_need_smtputf8: true,
            dsn: false,
            starttls: false,
            auth_mechanisms_tls: Vec::new(),
            auth_mechanisms_plain: Vec::new(),
            require_auth: false,
            require_tls_for_mail: false,
            chunking: false,
            requiretls: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::new("mx.example.org");
        assert_eq!(c.hostname, "mx.example.org");
        assert_eq!(c.max_message_size, 52_428_800);
        assert_eq!(c.max_recipients, 100);
        assert_eq!(c.max_command_line, 512);
        assert_eq!(c.max_text_line, 1000);
        assert_eq!(c.max_bad_commands, 20);
        assert_eq!(c.max_messages_per_connection, 100);
        assert!(c.smtputf8);
        assert!(!c.dsn);
        assert!(!c.starttls);
        assert!(c.auth_mechanisms_tls.is_empty());
        assert!(c.auth_mechanisms_plain.is_empty());
        assert!(!c.require_auth);
        assert!(!c.require_tls_for_mail);
        assert!(!c.chunking);
    }
}
