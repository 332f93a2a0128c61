//! Shared helpers for the integration tests: start the real `praisani`
//! binary on loopback with its own ports and data directory, run the CLI
//! against it, and speak raw SMTP / POP3 for checks that need byte-level
//! control. Third-party clients (python3, curl, swaks, mpop) are run via
//! `run_cmd` with a timeout.

#![allow(dead_code)]

pub mod certs;
pub mod dovecot;
pub mod policy_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_praisani");
pub const DEMO_USER: &str = "demo@example.test";
pub const DEMO_PASS: &str = "demo-pass";

/// A free loopback port (bind :0, read, drop). Racy by nature; `Server::start`
/// retries with new ports when the bind fails.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// A unique token for subjects / bodies.
pub fn token(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{t:x}-{n}", std::process::id())
}

// ---------------------------------------------------------------------------
// External tools
// ---------------------------------------------------------------------------

fn tools_required() -> bool {
    std::env::var("PRAISANI_REQUIRE_TOOLS")
        .map(|v| v == "1")
        .unwrap_or(false)
}

/// Is `tool` runnable? If not: panics when PRAISANI_REQUIRE_TOOLS=1, else
/// prints `SKIPPED: <tool> not installed (<test>)` and returns false.
pub fn have_tool(tool: &str, test: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if ok {
        return true;
    }
    let name = std::thread::current()
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| test.to_string());
    if tools_required() {
        panic!("{tool} is not installed but PRAISANI_REQUIRE_TOOLS=1 ({name})");
    }
    // Straight to the process's stderr: libtest captures eprintln! output of
    // passing tests, and a skip must stay visible.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {tool} not installed ({name})");
    false
}

/// `require_tool!("swaks")` at the top of a test: returns early (skip) when the
/// tool is missing, unless PRAISANI_REQUIRE_TOOLS=1.
#[macro_export]
macro_rules! require_tool {
    ($tool:expr) => {
        if !common::have_tool($tool, module_path!()) {
            return;
        }
    };
}

pub struct CmdOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CmdOutput {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    pub fn describe(&self) -> String {
        format!(
            "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.out(),
            self.err()
        )
    }
    #[track_caller]
    pub fn assert_ok(&self, what: &str) -> &Self {
        assert!(self.status.success(), "{what} failed: {}", self.describe());
        self
    }
}

/// Runs a command with optional stdin and a hard timeout (the child is
/// killed and the test fails when it is exceeded).
pub fn run_cmd(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> CmdOutput {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    if let Some(input) = stdin {
        let mut si = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = si.write_all(&input);
        });
    }
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let to = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let te = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = to.join().unwrap();
            let stderr = te.join().unwrap();
            panic!(
                "{cmd:?} timed out after {timeout:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CmdOutput {
        status,
        stdout: to.join().unwrap(),
        stderr: te.join().unwrap(),
    }
}

/// Runs a python3 script (passed with -c) with arguments.
pub fn python(script: &str, args: &[&str], timeout: Duration) -> CmdOutput {
    let mut c = Command::new("python3");
    c.arg("-c").arg(script).args(args);
    run_cmd(&mut c, None, timeout)
}

/// Is the python3 module `module` importable? Like `have_tool`: panics when
/// PRAISANI_REQUIRE_TOOLS=1, else prints a SKIPPED line and returns false.
pub fn have_python_module(module: &str, install_hint: &str, test: &str) -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg(format!("import {module}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return true;
    }
    let name = std::thread::current()
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| test.to_string());
    if tools_required() {
        panic!(
            "python3 module {module} is not installed ({install_hint}) but PRAISANI_REQUIRE_TOOLS=1 ({name})"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: python3 module {module} not installed, {install_hint} ({name})"
    );
    false
}

/// Python helpers prepended by `python_tls`: a line reader over a socket
/// that can be upgraded to TLS in place, SMTP/POP3 reply readers, and an
/// unverified TLS context (the server's certificate is self-signed).
pub const PY_HELPERS: &str = r#"
import base64, socket, ssl, sys, time

def tls_ctx(max12=False):
    c = ssl._create_unverified_context()
    c.minimum_version = ssl.TLSVersion.TLSv1_2
    if max12:
        c.maximum_version = ssl.TLSVersion.TLSv1_2
    return c

def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()

