//! Moving in from Dovecot: mail delivered to a real Dovecot and read there
//! by a leave-on-server client, then `praisani import maildir` of the
//! user's Maildir — praisani shows the UIDLs Dovecot showed, so the client
//! downloads nothing twice.

mod common;

use common::dovecot::{Dovecot, DovecotOpts};
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const USER: &str = "u1@example.test";
const PASS: &str = "moving-in-1";

/// A leave-on-server POP3 client (poplib): logs in (over STLS with
/// `tls`) on `port`, with UTF8 (RFC 6856) where offered, prints
/// `uidl<TAB>sha256 of the message` for each message, deletes nothing.
const UIDLS_PY: &str = r#"
import hashlib, poplib, ssl, sys
port, user, pw, tls = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
p = poplib.POP3("127.0.0.1", port, timeout=20)
if tls:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    p.stls(ctx)
if "UTF8" in p.capa():
    p._shortcmd("UTF8")  # RFC 6856: headers as stored, as Dovecot serves them
p.user(user); p.pass_(pw)
for line in p.uidl()[1]:
    n, u = line.decode().split(" ", 1)
    body = b"\r\n".join(p.retr(int(n))[1]) + b"\r\n"
    print(u + "\t" + hashlib.sha256(body).hexdigest())
p.quit()
"#;

/// (uidl, sha256) per message, as a leave-on-server client sees them.
fn pop3_uidls(port: u16, user: &str, pass: &str, tls: bool) -> Vec<(String, String)> {
    let out = python(
        UIDLS_PY,
        &[&port.to_string(), user, pass, if tls { "1" } else { "0" }],
        Duration::from_secs(60),
    );
    out.assert_ok("poplib UIDL");
    out.out()
        .lines()
        .map(|l| {
            let (u, h) = l.split_once('\t').expect("uidl line");
            (u.to_string(), h.to_string())
        })
        .collect()
}

#[test]
fn dovecot_harness_serves_pop3() {
    if !common::dovecot::available("dovecot_harness_serves_pop3") {
        return;
    }
    let dovecot = Dovecot::start(DovecotOpts::default());
    dovecot.add_user("u1@example.test", "pw-one");
    for i in 0..3 {
        dovecot.deliver(
            "u1@example.test",
            format!("From: a@example.net\nSubject: m{i}\n\nbody {i}\n").as_bytes(),
        );
    }
    let seen = pop3_uidls(dovecot.pop3_port, "u1@example.test", "pw-one", true);
    assert_eq!(seen.len(), 3, "{}", dovecot.log());
    // %08Xu%08Xv: 16 hex digits, the uid last-but-one
    assert!(seen.iter().all(|(u, _)| u.len() == 16), "{seen:?}");
    assert!(
        dovecot
            .maildir("u1@example.test")
            .join("dovecot-uidlist")
            .exists()
    );
}

/// The messages the tests move: a plain one, one with a UTF-8 header (its
/// downgrade must work after the move), one with `From ` lines and a dot
/// in the body, a larger one.
fn messages() -> Vec<Vec<u8>> {
    let mut out = vec![
        b"From: a@example.net\nTo: u1@example.test\nSubject: first\nMessage-ID: <m1@example.net>\n\nhello\n".to_vec(),
        "From: b@example.net\nTo: u1@example.test\nSubject: สวัสดี\nMessage-ID: <m2@example.net>\n\nข้อความ\n"
            .as_bytes()
            .to_vec(),
        b"From: c@example.net\nTo: u1@example.test\nSubject: from lines\nMessage-ID: <m3@example.net>\n\nFrom here\n>From there\n.\n..dots\n".to_vec(),
    ];
    let mut big =
        b"From: d@example.net\nTo: u1@example.test\nSubject: big\nMessage-ID: <m4@example.net>\n\n"
            .to_vec();
    for i in 0..40_000 {
        big.extend_from_slice(format!("line {i} of a larger message\n").as_bytes());
    }
    out.push(big);
    out
}

