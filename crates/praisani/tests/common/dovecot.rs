//! A real Dovecot for the tests that move a mailbox in from it: started
//! standalone (its own configuration, base directory and log in a temporary
//! directory, nothing of /etc/dovecot) on free loopback ports — POP3 with
//! STLS and POP3S — with users in a passwd-file (SHA512-CRYPT hashes from
//! `doveadm pw`), Maildirs owned by `nobody` (Dovecot will not deliver as
//! uid 0), and deliveries through dovecot-lda as Dovecot itself writes
//! them. Stopped when dropped.
//!
//! Settings as a provider has them: `pop3_uidl_format = %08Xu%08Xv` (the
//! default) unless told otherwise, and `pop3_save_uidl` on request.

use super::{certs, free_port, have_tool, run_cmd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Dovecot binaries, found in PATH or in the Debian package's places
/// (a user's PATH may lack /usr/sbin).
fn binary(name: &str, fallback: &str) -> String {
    let in_path = Command::new(name)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !in_path && Path::new(fallback).exists() {
        fallback.into()
    } else {
        name.into()
    }
}

fn dovecot_bin() -> String {
    binary("dovecot", "/usr/sbin/dovecot")
}

fn doveadm_bin() -> String {
    binary("doveadm", "/usr/bin/doveadm")
}

/// dovecot-lda is not in PATH on Debian.
const LDA: &str = "/usr/lib/dovecot/dovecot-lda";

/// True when Dovecot (server, doveadm and dovecot-lda) is installed; else
/// prints `SKIPPED` (or fails under `PRAISANI_REQUIRE_TOOLS=1`: `.ci/run`
/// installs dovecot-core and dovecot-pop3d).
pub fn available(test: &str) -> bool {
    have_tool(&dovecot_bin(), test)
        && have_tool(&doveadm_bin(), test)
        && (Path::new(LDA).exists() || have_tool(LDA, test))
}

/// How the Dovecot is set up.
#[derive(Clone, Debug)]
pub struct DovecotOpts {
    /// `pop3_uidl_format`.
    pub uidl_format: String,
    /// `pop3_save_uidl`: the UIDLs shown are saved in `dovecot-uidlist`
    /// (the `P` field), so they survive a format change.
    pub save_uidl: bool,
}

impl Default for DovecotOpts {
    fn default() -> Self {
        DovecotOpts {
            uidl_format: "%08Xu%08Xv".into(),
            save_uidl: false,
        }
    }
}

/// A running Dovecot.
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Option<Child>,
    conf: PathBuf,
    /// POP3 (plain, STLS offered).
    pub pop3_port: u16,
    /// POP3S (implicit TLS).
    pub pop3s_port: u16,
    uid: u32,
    gid: u32,
}

/// nobody's uid and gid from /etc/passwd (65534 on Debian).
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"nobody") && f.len() > 3)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        })
        .unwrap_or((65534, 65534))
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