class Conn:
    def __init__(self, port, implicit_tls=False, timeout=30, source=None):
        # `source`: another loopback address (127.0.0.2, ...) to come from.
        s = socket.create_connection(('127.0.0.1', port), timeout=timeout,
                                     source_address=(source, 0) if source else None)
        if implicit_tls:
            s = tls_ctx().wrap_socket(s, server_hostname='mx.example.test')
        self.s = s
        self.buf = b''
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)
    def line(self):
        while b'\r\n' not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError('connection closed; pending %r' % self.buf)
            self.buf += d
        l, self.buf = self.buf.split(b'\r\n', 1)
        return l.decode('utf-8', 'replace')
    def reply(self):
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if len(l) < 4 or l[3] != '-':
                return int(l[:3]), lines
    def cmd(self, c):
        self.send(c + '\r\n')
        return self.reply()
    def expect(self, c, code):
        r = self.cmd(c)
        assert r[0] == code, (c, r)
        return r
    def pcmd(self, c):
        self.send(c + '\r\n')
        return self.line()
    def pok(self, c):
        r = self.pcmd(c)
        assert r.startswith('+OK'), (c, r)
        return r
    def multiline(self):
        out = []
        while True:
            l = self.line()
            if l == '.':
                return out
            out.append(l[1:] if l.startswith('.') else l)
    def upgrade(self, ctx=None):
        # Anything the server sent after the STARTTLS/STLS reply, before the
        # handshake, is a protocol error (it would be plaintext).
        assert self.buf == b'', 'plaintext data after the TLS go-ahead: %r' % self.buf
        self.s = (ctx or tls_ctx()).wrap_socket(self.s, server_hostname='mx.example.test')
    def quiet(self, secs=0.5):
        # True when the server sends nothing unsolicited for `secs`.
        if self.buf:
            return False
        self.s.settimeout(secs)
        try:
            d = self.s.recv(65536)
        except (socket.timeout, TimeoutError):
            return True
        finally:
            self.s.settimeout(30)
        self.buf += d
        return False
    def fingerprint(self):
        import hashlib
        return hashlib.sha256(self.s.getpeercert(binary_form=True)).hexdigest().upper()
    def close(self):
        try:
            self.s.close()
        except Exception:
            pass
"#;

/// Runs a python3 script with `PY_HELPERS` prepended.
pub fn python_tls(script: &str, args: &[&str], timeout: Duration) -> CmdOutput {
    python(&format!("{PY_HELPERS}\n{script}"), args, timeout)
}

/// Asserts a python script printed `OK` as its last line and exited 0.
#[track_caller]
pub fn assert_py_ok(out: &CmdOutput, what: &str) {
    assert!(
        out.status.success() && out.out().lines().last() == Some("OK"),
        "{what}: {}",
        out.describe()
    );
}

/// Standard base64 (for SASL lines in raw sessions).
pub fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The SASL PLAIN initial response for `user` / `pass`.
pub fn plain_b64(user: &str, pass: &str) -> String {
    b64(format!("\0{user}\0{pass}").as_bytes())
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

pub struct Server {
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub config_path: PathBuf,
    pub smtp_port: u16,
    pub pop3_port: u16,
    /// Submission (STARTTLS + AUTH), 0 unless `ExtraConfig::tls_listeners`.
    pub submission_port: u16,
    /// Submission over implicit TLS, 0 unless `ExtraConfig::tls_listeners`.
    pub submissions_port: u16,
    /// POP3 over implicit TLS, 0 unless `ExtraConfig::tls_listeners`.
    pub pop3s_port: u16,
    /// Auto-configuration over HTTP, 0 unless `ExtraConfig::http_listeners`.
    pub http_port: u16,
    /// Auto-configuration over HTTPS, 0 unless `ExtraConfig::http_listeners`.
    pub https_port: u16,
    /// Extra lines appended to the `[limits]` table.
    limits_extra: String,
    extra: ExtraConfig,
    demo: bool,
    child: Option<Child>,
    /// How many times the server was started (for log file names).
    generation: u32,
}

pub struct ServerOpts {
    /// Run `serve --demo` (creates demo@example.test / demo-pass, APOP enabled).
    pub demo: bool,
    /// Extra `key = value` lines for the `[limits]` table.
    pub limits: String,
}

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            demo: true,
            limits: String::new(),
        }
    }
}