/// An mpop set up as a leave-on-server client (`keep on`) of `port`,
/// with its UIDL memory in `uidls` and its mail in `mbox`; returns the
/// rc file. Run twice against two servers with the same user and host, it
/// shares the memory between them, as a customer's client does when the
/// provider moves the mailbox behind the same name.
fn mpop_rc(
    dir: &Path,
    name: &str,
    port: u16,
    tls: bool,
    uidls: &Path,
    mbox: &Path,
) -> std::path::PathBuf {
    let rc = dir.join(name);
    let tls = if tls {
        "tls on\ntls_starttls on\ntls_certcheck off\n"
    } else {
        "tls off\n"
    };
    write_file(
        &rc,
        format!(
            "defaults\nuidls_file {}\n\naccount default\nhost 127.0.0.1\nport {port}\n{tls}auth user\nuser {USER}\npassword {PASS}\ndelivery mbox {}\nkeep on\ntimeout 30\n",
            uidls.display(),
            mbox.display()
        )
        .as_bytes(),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    rc
}

/// Runs mpop; answers how many messages its mbox holds afterwards.
fn run_mpop(rc: &Path, home: &Path, mbox: &Path) -> usize {
    let mut c = Command::new("mpop");
    c.arg("-C").arg(rc).arg("-q").env("HOME", home);
    run_cmd(&mut c, None, Duration::from_secs(60)).assert_ok("mpop");
    let got = std::fs::read(mbox).unwrap_or_default();
    got.split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"From "))
        .count()
}

/// Mail delivered to Dovecot and read there by a leave-on-server client,
/// then moved to praisani: the UIDLs and contents praisani shows equal
/// Dovecot's, so the client (mpop, with its UIDL memory) fetches nothing
/// again; a second import brings nothing new.
fn move_in_from_dovecot(opts: DovecotOpts, extra_import_args: &[&str], test: &str) {
    if !common::dovecot::available(test) || !have_tool("mpop", test) {
        return;
    }
    let dovecot = Dovecot::start(opts.clone());
    dovecot.add_user(USER, PASS);
    let msgs = messages();
    for m in &msgs {
        dovecot.deliver(USER, m);
    }
    let work = tempfile::tempdir().unwrap();
    let (uidls, mbox) = (
        work.path().join("mpop_uidls"),
        work.path().join("inbox.mbox"),
    );
    write_file(&mbox, b"");
    let rc = mpop_rc(
        work.path(),
        "dovecot.rc",
        dovecot.pop3_port,
        true,
        &uidls,
        &mbox,
    );
    assert_eq!(
        run_mpop(&rc, work.path(), &mbox),
        msgs.len(),
        "{}",
        dovecot.log()
    );
    let seen_at_dovecot = pop3_uidls(dovecot.pop3_port, USER, PASS, true);
    assert_eq!(seen_at_dovecot.len(), msgs.len());
    let maildir = dovecot.maildir(USER);
    let uidlist = std::fs::read_to_string(maildir.join("dovecot-uidlist")).unwrap();
    if opts.save_uidl {
        assert!(uidlist.contains(" P"), "no saved UIDLs:\n{uidlist}");
    }

    let s = Server::start_default();
    s.add_user(USER, PASS, &[]);
    let mut args = vec!["import", "maildir", maildir.to_str().unwrap(), "--to", USER];
    args.extend_from_slice(extra_import_args);
    let out = s.cli(&args);
    out.assert_ok("import maildir");
    assert!(
        out.out().contains(&format!("imported {}", msgs.len())),
        "{}",
        out.describe()
    );
    let seen_at_praisani = pop3_uidls(s.pop3_port, USER, PASS, false);
    assert_eq!(
        seen_at_praisani, seen_at_dovecot,
        "UIDLs or contents differ\n{uidlist}"
    );

    // The same client, pointed at praisani: nothing to download.
    let rc = mpop_rc(
        work.path(),
        "praisani.rc",
        s.pop3_port,
        false,
        &uidls,
        &mbox,
    );
    assert_eq!(
        run_mpop(&rc, work.path(), &mbox),
        msgs.len(),
        "mpop downloaded again"
    );

    // A re-run finds everything there.
    let again = s.cli(&args);
    again.assert_ok("import maildir again");
    assert!(again.out().contains("imported 0"), "{}", again.describe());
    assert!(
        again
            .out()
            .contains(&format!("{} already there", msgs.len())),
        "{}",
        again.describe()
    );
    assert_eq!(pop3_uidls(s.pop3_port, USER, PASS, false).len(), msgs.len());

    // Read at Dovecot, so read here too: the export flags them.
    let exported = work.path().join("exported");
    s.cli(&["export", "maildir", USER, exported.to_str().unwrap()])
        .assert_ok("export maildir");
    let flagged = std::fs::read_dir(exported.join("cur"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(":2,S")
        })
        .count();
    assert_eq!(flagged, msgs.len());
}

#[test]
fn dovecot_default_uidl_format_moves_in() {
    move_in_from_dovecot(
        DovecotOpts::default(),
        &[],
        "dovecot_default_uidl_format_moves_in",
    );
}