impl Dovecot {
    /// Starts Dovecot with `opts` and waits until its POP3 ports answer.
    pub fn start(opts: DovecotOpts) -> Dovecot {
        let dir = tempfile::tempdir().expect("tempdir");
        // Dovecot's own users (dovecot, dovenull, nobody for mail) must
        // reach what is below.
        chmod(dir.path(), 0o755);
        let (uid, gid) = nobody();
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).expect("mail dir");
        chown(&mail, uid, gid);
        let run = dir.path().join("run");
        std::fs::create_dir(&run).expect("run dir");
        let users = dir.path().join("users");
        std::fs::write(&users, "").expect("users file");
        chmod(&users, 0o644);
        let (cert, key) = certs::self_signed(&["localhost"]).write(dir.path(), "dovecot");
        let (pop3_port, pop3s_port) = (free_port(), free_port());
        let conf = dir.path().join("dovecot.conf");
        let d = dir.path().display();
        let text = format!(
            "# Written by the praisani tests: a standalone Dovecot.
protocols = pop3
listen = 127.0.0.1
base_dir = {d}/run
instance_name = praisani-test-{pop3_port}
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{d}/mail/%d/%n
postmaster_address = postmaster@example.test
pop3_uidl_format = {format}
pop3_save_uidl = {save}
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s_port}
    ssl = yes
  }}
}}
",
            cert = cert.display(),
            key = key.display(),
            format = opts.uidl_format,
            save = if opts.save_uidl { "yes" } else { "no" },
        );
        std::fs::write(&conf, text).expect("dovecot.conf");
        let child = Command::new(dovecot_bin())
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("dovecot.stderr")).expect("stderr file"),
            ))
            .spawn()
            .expect("start dovecot");
        let mut dovecot = Dovecot {
            dir,
            child: Some(child),
            conf,
            pop3_port,
            pop3s_port,
            uid,
            gid,
        };
        dovecot.wait_ready();
        dovecot
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = [self.pop3_port, self.pop3s_port]
                .iter()
                .all(|&p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok());
            if up {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("dovecot exited with {status}:\n{}", self.log());
            }
            if Instant::now() > deadline {
                panic!("dovecot did not open its ports:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The configuration file (for `doveadm -c`).
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// Adds a user (`local@domain`) with `password`, hashed by
    /// `doveadm pw -s SHA512-CRYPT` as a provider's passwd-file has it.
    pub fn add_user(&self, user: &str, password: &str) {
        let out = run_cmd(
            Command::new(doveadm_bin())
                .args(["-c"])
                .arg(&self.conf)
                .args(["pw", "-s", "SHA512-CRYPT", "-p", password]),
            None,
            Duration::from_secs(20),
        );
        out.assert_ok("doveadm pw");
        let hash = out.out().trim().to_string();
        let home = self.maildir(user);
        let line = format!(
            "{user}:{hash}:{}:{}::{}::\n",
            self.uid,
            self.gid,
            home.display()
        );
        let users = self.dir.path().join("users");
        let mut text = std::fs::read_to_string(&users).expect("users file");
        text.push_str(&line);
        std::fs::write(&users, text).expect("users file");
    }

    /// Delivers `message` (any line ends; dovecot-lda stores LF) to
    /// `user`'s INBOX the way Dovecot does: dovecot-lda, which also
    /// assigns the IMAP UID and so the POP3 UIDL.
    pub fn deliver(&self, user: &str, message: &[u8]) {
        let out = run_cmd(
            Command::new(LDA).arg("-c").arg(&self.conf).args([
                "-d",
                user,
                "-f",
                "sender@example.net",
            ]),
            Some(message),
            Duration::from_secs(30),
        );
        out.assert_ok("dovecot-lda");
    }

    /// The user's Maildir (`cur/`, `new/`, `dovecot-uidlist`).
    pub fn maildir(&self, user: &str) -> PathBuf {
        let (local, domain) = user.split_once('@').expect("user@domain");
        self.dir.path().join("mail").join(domain).join(local)
    }

    /// Puts the Maildir at `from` in place as `user`'s (a copy, owned by
    /// the mail uid): what a provider does with a mailbox moved to Dovecot.
    pub fn install_maildir(&self, user: &str, from: &Path) {
        let to = self.maildir(user);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("domain dir");
        run_cmd(
            Command::new("cp").arg("-a").arg(from).arg(&to),
            None,
            Duration::from_secs(30),
        )
        .assert_ok("cp -a");
        run_cmd(
            Command::new("chown")
                .arg("-R")
                .arg(format!("{}:{}", self.uid, self.gid))
                .arg(to.parent().expect("parent")),
            None,
            Duration::from_secs(30),
        )
        .assert_ok("chown -R");
    }

    /// Dovecot's log and stderr.
    pub fn log(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!("{}{}", read("dovecot.log"), read("dovecot.stderr"))
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM lets the master stop its children; only the process
            // this harness started is signalled.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