/// Configuration beyond `ServerOpts` (kept separate so the existing
/// `ServerOpts { .. }` literals stay valid).
#[derive(Clone, Debug)]
pub struct ExtraConfig {
    /// Also listen for submission, submissions and pop3s on free ports.
    pub tls_listeners: bool,
    /// Top-level `key = value` lines (e.g. `trusted_networks = [...]`).
    pub top: String,
    /// Whole tables appended at the end (`[tls]`, `[smtp]`, `[submission]`).
    pub tables: String,
    /// The TOML value of `[pop3] allow_plaintext` (`true`, `false`, `"loopback"`).
    pub pop3_allow_plaintext: String,
    /// Also listen for HTTP and HTTPS (auto-configuration) on free ports.
    pub http_listeners: bool,
}

impl Default for ExtraConfig {
    fn default() -> Self {
        ExtraConfig {
            tls_listeners: false,
            top: String::new(),
            tables: String::new(),
            pop3_allow_plaintext: "true".into(),
            http_listeners: false,
        }
    }
}

impl ExtraConfig {
    /// TLS listeners on, nothing else changed.
    pub fn tls() -> ExtraConfig {
        ExtraConfig {
            tls_listeners: true,
            ..ExtraConfig::default()
        }
    }
}

impl Server {
    /// A server with its own temporary directory and ports, not yet started.
    pub fn new(opts: ServerOpts) -> Server {
        Server::new_extra(opts, ExtraConfig::default())
    }

