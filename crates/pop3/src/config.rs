//! Per-session policy: what the server allows and advertises on one connection.
//!
//! The server builds a `Config` per listener (or per connection, when e.g. plaintext logins
//! depend on TLS) and shares it through an `Arc`; the session only reads it.

/// Policy for one POP3 session, read once when the session starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Text of the `IMPLEMENTATION` capability, e.g. `"praisani"`; empty hides the capability.
    pub implementation: String,
    /// Host name used in the greeting and the sign-off texts.
    pub hostname: String,
    /// Server-wide retention policy advertised as `EXPIRE` in CAPA.
    ///
    /// When `expire_per_user` is set this should be the shortest period any user has, since
    /// RFC 2449 lets a client rely on it before logging in.
    pub expire: Expire,
    /// Retention differs per user: before login CAPA shows `EXPIRE <days> USER`, and after
    /// login the value given to [`Session::set_expire`](crate::Session::set_expire).
    pub expire_per_user: bool,
    /// Minimum seconds between logins, advertised as `LOGIN-DELAY n` when set. The server
    /// enforces it and answers [`AuthOutcome::LoginDelay`](crate::AuthOutcome::LoginDelay).
    pub login_delay: Option<u32>,
    /// USER/PASS allowed on a connection that is not under TLS (the server decides, e.g.
    /// by loopback). Under TLS (implicit, or after STLS) USER/PASS is always allowed. When
    /// refused, USER and PASS get `-ERR [AUTH] ...` and `USER` is not advertised.
    pub allow_plaintext: bool,
    /// Offer STLS (RFC 2595 section 4) while the session is not under TLS. The server must
    /// then be able to upgrade the connection on [`Event::StartTls`](crate::Event::StartTls).
    pub stls: bool,
    /// SASL mechanisms (RFC 5034) offered under TLS, e.g. `["PLAIN", "SCRAM-SHA-256"]`.
    /// Names are matched case-insensitively and advertised upper-cased; empty: none.
    pub sasl_mechanisms_tls: Vec<String>,
    /// SASL mechanisms offered without TLS, e.g. `["SCRAM-SHA-256"]` (or `PLAIN` where
    /// plaintext is acceptable, such as loopback). Empty: none.
    pub sasl_mechanisms_plain: Vec<String>,
    /// APOP accepted. The greeting always carries the timestamp either way.
    pub apop: bool,
    /// Failed authentications after which the session answers and closes.
    pub max_auth_failures: usize,
    /// Longest accepted command line in octets, CRLF included. Longer lines are answered
    /// with `-ERR Line too long` and discarded without being buffered.
    ///
    /// When any SASL mechanism is configured, `AUTH` command lines and SASL response lines
    /// may be up to [`MAX_SASL_LINE`] octets instead (RFC 5034 section 4: a response can
    /// carry a Kerberos ticket or a long SCRAM message).
    pub max_line: usize,
    /// Most octets of unanswered pipelined input held while the session waits for the
    /// server (an authentication or update result). Beyond it the session stops reading,
    /// answers the commands it holds, reports the overflow and closes. When SASL raises
    /// the line limit, the budget is at least one such long line.
    pub max_pipelined: usize,
    /// Offer UTF-8 mode (RFC 6856 section 2): advertise `UTF8 USER` and accept the UTF8
    /// command, after which the server gives messages with UTF-8 header fields as they
    /// are ([`Session::utf8`](crate::Session::utf8)). USER, PASS and APOP take UTF-8
    /// either way, like SASL.
    pub utf8: bool,
    /// Languages for response texts offered with LANG (RFC 6856 section 3). English, the
    /// default, is always offered; LANG is advertised when there is more than English.
    pub languages: Vec<Language>,
}

use crate::lang::Language;

/// Longest `AUTH` command line or SASL response line, CRLF included, accepted when SASL
/// mechanisms are configured.
pub const MAX_SASL_LINE: usize = 12_288;

impl Config {
    /// Whether any SASL mechanism is configured, under TLS or not.
    pub(crate) fn sasl_configured(&self) -> bool {
        !self.sasl_mechanisms_tls.is_empty() || !self.sasl_mechanisms_plain.is_empty()
    }

    /// The SASL mechanisms offered in the given TLS state.
    pub(crate) fn sasl_mechanisms(&self, tls_active: bool) -> &[String] {
        if tls_active {
            &self.sasl_mechanisms_tls
        } else {
            &self.sasl_mechanisms_plain
        }
    }

    /// Whether USER/PASS is accepted in the given TLS state.
    pub(crate) fn plaintext_allowed(&self, tls_active: bool) -> bool {
        tls_active || self.allow_plaintext
    }

    /// Whether STLS is offered in the given TLS state.
    pub(crate) fn stls_offered(&self, tls_active: bool) -> bool {
        self.stls && !tls_active
    }

    /// The languages LANG offers: English first, then the configured others, once each.
    pub(crate) fn languages(&self) -> Vec<Language> {
        let mut out = vec![Language::En];
        for &l in &self.languages {
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }

    /// The longest line the reader keeps (CRLF included).
    pub(crate) fn long_line(&self) -> usize {
        if self.sasl_configured() {
            self.max_line.max(MAX_SASL_LINE)
        } else {
            self.max_line
        }
    }
}

impl Default for Config {
    /// Conservative defaults: no plaintext login, no APOP, no STLS, no SASL (each must be
    /// enabled on purpose), UTF8 and LANG in English, Thai and Chinese, three failures, 512-octet lines (RFC 2449 allows 255 octets of
    /// command plus room for long user names) and 64 KiB of pipelined input.
    fn default() -> Self {
        Config {
            implementation: "praisani".to_owned(),
            hostname: "localhost".to_owned(),
            expire: Expire::Never,
            expire_per_user: false,
            login_delay: None,
            allow_plaintext: false,
            stls: false,
            sasl_mechanisms_tls: Vec::new(),
            sasl_mechanisms_plain: Vec::new(),
            apop: false,
            max_auth_failures: 3,
            max_line: 512,
            max_pipelined: 64 * 1024,
            utf8: true,
            languages: Language::ALL.to_vec(),
        }
    }
}

/// A message retention policy as RFC 2449 `EXPIRE` expresses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expire {
    /// Messages are kept until the client deletes them (`EXPIRE NEVER`).
    Never,
    /// Messages may be removed this many days after first retrieval (`EXPIRE n`; 0 means
    /// they may go as soon as the session that retrieved them ends).
    Days(u32),
}