#[test]
fn dovecot_saved_uidls_move_in() {
    // UIDLs Dovecot saved (pop3_save_uidl) under a format the importer
    // would not guess: only the saved P fields give them.
    move_in_from_dovecot(
        DovecotOpts {
            uidl_format: "%v-%u".into(),
            save_uidl: true,
        },
        &[],
        "dovecot_saved_uidls_move_in",
    );
}

#[test]
fn dovecot_uidl_format_option() {
    // Nothing saved, a non-default format: --uidl-format says which.
    move_in_from_dovecot(
        DovecotOpts {
            uidl_format: "UID%u-%v".into(),
            save_uidl: false,
        },
        &["--uidl-format", "UID%u-%v"],
        "dovecot_uidl_format_option",
    );
}

/// Delivers the test messages to praisani by SMTP and reads the first two
/// over POP3 (they are then retrieved).
fn filled_server() -> Server {
    let s = Server::start_default();
    s.add_user(USER, PASS, &[]);
    for m in messages() {
        let crlf = String::from_utf8(m).unwrap().replace('\n', "\r\n");
        let file = s.path("message.eml");
        write_file(&file, crlf.as_bytes());
        let out = python(
            r#"
import smtplib, sys
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
c.ehlo("client.test")
c.sendmail("sender@example.net", [sys.argv[2]], open(sys.argv[3], "rb").read(), mail_options=["SMTPUTF8", "BODY=8BITMIME"])
c.quit()
"#,
            &[&s.smtp_port.to_string(), USER, file.to_str().unwrap()],
            Duration::from_secs(30),
        );
        out.assert_ok("smtplib SMTPUTF8");
    }
    let mut p = s.pop3_login(USER, PASS);
    p.retr(1);
    p.retr(2);
    p.quit();
    s
}