    /// Like `new`, with extra configuration.
    pub fn new_extra(opts: ServerOpts, extra: ExtraConfig) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("praisani-it-")
            .tempdir()
            .expect("tempdir");
        let data_dir = dir.path().join("data");
        let config_path = dir.path().join("praisani.toml");
        let mut s = Server {
            data_dir,
            config_path,
            smtp_port: 0,
            pop3_port: 0,
            submission_port: 0,
            submissions_port: 0,
            pop3s_port: 0,
            http_port: 0,
            https_port: 0,
            limits_extra: opts.limits,
            extra,
            demo: opts.demo,
            child: None,
            generation: 0,
            dir,
        };
        s.new_ports();
        s
    }

    /// Created and started (demo account present).
    pub fn start_default() -> Server {
        Server::start_with(ServerOpts::default())
    }

    pub fn start_with(opts: ServerOpts) -> Server {
        let mut s = Server::new(opts);
        s.start();
        s
    }

    /// Created with extra configuration and started.
    pub fn start_extra(opts: ServerOpts, extra: ExtraConfig) -> Server {
        let mut s = Server::new_extra(opts, extra);
        s.start();
        s
    }

    fn new_ports(&mut self) {
        if self.extra.tls_listeners {
            // Hold all five at once so they differ.
            let ls: Vec<TcpListener> = (0..5)
                .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
                .collect();
            let p: Vec<u16> = ls.iter().map(|l| l.local_addr().unwrap().port()).collect();
            drop(ls);
            self.smtp_port = p[0];
            self.pop3_port = p[1];
            self.submission_port = p[2];
            self.submissions_port = p[3];
            self.pop3s_port = p[4];
        } else {
            self.smtp_port = free_port();
            loop {
                self.pop3_port = free_port();
                if self.pop3_port != self.smtp_port {
                    break;
                }
            }
        }
        if self.extra.http_listeners {
            let taken = [
                self.smtp_port,
                self.pop3_port,
                self.submission_port,
                self.submissions_port,
                self.pop3s_port,
            ];
            loop {
                let ls: Vec<TcpListener> = (0..2)
                    .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
                    .collect();
                let p: Vec<u16> = ls.iter().map(|l| l.local_addr().unwrap().port()).collect();
                if !p.iter().any(|x| taken.contains(x)) {
                    self.http_port = p[0];
                    self.https_port = p[1];
                    break;
                }
            }
        }
        self.write_config();
    }

    fn listen_line(port: u16) -> String {
        if port == 0 {
            "[]".into()
        } else {
            format!("[\"127.0.0.1:{port}\"]")
        }
    }

    pub fn config_text(&self) -> String {
        format!(
            r#"hostname = "mx.example.test"
data_dir = "{data}"
{postmaster}{top}
[listen]
smtp = ["127.0.0.1:{smtp}"]
submission = {submission}
submissions = {submissions}
pop3 = ["127.0.0.1:{pop3}"]
pop3s = {pop3s}
http = {http}
https = {https}
[limits]
auth_failure_delay = "100ms"
{extra}
[pop3]
allow_plaintext = {plaintext}
login_delay = 0
{tables}
{trust}"#,
            data = self.data_dir.display(),
            // `serve` needs one; a test that sets its own wins.
            postmaster = if self.extra.top.contains("postmaster") {
                ""
            } else {
                "postmaster = \"demo@example.test\"\n"
            },
            top = self.extra.top,
            smtp = self.smtp_port,
            pop3 = self.pop3_port,
            submission = Self::listen_line(self.submission_port),
            submissions = Self::listen_line(self.submissions_port),
            pop3s = Self::listen_line(self.pop3s_port),
            http = Self::listen_line(self.http_port),
            https = Self::listen_line(self.https_port),
            extra = self.limits_extra,
            plaintext = self.extra.pop3_allow_plaintext,
            tables = self.extra.tables,
            // The tests send from 127.0.0.1 as senders of domains nobody
            // publishes, with no DNS to ask: the trust checks stay off
            // unless a test sets up its own `[trust]` (and DNS).
            trust = if self.extra.tables.contains("[trust") {
                ""
            } else {
                "[trust]\nenabled = false\n"
            },
        )
    }

    fn write_config(&self) {
        std::fs::write(&self.config_path, self.config_text()).expect("write config");
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log_paths(&self) -> (PathBuf, PathBuf) {
        (
            self.path(&format!("server-{}.out", self.generation)),
            self.path(&format!("server-{}.err", self.generation)),
        )
    }

    /// The server's stderr (log) of the current/last run, for failure messages.
    pub fn log(&self) -> String {
        let (o, e) = self.log_paths();
        format!(
            "--- server stdout ---\n{}\n--- server stderr (tail) ---\n{}",
            std::fs::read_to_string(o).unwrap_or_default(),
            tail(&std::fs::read_to_string(e).unwrap_or_default(), 40)
        )
    }

    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(self.log_paths().0).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Starts `serve` and waits until both listeners answer. Retries with new
    /// ports when another process grabbed one of ours meanwhile.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "server already running");
        for attempt in 0..4 {
            self.generation += 1;
            let (o, e) = self.log_paths();
            let mut cmd = Command::new(BIN);
            cmd.arg("--config").arg(&self.config_path).arg("serve");
            if self.demo {
                cmd.arg("--demo");
            }
            cmd.env("PRAISANI_LOG", "info")
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&o).unwrap())
                .stderr(std::fs::File::create(&e).unwrap());
            let mut child = cmd.spawn().expect("spawn praisani serve");
            match wait_ready(
                &mut child,
                self.smtp_port,
                self.pop3_port,
                self.submission_port,
            ) {
                Ok(()) => {
                    self.child = Some(child);
                    return;
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let err = std::fs::read_to_string(&e).unwrap_or_default();
                    if err.contains("cannot bind") && attempt < 3 {
                        self.new_ports();
                        continue;
                    }
                    panic!("server did not start: {why}\n{}", self.log());
                }
            }
        }
    }

    /// Sends SIGTERM and waits (≤ 20 s) for the exit status.
    pub fn stop_term(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server running");
        let st = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not exit within 20 s of SIGTERM\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGKILL (Child::kill) and reap.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("server running");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }

    /// Restart on the same data dir; with `new_ports` the listeners move.
    pub fn restart(&mut self, new_ports: bool) {
        if new_ports {
            self.new_ports();
        }
        self.start();
    }

    /// Runs `praisani --config <cfg> ARGS` with optional stdin.
    pub fn cli(&self, args: &[&str]) -> CmdOutput {
        self.cli_stdin(args, None)
    }

    pub fn cli_stdin(&self, args: &[&str], stdin: Option<&str>) -> CmdOutput {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&self.config_path)
            .args(args)
            .env("NO_COLOR", "1");
        run_cmd(&mut c, stdin.map(|s| s.as_bytes()), Duration::from_secs(30))
    }

    /// A POP3 USER/PASS login and STAT by poplib: `OK`, or `FAIL` and the
    /// server's error.
    pub fn poplib_login(&self, user: &str, password: &str) -> String {
        let out = python(
            r#"
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
try:
    p.user(sys.argv[2])
    p.pass_(sys.argv[3])
    p.stat()
    p.quit()
    print("OK")
except poplib.error_proto as e:
    print("FAIL", e)
"#,
            &[&self.pop3_port.to_string(), user, password],
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "poplib: {}", out.describe());
        out.out().trim().to_string()
    }

    /// An SMTP AUTH PLAIN login on submission by smtplib: `OK`, or `FAIL`
    /// and the reply code.
    pub fn smtplib_login(&self, user: &str, password: &str) -> String {
        let out = python(
            r#"
import smtplib, sys
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
c.ehlo('client.test')
try:
    c.login(sys.argv[2], sys.argv[3], initial_response_ok=True)
    print("OK")
except smtplib.SMTPAuthenticationError as e:
    print("FAIL", e.smtp_code)
c.quit()
"#,
            &[&self.submission_port.to_string(), user, password],
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "smtplib: {}", out.describe());
        out.out().trim().to_string()
    }

    /// `domain add` (ok if it already exists is NOT accepted: must succeed).
    pub fn add_domain(&self, d: &str) {
        self.cli(&["domain", "add", d])
            .assert_ok(&format!("domain add {d}"));
    }

    /// `user add ADDRESS --password-stdin [extra]`.
    pub fn add_user(&self, addr: &str, pass: &str, extra: &[&str]) {
        let mut args = vec!["user", "add", addr, "--password-stdin"];
        args.extend_from_slice(extra);
        self.cli_stdin(&args, Some(&format!("{pass}\n")))
            .assert_ok(&format!("user add {addr}"));
    }

    pub fn smtp(&self) -> Smtp {
        Smtp::connect(self.smtp_port)
    }

    pub fn pop3(&self) -> Pop3 {
        Pop3::connect(self.pop3_port)
    }

    /// A plaintext connection to the submission listener (greeting read).
    pub fn submission(&self) -> Smtp {
        assert_ne!(self.submission_port, 0, "submission listener not enabled");
        Smtp::connect(self.submission_port)
    }

    /// The file holding the server's stderr (log) of the current run.
    pub fn stderr_path(&self) -> PathBuf {
        self.log_paths().1
    }

    /// The server's whole stderr (log) of the current run.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.log_paths().1).unwrap_or_default()
    }

    /// Waits until the log of the current run contains `needle` `n` times.
    pub fn wait_log_count(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr_text().matches(needle).count() >= n {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Sends a signal (`HUP`, `TERM`, …) to the running server.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{sig} failed");
    }

    /// Logs in to POP3, retrying while the maildrop is still locked
    /// (`[IN-USE]`) by a session that is closing.
    pub fn pop3_login(&self, user: &str, pass: &str) -> Pop3 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut p = self.pop3();
            match p.try_login(user, pass) {
                Ok(()) => return p,
                Err(line) if line.contains("[IN-USE]") && Instant::now() < deadline => {
                    drop(p);
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(line) => panic!("POP3 login {user} failed: {line}\n{}", self.log()),
            }
        }
    }

    /// All messages of a mailbox (RETR, dot-unstuffed, CRLF kept), without deleting.
    pub fn fetch_all(&self, user: &str, pass: &str) -> Vec<Vec<u8>> {
        let mut p = self.pop3_login(user, pass);
        let (n, _) = p.stat();
        let msgs = (1..=n).map(|i| p.retr(i)).collect();
        p.quit();
        msgs
    }

    /// Delivers one message over raw SMTP; panics unless it is accepted.
    pub fn deliver(&self, from: &str, to: &[&str], message: &[u8]) {
        let mut s = self.smtp();
        s.ehlo("client.test");
        s.send_mail(from, to, message)
            .unwrap_or_else(|e| panic!("delivery failed: {e}\n{}", self.log()));
        s.quit();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() && self.generation > 0 {
            eprintln!("{}", self.log());
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn wait_ready(child: &mut Child, smtp: u16, pop3: u16, submission: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    // All listeners are bound before any is served, so these cover the
    // implicit-TLS ones too.
    let mut ports = vec![(smtp, "220 "), (pop3, "+OK")];
    if submission != 0 {
        ports.push((submission, "220 "));
    }
    for (port, want) in ports {
        loop {
            if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("server exited early with {st}"));
            }
            if Instant::now() > deadline {
                return Err(format!("port {port} not ready within 20 s"));
            }
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut r = BufReader::new(s);
                let mut line = String::new();
                if r.read_line(&mut line).is_ok() && line.starts_with(want) {
                    // Be polite: end the session.
                    let s = r.get_mut();
                    let _ = s.write_all(b"QUIT\r\n");
                    let _ = s.shutdown(Shutdown::Write);
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Raw SMTP
// ---------------------------------------------------------------------------

pub struct Smtp {
    pub r: BufReader<TcpStream>,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.text())
    }
}

impl Smtp {
    pub fn connect(port: u16) -> Smtp {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect SMTP");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Smtp {
            r: BufReader::new(s),
        };
        let g = c.reply().expect("greeting");
        assert_eq!(g.code, 220, "greeting: {g}");
        c
    }

    /// Connects without reading the greeting.
    pub fn connect_raw(port: u16) -> std::io::Result<Smtp> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Smtp {
            r: BufReader::new(s),
        })
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.r.get_mut().write_all(bytes)
    }

    /// Reads one (possibly multi-line) reply.
    pub fn reply(&mut self) -> std::io::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("connection closed (after {lines:?})"),
                ));
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            if line.len() < 3 {
                return Err(std::io::Error::other(format!("bad reply line {line:?}")));
            }
            let code: u16 = line[..3]
                .parse()
                .map_err(|_| std::io::Error::other(format!("bad reply line {line:?}")))?;
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return Ok(Reply { code, lines });
            }
        }
    }

    pub fn cmd(&mut self, line: &str) -> std::io::Result<Reply> {
        self.send_raw(format!("{line}\r\n").as_bytes())?;
        self.reply()
    }

    #[track_caller]
    pub fn expect(&mut self, line: &str, code: u16) -> Reply {
        let r = self.cmd(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(r.code, code, "{line} -> {r}");
        r
    }

    pub fn ehlo(&mut self, name: &str) -> Reply {
        self.expect(&format!("EHLO {name}"), 250)
    }

    /// MAIL/RCPT/DATA for one message (`message` with CRLF line ends; it is
    /// dot-stuffed here). Err(description) on any non-success reply or I/O
    /// error; Ok only after the 250 to the final dot.
    pub fn send_mail(&mut self, from: &str, to: &[&str], message: &[u8]) -> Result<(), String> {
        let r = self
            .cmd(&format!("MAIL FROM:<{from}>"))
            .map_err(|e| e.to_string())?;
        if r.code != 250 {
            return Err(format!("MAIL: {r}"));
        }
        for t in to {
            let r = self
                .cmd(&format!("RCPT TO:<{t}>"))
                .map_err(|e| e.to_string())?;
            if r.code != 250 && r.code != 251 {
                return Err(format!("RCPT {t}: {r}"));
            }
        }
        let r = self.cmd("DATA").map_err(|e| e.to_string())?;
        if r.code != 354 {
            return Err(format!("DATA: {r}"));
        }
        let mut data = dot_stuff(message);
        data.extend_from_slice(b".\r\n");
        self.send_raw(&data).map_err(|e| e.to_string())?;
        let r = self.reply().map_err(|e| e.to_string())?;
        if r.code != 250 {
            return Err(format!("end of DATA: {r}"));
        }
        Ok(())
    }

    pub fn quit(&mut self) {
        let _ = self.cmd("QUIT");
    }
}

