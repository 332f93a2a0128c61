//! Pulling mailboxes from a live POP3 server (`praisani import pop3`):
//! each message the praisani mailbox does not have yet — by its UIDL,
//! exactly as the old server reports it — is retrieved and stored with
//! that UIDL, so mail programs that leave mail on the server download
//! nothing twice after the switch, and a re-run copies only what is new.
//!
//! Nothing is deleted at the old server unless asked
//! ([`PullOptions::delete_at_source`]), and then only messages already
//! durably stored here, marked with `DELE` and removed by the server at
//! `QUIT`: a connection lost half-way deletes nothing.
//!
//! TLS is implicit or by STLS, the certificate checked against the
//! system's roots or a CA file; plaintext only on request, and to a
//! loopback address unless that is overridden too ([`Source::check`]).

mod conn;
#[cfg(test)]
mod fake_tests;
mod tls;

use crate::migrate::users::LineError;
use conn::{Conn, Io};
use praisani_mailaddr::Address;
use praisani_pop3::client::{self, Capabilities, Data};
use praisani_store::import::check_uidl;
use praisani_store::{ImportMessage, ImportOutcome, Spool, Store, StoreError};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpStream;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// TLS from the first byte (POP3S, port 995).
    Implicit,
    /// STLS (RFC 2595) before logging in; refused if not offered.
    StartTls,
    /// None: passwords in the clear.
    None,
}

/// Which certificates the old server may present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Those chaining to the system's trusted roots.
    System,
    /// Those chaining to a certificate of this PEM file.
    CaFile(PathBuf),
    /// Any (`--insecure`).
    Anything,
}

/// The old server.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its name (checked against its certificate) or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How the connection is secured.
    pub tls: Tls,
    /// Which certificates it may present.
    pub trust: Trust,
    /// Allow [`Tls::None`] to a host that is not a loopback address.
    pub plaintext_anywhere: bool,
}

impl Source {
    /// Refuses a plaintext connection to anything but a loopback address
    /// unless [`Source::plaintext_anywhere`].
    pub fn check(&self) -> Result<(), PullError> {
        if self.tls == Tls::None && !self.plaintext_anywhere && !is_loopback(&self.host) {
            return Err(PullError::PlaintextRefused(self.host.clone()));
        }
        Ok(())
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// `HOST:PORT` (an IPv6 address in brackets) as `--from` takes it.
pub fn parse_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// One account to pull.
#[derive(Clone)]
pub struct PullAccount {
    /// The login at the old server.
    pub user: String,
    /// Its password there.
    pub password: String,
    /// The praisani mailbox that receives its mail.
    pub to: Address,
}

// By hand: the password must not reach logs.
impl std::fmt::Debug for PullAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullAccount")
            .field("user", &self.user)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// The limits and choices of a pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// `DELE` what is stored here (else the old server keeps everything).
    pub delete_at_source: bool,
    /// Messages stored per commit.
    pub batch: usize,
    /// Time each network step may take (connect, handshake, each line).
    pub timeout: Duration,
    /// Time the server's greeting may take: short, so a plain connection
    /// to an implicit-TLS port (where the server waits for the client's
    /// TLS hello and says nothing) fails quickly with a hint.
    pub greeting_timeout: Duration,
    /// Messages larger than this (by `LIST`) are left and reported.
    pub max_message: u64,
    /// Longest line read from the server.
    pub max_line: usize,
    /// Most messages a listing may have.
    pub max_messages: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            delete_at_source: false,
            batch: 100,
            timeout: Duration::from_secs(60),
            greeting_timeout: Duration::from_secs(5),
            max_message: 100 << 20,
            max_line: 1 << 20,
            max_messages: 1_000_000,
        }
    }
}

/// What a pull did for one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullReport {
    /// Messages the old server listed.
    pub listed: usize,
    /// Messages copied in this run.
    pub copied: usize,
    /// Messages already here (earlier runs).
    pub already: usize,
    /// Octets copied.
    pub bytes: u64,
    /// Messages left because they are larger than the limit: their UIDLs.
    pub too_large: Vec<String>,
    /// Messages deleted at the old server.
    pub deleted: usize,
}

/// What a pull tells its progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The listing is read: this many messages will be copied.
    ToCopy(usize),
    /// One more message was retrieved (its octets).
    Copied(u64),
}