/// A Maildir's dovecot-uidlist UIDLs in order, and each file's flags,
/// mtime and contents.
fn maildir_view(dir: &Path) -> (Vec<String>, Vec<(String, Vec<u8>)>) {
    let uidlist = std::fs::read_to_string(dir.join("dovecot-uidlist")).unwrap();
    let uidls = uidlist
        .lines()
        .skip(1)
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("cur"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let flags = name.rsplit_once(":2,").unwrap().1.to_string();
            // The arrival time, kept as the file's mtime.
            let mtime = e.metadata().unwrap().modified().unwrap();
            let secs = mtime
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            (format!("{flags} {secs}"), std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort_by(|a, b| a.1.cmp(&b.1));
    (uidls, files)
}

#[test]
fn export_and_import_round_trip_maildir_and_mbox() {
    let s = filled_server();
    let work = tempfile::tempdir().unwrap();
    let md1 = work.path().join("md1");
    let mbox1 = work.path().join("one.mbox");
    s.cli(&["export", "maildir", USER, md1.to_str().unwrap()])
        .assert_ok("export maildir");
    s.cli(&["export", "mbox", USER, mbox1.to_str().unwrap()])
        .assert_ok("export mbox");
    let v1 = maildir_view(&md1);
    assert_eq!(
        v1.1.iter().filter(|(f, _)| f.starts_with("S ")).count(),
        2,
        "two were retrieved"
    );
    // (RETR marks them all retrieved: read only after the exports.)
    let original = pop3_uidls(s.pop3_port, USER, PASS, false);
    assert_eq!(original.len(), 4);

    for (i, (kind, source)) in [("maildir", &md1), ("mbox", &mbox1)]
        .into_iter()
        .enumerate()
    {
        let user = format!("back{i}@example.test");
        s.add_user(&user, PASS, &[]);
        s.cli(&["import", kind, source.to_str().unwrap(), "--to", &user])
            .assert_ok("import");
        // The same read flags and files when exported again …
        let md2 = work.path().join(format!("md2-{kind}"));
        s.cli(&["export", "maildir", &user, md2.to_str().unwrap()])
            .assert_ok("export again");
        assert_eq!(maildir_view(&md2), v1, "{kind}");
        // … and the same octets and UIDLs over POP3.
        assert_eq!(
            pop3_uidls(s.pop3_port, &user, PASS, false),
            original,
            "{kind}"
        );
        // Nothing twice.
        let again = s.cli(&["import", kind, source.to_str().unwrap(), "--to", &user]);
        again.assert_ok("import again");
        assert!(again.out().contains("imported 0"), "{}", again.describe());
    }
    // UTF-8 headers keep their downgrade: a client without UTF8 sees the
    // message with an encoded Subject.
    let out = python(
        r#"
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=20)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
lines = p.retr(2)[1]
print(b"\n".join(lines[:lines.index(b"")]).decode("ascii"))
p.quit()
"#,
        &[&s.pop3_port.to_string(), "back0@example.test", PASS],
        Duration::from_secs(30),
    );
    out.assert_ok("RETR without UTF8");
    assert!(out.out().contains("Subject: =?"), "{}", out.out());
}

/// A customer who leaves for a Dovecot: the exported Maildir, served by
/// Dovecot, shows praisani's UIDLs (its `P` fields) and octets.
#[test]
fn exported_maildir_is_served_by_dovecot_with_the_same_uidls() {
    let test = "exported_maildir_is_served_by_dovecot_with_the_same_uidls";
    if !common::dovecot::available(test) {
        return;
    }
    let s = filled_server();
    let work = tempfile::tempdir().unwrap();
    let md = work.path().join("md");
    s.cli(&["export", "maildir", USER, md.to_str().unwrap()])
        .assert_ok("export maildir");
    let at_praisani = pop3_uidls(s.pop3_port, USER, PASS, false);
    let dovecot = Dovecot::start(DovecotOpts::default());
    dovecot.add_user(USER, PASS);
    dovecot.install_maildir(USER, &md);
    assert_eq!(
        pop3_uidls(dovecot.pop3_port, USER, PASS, true),
        at_praisani,
        "{}",
        dovecot.log()
    );
}

#[test]
fn bad_input_is_refused_and_nothing_is_half_imported() {
    let s = Server::start_default();
    s.add_user(USER, PASS, &[]);
    let work = tempfile::tempdir().unwrap();
    let not_maildir = work.path().join("plain");
    std::fs::create_dir(&not_maildir).unwrap();
    let out = s.cli(&[
        "import",
        "maildir",
        not_maildir.to_str().unwrap(),
        "--to",
        USER,
    ]);
    assert!(!out.status.success());
    assert!(out.err().contains("is not a Maildir"), "{}", out.describe());

    let md = work.path().join("md");
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(d)).unwrap();
    }
    std::fs::write(md.join("cur/1700000000.M1P1.host:2,S"), "Subject: a\n\nx\n").unwrap();
    std::fs::write(md.join("new/1700000001.M2P1.host"), "Subject: b\n\ny\n").unwrap();
    let out = s.cli(&[
        "import",
        "maildir",
        md.to_str().unwrap(),
        "--to",
        "nobody@example.test",
    ]);
    assert!(!out.status.success());
    assert!(out.err().contains("does not exist"), "{}", out.describe());

    std::fs::write(
        md.join("dovecot-uidlist"),
        "3 V1700000000 N3\n1 W5 :1700000000.M1P1.host\nbroken line\n",
    )
    .unwrap();
    let out = s.cli(&["import", "maildir", md.to_str().unwrap(), "--to", USER]);
    assert!(!out.status.success());
    assert!(
        out.err().contains("dovecot-uidlist, line 3"),
        "{}",
        out.describe()
    );
    let out = s.cli(&[
        "import",
        "maildir",
        md.to_str().unwrap(),
        "--to",
        USER,
        "--uidl-format",
        "%q",
    ]);
    assert!(!out.status.success());
    assert!(out.err().contains("UIDL format"), "{}", out.describe());
    assert!(
        pop3_uidls(s.pop3_port, USER, PASS, false).is_empty(),
        "something was imported"
    );

    // Without an index the file names are the UIDLs (as Courier's and
    // qmail's pop3d show them); a dry run stores nothing.
    std::fs::remove_file(md.join("dovecot-uidlist")).unwrap();
    let out = s.cli(&[
        "import",
        "maildir",
        md.to_str().unwrap(),
        "--to",
        USER,
        "--dry-run",
    ]);
    out.assert_ok("dry run");
    assert!(out.out().contains("would import 2"), "{}", out.describe());
    assert!(pop3_uidls(s.pop3_port, USER, PASS, false).is_empty());
    s.cli(&["import", "maildir", md.to_str().unwrap(), "--to", USER])
        .assert_ok("import");
    let uidls: Vec<String> = pop3_uidls(s.pop3_port, USER, PASS, false)
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    assert_eq!(uidls, ["1700000000.M1P1.host", "1700000001.M2P1.host"]);

    let not_mbox = work.path().join("x.mbox");
    std::fs::write(&not_mbox, "Subject: no\n\nbody\n").unwrap();
    let out = s.cli(&["import", "mbox", not_mbox.to_str().unwrap(), "--to", USER]);
    assert!(!out.status.success());
    assert!(out.err().contains("is not an mbox"), "{}", out.describe());
    // An export never overwrites.
    let out = s.cli(&["export", "mbox", USER, not_mbox.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(out.err().contains("already exists"), "{}", out.describe());
}