/// Dot-stuffs CRLF text and makes sure it ends with CRLF.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A simple test message with CRLF line ends.
pub fn simple_message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@client.test>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------
// Raw POP3
// ---------------------------------------------------------------------------

pub struct Pop3 {
    pub r: BufReader<TcpStream>,
    pub greeting: String,
}

impl Pop3 {
    pub fn connect(port: u16) -> Pop3 {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect POP3");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut p = Pop3 {
            r: BufReader::new(s),
            greeting: String::new(),
        };
        let g = p.line().expect("POP3 greeting");
        assert!(g.starts_with("+OK"), "POP3 greeting: {g}");
        p.greeting = g;
        p
    }

    /// One response line without CRLF.
    pub fn line(&mut self) -> std::io::Result<String> {
        let mut buf = Vec::new();
        let n = self.r.read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "POP3 connection closed",
            ));
        }
        assert!(
            buf.ends_with(b"\r\n"),
            "POP3 line not ending in CRLF: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.truncate(buf.len() - 2);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    pub fn send(&mut self, line: &str) -> std::io::Result<()> {
        self.r.get_mut().write_all(format!("{line}\r\n").as_bytes())
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.send(line)
            .unwrap_or_else(|e| panic!("send {line}: {e}"));
        self.line()
            .unwrap_or_else(|e| panic!("reply to {line}: {e}"))
    }

    #[track_caller]
    pub fn ok(&mut self, line: &str) -> String {
        let r = self.cmd(line);
        assert!(r.starts_with("+OK"), "{line} -> {r}");
        r
    }

    /// Reads a multi-line body after a +OK: raw bytes as on the wire
    /// (still dot-stuffed), without the terminating ".\r\n".
    pub fn multiline_raw(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let n = self.r.read_until(b'\n', &mut buf).expect("read multi-line");
            assert!(n > 0, "connection closed inside a multi-line response");
            if buf == b".\r\n" {
                return out;
            }
            out.extend_from_slice(&buf);
        }
    }

    /// Multi-line body, dot-unstuffed.
    pub fn multiline(&mut self) -> Vec<u8> {
        dot_unstuff(&self.multiline_raw())
    }

    pub fn try_login(&mut self, user: &str, pass: &str) -> Result<(), String> {
        let r = self.cmd(&format!("USER {user}"));
        if !r.starts_with("+OK") {
            return Err(r);
        }
        let r = self.cmd(&format!("PASS {pass}"));
        if !r.starts_with("+OK") {
            return Err(r);
        }
        Ok(())
    }

    pub fn stat(&mut self) -> (usize, u64) {
        let r = self.ok("STAT");
        let mut it = r.split_whitespace().skip(1);
        let n = it
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("STAT: {r}"));
        let s = it
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("STAT: {r}"));
        (n, s)
    }

    /// LIST as (number, size).
    pub fn list(&mut self) -> Vec<(usize, u64)> {
        self.ok("LIST");
        parse_pairs(&self.multiline())
            .into_iter()
            .map(|(n, s)| (n, s.parse().unwrap_or_else(|_| panic!("LIST size {s:?}"))))
            .collect()
    }

    /// UIDL as (number, uid).
    pub fn uidl(&mut self) -> Vec<(usize, String)> {
        self.ok("UIDL");
        parse_pairs(&self.multiline())
    }

    pub fn retr(&mut self, n: usize) -> Vec<u8> {
        self.ok(&format!("RETR {n}"));
        self.multiline()
    }

    pub fn quit(&mut self) -> String {
        self.cmd("QUIT")
    }
}

