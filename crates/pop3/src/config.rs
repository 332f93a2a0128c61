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
    /// USER/PASS allowed on this connection (the server decides, e.g. by TLS or loopback).
    /// When false, USER and PASS are refused with `[AUTH]` and `USER` is not advertised.
    pub allow_plaintext: bool,
    /// APOP accepted. The greeting always carries the timestamp either way.
    pub apop: bool,
    /// Failed authentications after which the session answers and closes.
    pub max_auth_failures: usize,
    /// Longest accepted command line in octets, CRLF included. Longer lines are answered
    /// with `-ERR Line too long` and discarded without being buffered.
    pub max_line: usize,
    /// Most octets of unanswered pipelined input held while the session waits for the
    /// server (an authentication or update result). Beyond it the session stops reading,
    /// answers the commands it holds, reports the overflow and closes.
    pub max_pipelined: usize,
}

impl Default for Config {
    /// Conservative defaults: no plaintext login, no APOP (both must be enabled on purpose),
    /// three failures, 512-octet lines (RFC 2449 allows 255 octets of command plus room for
    /// long user names) and 64 KiB of pipelined input.
    fn default() -> Self {
        Config {
            implementation: "praisani".to_owned(),
            hostname: "localhost".to_owned(),
            expire: Expire::Never,
            expire_per_user: false,
            login_delay: None,
            allow_plaintext: false,
            apop: false,
            max_auth_failures: 3,
            max_line: 512,
            max_pipelined: 64 * 1024,
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