/// Why a pull of one account failed. Messages stored before the failure
/// stay stored (a re-run skips them); nothing was deleted at the source
/// unless its `QUIT` went through.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// `--tls none` to a remote host without the override.
    #[error(
        "refusing to send passwords in the clear to {0} (only to a loopback address; --insecure-plaintext to allow)"
    )]
    PlaintextRefused(String),
    /// The TLS settings cannot be used.
    #[error("TLS setup: {0}")]
    TlsSetup(String),
    /// A TLS handshake failed (a certificate not trusted, a wrong name…).
    #[error("TLS with {host} failed: {reason}")]
    Tls {
        /// The host.
        host: String,
        /// What went wrong.
        reason: String,
    },
    /// No greeting came in time on a plain connection: likely an
    /// implicit-TLS port.
    #[error(
        "no POP3 greeting from {host}:{port} within {secs} s — is it an implicit-TLS port? try --tls implicit"
    )]
    NoGreeting {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The wait, in seconds.
        secs: u64,
    },
    /// The TLS handshake got plain POP3 (`+OK`…): not an implicit-TLS port.
    #[error("TLS with {host}:{port} failed: the server spoke plain POP3 — try --tls starttls")]
    PlainNotTls {
        /// The host.
        host: String,
        /// The port.
        port: u16,
    },
    /// The server does not offer STLS.
    #[error("the server does not offer STLS (try --tls implicit on its POP3S port)")]
    NoStartTls,
    /// The network failed.
    #[error("{step}: {source}")]
    Io {
        /// The step.
        step: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The server closed the connection.
    #[error("{0}: the server closed the connection")]
    Closed(&'static str),
    /// A step took longer than the timeout.
    #[error("{0}: timed out")]
    TimedOut(&'static str),
    /// The server said something a POP3 server does not say.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server refused a command.
    #[error("{step}: the server said -ERR {text}")]
    Refused {
        /// The step.
        step: &'static str,
        /// Its text.
        text: String,
    },
    /// The login was refused.
    #[error("login refused by the old server: {0}")]
    Login(String),
    /// The praisani mailbox does not exist.
    #[error("no mailbox {0} here (import the users first)")]
    NoMailbox(Address),
    /// The server lists a UIDL this store cannot keep.
    #[error("the old server's UIDL {uidl:?} of message {msgno} cannot be kept: {reason}")]
    BadUidl {
        /// The message number.
        msgno: u32,
        /// The UIDL.
        uidl: String,
        /// Why.
        reason: String,
    },
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PullError {
    fn io(step: &'static str, source: std::io::Error) -> PullError {
        PullError::Io { step, source }
    }
}

fn refused(step: &'static str, s: client::Status) -> PullError {
    PullError::Refused { step, text: s.text }
}

/// Connects and logs in: a connection in the TRANSACTION state.
async fn open(
    source: &Source,
    account: &PullAccount,
    options: &PullOptions,
) -> Result<Conn<Box<dyn Io>>, PullError> {
    source.check()?;
    let tcp = tokio::time::timeout(
        options.timeout,
        TcpStream::connect((source.host.as_str(), source.port)),
    )
    .await
    .map_err(|_| PullError::TimedOut("connect"))?
    .map_err(|e| PullError::io("connect", e))?;
    let mut conn: Conn<Box<dyn Io>> = match source.tls {
        Tls::None => {
            let mut c = Conn::new(
                Box::new(tcp) as Box<dyn Io>,
                options.timeout,
                options.max_line,
            );
            plain_greeting(&mut c, source, options).await?;
            c
        }
        Tls::Implicit => {
            let tls = handshake(source, tcp, options.timeout).await?;
            let mut c = Conn::new(
                Box::new(tls) as Box<dyn Io>,
                options.timeout,
                options.max_line,
            );
            greeting(&mut c).await?;
            c
        }
        Tls::StartTls => {
            let mut c = Conn::new(tcp, options.timeout, options.max_line);
            plain_greeting(&mut c, source, options).await?;
            let caps = capabilities(&mut c).await?;
            if caps.as_ref().is_some_and(|c| !c.stls) {
                return Err(PullError::NoStartTls);
            }
            let s = c.command("STLS", &[], "STLS").await?;
            if !s.ok {
                return Err(PullError::NoStartTls);
            }
            // Anything the server sent after its +OK came before TLS and
            // could be an attacker's (the STARTTLS injection).
            if !c.r.buffer().is_empty() {
                return Err(PullError::Protocol(
                    "the server sent data after +OK to STLS".into(),
                ));
            }
            let tls = handshake(source, c.r.into_inner(), options.timeout).await?;
            Conn::new(
                Box::new(tls) as Box<dyn Io>,
                options.timeout,
                options.max_line,
            )
        }
    };
    login(&mut conn, account).await?;
    Ok(conn)
}

async fn greeting<S: Io>(c: &mut Conn<S>) -> Result<(), PullError> {
    let s = c.status("greeting").await?;
    if !s.ok {
        return Err(refused("greeting", s));
    }
    Ok(())
}

/// The greeting on a plain connection, within
/// [`PullOptions::greeting_timeout`].
async fn plain_greeting<S: Io>(
    c: &mut Conn<S>,
    source: &Source,
    options: &PullOptions,
) -> Result<(), PullError> {
    let wait = options.greeting_timeout.min(options.timeout);
    match tokio::time::timeout(wait, greeting(c)).await {
        Ok(r) => r,
        Err(_) => Err(PullError::NoGreeting {
            host: source.host.clone(),
            port: source.port,
            secs: wait.as_secs_f64().ceil() as u64,
        }),
    }
}

/// Whether a handshake error says the peer sent something that is not
/// TLS at all (a plain POP3 server's `+OK` greeting).
fn not_tls(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .is_some_and(|r| matches!(r, rustls::Error::InvalidMessage(_)))
}

async fn handshake(
    source: &Source,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, PullError> {
    let connector = tls::connector(&source.trust)?;
    let name = rustls::pki_types::ServerName::try_from(source.host.clone()).map_err(|e| {
        PullError::TlsSetup(format!("{} is not a TLS server name: {e}", source.host))
    })?;
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) if not_tls(&e) => Err(PullError::PlainNotTls {
            host: source.host.clone(),
            port: source.port,
        }),
        Ok(Err(e)) => Err(PullError::Tls {
            host: source.host.clone(),
            reason: e.to_string(),
        }),
        Err(_) => Err(PullError::TimedOut("TLS handshake")),
    }
}

/// CAPA's answer, `None` for a server without CAPA (RFC 1939 only).
async fn capabilities<S: Io>(c: &mut Conn<S>) -> Result<Option<Capabilities>, PullError> {
    let s = c.command("CAPA", &[], "CAPA").await?;
    if !s.ok {
        return Ok(None);
    }
    let lines = c.lines("CAPA", 1000).await?;
    Ok(Some(Capabilities::parse(lines.iter().map(Vec::as_slice))))
}

/// SASL PLAIN when offered (it carries any UTF-8 password), else USER/PASS.
async fn login(c: &mut Conn<Box<dyn Io>>, account: &PullAccount) -> Result<(), PullError> {
    let caps = capabilities(c).await?.unwrap_or_default();
    let s = if caps.offers("PLAIN") {
        let mut raw = vec![0u8];
        raw.extend_from_slice(account.user.as_bytes());
        raw.push(0);
        raw.extend_from_slice(account.password.as_bytes());
        let b64 = praisani_message::base64::encode(&raw);
        c.command("AUTH", &["PLAIN", &b64], "AUTH PLAIN").await?
    } else {
        let s = c.command("USER", &[&account.user], "USER").await?;
        if !s.ok {
            return Err(PullError::Login(s.text));
        }
        c.command("PASS", &[&account.password], "PASS").await?
    };
    if !s.ok {
        return Err(PullError::Login(s.text));
    }
    Ok(())
}

/// A `UIDL` or `LIST` listing by message number.
async fn listing(
    c: &mut Conn<Box<dyn Io>>,
    verb: &'static str,
    max: usize,
) -> Result<BTreeMap<u32, String>, PullError> {
    let s = c.command(verb, &[], verb).await?;
    if !s.ok {
        return Err(refused(verb, s));
    }
    let mut out = BTreeMap::new();
    for line in c.lines(verb, max).await? {
        let (n, arg) =
            client::listing(&line).map_err(|e| PullError::Protocol(format!("{verb}: {e}")))?;
        out.insert(n, arg);
    }
    Ok(out)
}

/// Retrieves message `n` into a spool (CRLF line ends, byte-stuffing
/// undone), its downgraded header attached when it has UTF-8.
async fn retrieve(
    c: &mut Conn<Box<dyn Io>>,
    store: &dyn Store,
    n: u32,
    max: u64,
) -> Result<(Spool, i64), PullError> {
    let s = c.command("RETR", &[&n.to_string()], "RETR").await?;
    if !s.ok {
        return Err(refused("RETR", s));
    }
    let mut spool = store.new_spool();
    let (mut header, mut in_header, mut size) = (Vec::new(), true, 0u64);
    loop {
        let line = c.line("RETR").await?;
        let Data::Line(text) = client::data(&line) else {
            break;
        };
        size += text.len() as u64 + 2;
        if size > max + 2 {
            return Err(PullError::Protocol(format!(
                "message {n} is larger than LIST said (over {max} octets)"
            )));
        }
        spool
            .write(text)
            .and_then(|_| spool.write(b"\r\n"))
            .map_err(|e| PullError::Store(StoreError::from(e)))?;
        if in_header {
            header.extend_from_slice(text);
            header.extend_from_slice(b"\r\n");
            in_header = !text.is_empty();
        }
    }
    if let Some(d) = crate::downgrade::for_storage(&header) {
        spool.set_downgrade(d);
    }
    Ok((spool, arrival(&header)))
}

/// When a message arrived, as best known: its `Date:` unless that is in
/// the future or unreadable, else now (POP3 does not say).
fn arrival(header: &[u8]) -> i64 {
    let now = chrono::Utc::now().timestamp();
    mail_parser::MessageParser::new()
        .parse_headers(header)
        .and_then(|m| m.date().map(|d| d.to_timestamp()))
        .filter(|&t| t > 0 && t <= now)
        .unwrap_or(now)
}

/// Pulls one account: lists the old mailbox, copies what is new in
/// batches of [`PullOptions::batch`], each stored in one commit, `DELE`s
/// what is stored when asked, and `QUIT`s.
pub async fn pull(
    store: &dyn Store,
    source: &Source,
    account: &PullAccount,
    options: &PullOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<PullReport, PullError> {
    let mailbox = store
        .account_get(&account.to)
        .await?
        .ok_or_else(|| PullError::NoMailbox(account.to.clone()))?;
    let mut c = open(source, account, options).await?;
    let uidls = listing(&mut c, "UIDL", options.max_messages).await?;
    let sizes = listing(&mut c, "LIST", options.max_messages).await?;
    for (&msgno, uidl) in &uidls {
        check_uidl(uidl).map_err(|e| PullError::BadUidl {
            msgno,
            uidl: uidl.clone(),
            reason: e.to_string(),
        })?;
    }
    let here: HashSet<String> = store
        .list_messages(mailbox.id)
        .await?
        .into_iter()
        .map(|m| m.uidl)
        .collect();
    let mut report = PullReport {
        listed: uidls.len(),
        ..PullReport::default()
    };
    let (mut todo, mut stored) = (vec![], vec![]);
    for (&n, uidl) in &uidls {
        let size: u64 = sizes.get(&n).and_then(|s| s.parse().ok()).unwrap_or(0);
        if here.contains(uidl) {
            report.already += 1;
            stored.push(n);
        } else if size > options.max_message {
            report.too_large.push(uidl.clone());
        } else {
            todo.push((n, uidl.clone()));
        }
    }
    progress(Progress::ToCopy(todo.len()));
    if options.delete_at_source {
        dele(&mut c, &stored).await?;
        report.deleted += stored.len();
    }
    for chunk in todo.chunks(options.batch.max(1)) {
        let mut batch = Vec::with_capacity(chunk.len());
        for (n, uidl) in chunk {
            let (body, received) = retrieve(&mut c, store, *n, options.max_message).await?;
            let bytes = body.len();
            batch.push(ImportMessage {
                body,
                uidl: Some(uidl.clone()),
                received,
                retrieved: None,
            });
            report.bytes += bytes;
            progress(Progress::Copied(bytes));
        }
        // Durable before anything is deleted at the source.
        let outcomes = store.import_messages(mailbox.id, batch).await?;
        for o in &outcomes {
            match o {
                ImportOutcome::Imported(_) => report.copied += 1,
                ImportOutcome::AlreadyThere(_) => report.already += 1,
            }
        }
        if options.delete_at_source {
            let numbers: Vec<u32> = chunk.iter().map(|(n, _)| *n).collect();
            dele(&mut c, &numbers).await?;
            report.deleted += numbers.len();
        }
    }
    let s = c.command("QUIT", &[], "QUIT").await?;
    if !s.ok {
        // The server did not commit its deletions.
        report.deleted = 0;
        if options.delete_at_source {
            return Err(refused("QUIT", s));
        }
    }
    Ok(report)
}

async fn dele(c: &mut Conn<Box<dyn Io>>, numbers: &[u32]) -> Result<(), PullError> {
    for n in numbers {
        let s = c.command("DELE", &[&n.to_string()], "DELE").await?;
        if !s.ok {
            return Err(refused("DELE", s));
        }
    }
    Ok(())
}

/// Reads a CSV of accounts to pull: a header naming `user` and `password`
/// and optionally `to` (the praisani mailbox; default: `user`). Every
/// wrong line is listed.
pub fn parse_accounts(text: &str) -> Result<Vec<PullAccount>, Vec<LineError>> {
    let err = |line: usize, message: String| LineError { line, message };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| vec![err(1, format!("unreadable header: {e}"))])?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(user_col), Some(pw_col)) = (col("user"), col("password")) else {
        return Err(vec![err(
            1,
            "the header must name the columns user and password (and optionally to)".into(),
        )]);
    };
    let to_col = col("to");
    let (mut out, mut errors) = (vec![], vec![]);
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(err(line, format!("unreadable CSV: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let user = record.get(user_col).unwrap_or("").to_string();
        let password = record.get(pw_col).unwrap_or("").to_string();
        let to = to_col
            .and_then(|c| record.get(c))
            .filter(|t| !t.is_empty())
            .unwrap_or(&user);
        if user.is_empty() || password.is_empty() {
            errors.push(err(line, "user and password are required".into()));
            continue;
        }
        match Address::parse(to) {
            Ok(to) => out.push(PullAccount { user, password, to }),
            Err(_) => errors.push(err(
                line,
                format!("{to:?} is not a valid mail address (give a \"to\" column)"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_only_to_loopback() {
        let s = |host: &str, tls, anywhere| Source {
            host: host.into(),
            port: 110,
            tls,
            trust: Trust::System,
            plaintext_anywhere: anywhere,
        };
        assert!(s("127.0.0.1", Tls::None, false).check().is_ok());
        assert!(s("::1", Tls::None, false).check().is_ok());
        assert!(s("localhost", Tls::None, false).check().is_ok());
        assert!(matches!(
            s("pop.example.net", Tls::None, false).check(),
            Err(PullError::PlaintextRefused(_))
        ));
        assert!(s("pop.example.net", Tls::None, true).check().is_ok());
        assert!(s("pop.example.net", Tls::StartTls, false).check().is_ok());
    }

    #[test]
    fn host_ports_and_accounts() {
        assert_eq!(
            parse_host_port("pop.example.net:995"),
            Some(("pop.example.net".into(), 995))
        );
        assert_eq!(parse_host_port("[::1]:110"), Some(("::1".into(), 110)));
        assert_eq!(parse_host_port("pop.example.net"), None);
        let a = parse_accounts(
            "user,password,to\nold@example.net,pw,new@example.test\nx@example.test,secret,\n",
        )
        .unwrap();
        assert_eq!(a[0].to.to_string(), "new@example.test");
        assert_eq!(a[1].to.to_string(), "x@example.test");
        let e = parse_accounts("user,password\nlogin,pw\nb@example.test,\n").unwrap_err();
        assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn arrival_from_date() {
        assert_eq!(
            arrival(b"Date: Thu, 01 Jan 2015 00:00:00 +0000\r\nSubject: x\r\n\r\n"),
            1_420_070_400
        );
        let now = chrono::Utc::now().timestamp();
        assert!(arrival(b"Subject: x\r\n\r\n") >= now);
    }
}