fn parse_pairs(body: &[u8]) -> Vec<(usize, String)> {
    String::from_utf8_lossy(body)
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace();
            let n = it
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            let v = it
                .next()
                .unwrap_or_else(|| panic!("bad line {l:?}"))
                .to_string();
            (n, v)
        })
        .collect()
}

/// Removes POP3/SMTP dot-stuffing: a leading "." of a line is dropped.
pub fn dot_unstuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut at_line_start = true;
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if at_line_start && b == b'.' {
            // drop the stuffing dot
            i += 1;
            at_line_start = false;
            continue;
        }
        out.push(b);
        at_line_start = b == b'\n';
        i += 1;
    }
    out
}

/// Does `hay` contain `needle`?
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

pub fn count(hay: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// The header value of `name` (first occurrence, unfolded minimalistically).
pub fn header(msg: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(msg);
    let prefix = format!("{}:", name.to_ascii_lowercase());
    for line in text.split("\r\n") {
        if line.is_empty() {
            break;
        }
        if line.to_ascii_lowercase().starts_with(&prefix) {
            return Some(line[prefix.len()..].trim().to_string());
        }
    }
    None
}

pub fn write_file(path: &Path, content: &[u8]) {
    std::fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Polls `f` every 200 ms until it gives a value; panics naming `what`
/// after `secs` seconds.
pub fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Submits one message with envelope sender `from` after logging in as
/// demo@example.test (AUTH PLAIN on loopback); panics with the log if refused.
pub fn submit(a: &Server, from: &str, to: &str, subject: &str) {
    let mut c = a.submission();
    c.ehlo("client.test");
    c.expect(
        &format!("AUTH PLAIN {}", plain_b64(DEMO_USER, DEMO_PASS)),
        235,
    );
    let msg = simple_message(DEMO_USER, to, subject, "hello out there");
    c.send_mail(from, &[to], &msg)
        .unwrap_or_else(|e| panic!("submission to {to}: {e}\n{}", a.log()));
    c.quit();
}

/// `queue list --json`, checked to succeed.
pub fn queue_json(a: &Server) -> String {
    let out = a.cli(&["--json", "queue", "list"]);
    out.assert_ok("queue list");
    out.out()
}
