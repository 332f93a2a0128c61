//! Issue 11 point 8: the data directory holds every user's mail, the SCRAM
//! keys and APOP secrets. Whatever the umask it is made 0700 and every
//! file in it 0600 — the database, its WAL, the spool, the secrets, the
//! self-signed certificate — and a server started on a wider one says so.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Starts `serve --demo` under `umask 0`, so only the server's own
/// choices keep the files private; its stderr goes to `log`.
fn serve_with_umask_0(s: &Server, log: &Path) -> Child {
    let child = Command::new("sh")
        .arg("-c")
        .arg("umask 0; exec \"$0\" --config \"$1\" serve --demo")
        .arg(BIN)
        .arg(&s.config_path)
        .env("PRAISANI_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spawn sh");
    wait_for("server listening", 30, || {
        std::net::TcpStream::connect(("127.0.0.1", s.pop3_port)).ok()
    });
    child
}

fn entries(dir: &Path) -> Vec<(PathBuf, u32, bool)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        out.push((p.clone(), meta.permissions().mode() & 0o777, meta.is_dir()));
        if meta.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
    }
    out
}

#[test]
fn data_directory_is_private_whatever_the_umask() {
    let s = Server::new(ServerOpts {
        demo: true,
        limits: String::new(),
    });
    std::fs::write(&s.config_path, s.config_text()).unwrap();
    let log = s.path("umask0.err");
    let mut child = serve_with_umask_0(&s, &log);
    // Mail in, so the WAL and the spool have been written.
    let mut c = s.smtp();
    c.ehlo("client.test");
    let tok = token("files");
    c.send_mail(
        "a@remote.test",
        &[DEMO_USER],
        &simple_message("a@remote.test", DEMO_USER, &tok, "private"),
    )
    .unwrap();
    c.quit();
    let all = entries(&s.data_dir);
    let names: Vec<String> = all
        .iter()
        .map(|(p, _, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["praisani.db", "praisani.db-wal", "server-secret"] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for (p, mode, dir) in &all {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", p.display());
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !std::fs::read_to_string(&log)
            .unwrap()
            .contains("other local users"),
        "warned about a private data directory"
    );

    // An older install: the database readable by everyone. The server
    // says so at start.
    std::fs::set_permissions(
        s.data_dir.join("praisani.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let log = s.path("wide.err");
    let mut child = serve_with_umask_0(&s, &log);
    let text = wait_for("the warning", 10, || {
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        t.contains("other local users").then_some(t)
    });
    assert!(text.contains("praisani.db"), "{text}");
    let _ = child.kill();
    let _ = child.wait();
}
