//! DMARC aggregate reports on the real binary: mail from "another server"
//! (smtplib on loopback) is checked against the test DNS server, some of it
//! passing DMARC and some failing (refused or marked); `praisani
//! dmarc-report send --now` builds the reports and the queue delivers them
//! to Postfix's smtp-sink, where Python (email, gzip, xml.etree) unpacks
//! them and we compare them with what was sent.

mod common;

use common::*;
use praisani_testdns::{TestDns, Zone};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

const PY_TIMEOUT: Duration = Duration::from_secs(60);

/// Postfix's smtp-sink on a free loopback port, keeping each message it
/// receives in a file (`-d`).
struct SmtpSink {
    port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let dir = tempfile::tempdir().expect("tempdir");
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).unwrap();
        // smtp-sink drops to `nobody` when run as root.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o777)).unwrap();
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        let port = free_port();
        let mut c = std::process::Command::new("smtp-sink");
        if root {
            c.args(["-u", "nobody"]);
        }
        let child = c
            .arg("-d")
            .arg(mail.join("%H%M%S."))
            .arg(format!("127.0.0.1:{port}"))
            .arg("50")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("smtp-sink");
        wait_for("smtp-sink to listen", 10, || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        });
        SmtpSink { port, dir, child }
    }

    /// The paths of the messages received so far (smtp-sink creates a
    /// file before it writes it: empty ones are not counted yet).
    fn messages(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.dir.path().join("mail"))
            .unwrap()
            .filter_map(|e| {
                let p = e.ok()?.path();
                (std::fs::metadata(&p).ok()?.len() > 0).then(|| p.display().to_string())
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request to the dkimpy signer the trust tests use.
fn dkimpy(request: Value) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mailhost/tests/trust/dkimpy.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    serde_json::to_writer(child.stdin.take().unwrap(), &request).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dkimpy.py failed on {request}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// python3 with dkimpy (and what its helper imports), or a skip.
fn have_dkimpy() -> bool {
    have_tool("python3", module_path!())
        && have_python_module("dkim", "pip install dkimpy", module_path!())
        && have_python_module("authres", "pip install authres", module_path!())
        && have_python_module("nacl", "pip install pynacl", module_path!())
}

/// The zone, with sender.test's DKIM key `rsa` when given.
fn zone_with_key(public: Option<&str>) -> Zone {
    let z = zone();
    match public {
        Some(p) => z.txt(
            "rsa._domainkey.sender.test",
            &format!("v=DKIM1; k=rsa; p={p}"),
        ),
        None => z,
    }
}

fn zone() -> Zone {
    Zone::new()
        .txt("sender.test", "v=spf1 ip4:127.0.0.1 -all")
        .txt(
            "_dmarc.sender.test",
            "v=DMARC1; p=reject; sp=quarantine; adkim=s; \
             rua=mailto:dmarc@sender.test,mailto:agg@thirdparty.test,mailto:agg@authorised.test",
        )
        // authorised.test takes reports about sender.test; thirdparty.test
        // publishes nothing.
        .txt("sender.test._report._dmarc.authorised.test", "v=DMARC1")
        .txt("helo.test", "v=spf1 ip4:127.0.0.1 -all")
        .a("helo.test", "127.0.0.1")
        .txt("forged.test", "v=spf1 ip4:192.0.2.1 -all")
        .txt(
            "_dmarc.forged.test",
            "v=DMARC1; p=quarantine; rua=mailto:dmarc@forged.test!10m",
        )
        // No rua: no report.
        .txt("quiet.test", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.quiet.test", "v=DMARC1; p=none")
}

/// Sends each (MAIL FROM, From: address) with smtplib as another server
/// (EHLO helo.test) to the demo user; returns the reply codes.
fn send_all(s: &Server, messages: &[(&str, &str)]) -> Vec<u16> {
    let list: Vec<String> = messages
        .iter()
        .map(|(mail_from, from)| format!("{mail_from} {from}"))
        .collect();
    let out = python(
        r#"
import smtplib, sys
port, rcpt = sys.argv[1:3]
for i, pair in enumerate(sys.argv[3:]):
    sender, author = pair.split(' ')
    msg = ('From: <%s>\r\nTo: <%s>\r\nSubject: m%d\r\nMessage-ID: <m%d@client.test>\r\n'
           'Date: Thu, 03 Dec 2026 07:00:00 +0000\r\n\r\nHello.\r\n' % (author, rcpt, i, i))
    c = smtplib.SMTP('127.0.0.1', int(port), local_hostname='helo.test', timeout=30)
    try:
        c.sendmail(sender, [rcpt], msg.encode())
        print(250)
    except smtplib.SMTPDataError as e:
        print(e.smtp_code)
    c.quit()
"#,
        &[
            &[s.smtp_port.to_string().as_str(), DEMO_USER][..],
            &list.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ]
        .concat(),
        PY_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "smtplib: {}\n{}",
        out.describe(),
        s.log()
    );
    out.out()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Sends `message` as it is with smtplib from `mail_from` (EHLO helo.test);
/// returns the reply code.
fn send_raw(s: &Server, mail_from: &str, message: &str) -> u16 {
    let path = s.path(&token("msg"));
    write_file(&path, message.as_bytes());
    let out = python(
        r#"
import smtplib, sys
port, sender, rcpt, path = sys.argv[1:5]
c = smtplib.SMTP('127.0.0.1', int(port), local_hostname='helo.test', timeout=30)
try:
    c.sendmail(sender, [rcpt], open(path, 'rb').read())
    print(250)
except smtplib.SMTPDataError as e:
    print(e.smtp_code)
c.quit()
"#,
        &[
            &s.smtp_port.to_string(),
            mail_from,
            DEMO_USER,
            path.to_str().unwrap(),
        ],
        PY_TIMEOUT,
    );
    assert!(out.status.success(), "smtplib: {}", out.describe());
    out.out().trim().parse().unwrap()
}

/// Each report message at the sink, unpacked by Python: recipient,
/// subject, attachment name and the XML's parts.
fn unpack(paths: &[String]) -> Vec<Value> {
    let out = python(
        r#"
import email, gzip, json, sys, xml.etree.ElementTree as ET
def strip(tag): return tag.split('}', 1)[-1]
def tree(e):
    kids = list(e)
    if not kids: return (e.text or '').strip()
    out = {}
    for k in kids: out.setdefault(strip(k.tag), []).append(tree(k))
    return out
res = []
for path in sys.argv[1:]:
    m = email.message_from_bytes(open(path, 'rb').read())
    parts = [p for p in m.walk() if p.get_content_type() == 'application/gzip']
    assert len(parts) == 1, 'one gzip attachment'
    xml = gzip.decompress(parts[0].get_payload(decode=True))
    root = ET.fromstring(xml)
    res.append({'rcpt': m['X-Rcpt-Args'], 'mail_from': m['X-Mail-Args'], 'from': m['From'],
                'subject': m['Subject'], 'filename': parts[0].get_filename(),
                'root': strip(root.tag), 'report': tree(root)})
print(json.dumps(res))
"#,
        &paths.iter().map(String::as_str).collect::<Vec<_>>(),
        PY_TIMEOUT,
    );
    assert!(out.status.success(), "unpacking: {}", out.describe());
    serde_json::from_str(out.out().trim()).unwrap()
}

/// The first text of `path` (keys, each value a list) in a `tree` value.
fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        cur = &cur[*k][0];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{path:?} not text in {v}"))
}

#[test]
fn daily_reports_reach_authorised_rua_addresses_only() {
    require_tool!("smtp-sink");
    if !have_tool("python3", module_path!()) {
        return;
    }
    // With dkimpy, one message is DKIM-signed by sender.test as well.
    let key = have_dkimpy().then(|| {
        let k = dkimpy(json!({"op": "keys"}));
        let s = |n: &str| k[n].as_str().unwrap().to_string();
        (s("rsa_private"), s("rsa_public"))
    });
    let dns = TestDns::start(zone_with_key(key.as_ref().map(|k| k.1.as_str())));
    let sink = SmtpSink::start();
    let route = |d: &str| format!("\"{d}\" = \"127.0.0.1:{}\"", sink.port);
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[delivery]\nnameservers = [\"{}\"]\nretry = [\"1h\"]\nroutes = {{ {} }}\n\
                 [trust]\nenabled = true\ndns_timeout = \"1s\"\ncheck_timeout = \"2s\"\n\
                 [dmarc_reports]\nenabled = true\norg_name = \"Example Hosting\"\n\
                 from = \"dmarc-reports@example.test\"\n",
                dns.addr,
                [
                    "sender.test",
                    "thirdparty.test",
                    "authorised.test",
                    "forged.test",
                    "quiet.test"
                ]
                .map(route)
                .join(", ")
            ),
            ..ExtraConfig::default()
        },
    );

    let codes = send_all(
        &s,
        &[
            // SPF passes for sender.test, aligned with From: DMARC passes.
            ("bob@sender.test", "bob@sender.test"),
            ("bob@sender.test", "bob@sender.test"),
            ("bob@sender.test", "bob@sender.test"),
            // SPF passes for helo.test, not aligned: p=reject refuses.
            ("bob@helo.test", "ceo@sender.test"),
            ("bob@helo.test", "ceo@sender.test"),
            // SPF fails, p=quarantine: stored marked.
            ("bob@forged.test", "x@forged.test"),
            // A record without rua.
            ("bob@quiet.test", "x@quiet.test"),
        ],
    );
    assert_eq!(codes, [250, 250, 250, 550, 550, 250, 250], "{}", s.log());
    if let Some((private, _)) = &key {
        // Signed by sender.test, sent with an unaligned envelope: DKIM passes DMARC.
        let message = format!(
            "From: <news@sender.test>\r\nTo: <{DEMO_USER}>\r\nSubject: signed\r\n\
             Message-ID: <signed@client.test>\r\nDate: Thu, 03 Dec 2026 07:00:00 +0000\r\n\r\nHello.\r\n"
        );
        let r = dkimpy(json!({
            "op": "sign", "message": message, "domain": "sender.test", "selector": "rsa",
            "key": private, "algo": "rsa-sha256", "canon": "relaxed/relaxed",
        }));
        let signed = format!("{}{message}", r["header"].as_str().unwrap());
        assert_eq!(send_raw(&s, "list@helo.test", &signed), 250, "{}", s.log());
    }
    // Recording runs beside the reply: give it a moment.
    std::thread::sleep(Duration::from_millis(500));

    let out = s.cli(&["--json", "dmarc-report", "send", "--now"]);
    out.assert_ok("dmarc-report send");
    let summary: Value = serde_json::from_str(out.out().trim()).unwrap();
    assert_eq!(summary["reports"], 2, "{summary}");
    assert_eq!(summary["messages"], 3, "{summary}");
    let skipped = summary["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{summary}");
    assert_eq!(skipped[0]["to"], "agg@thirdparty.test", "{summary}");
    assert!(
        skipped[0]["reason"].as_str().unwrap().contains("RFC 7489"),
        "{summary}"
    );

    let paths = wait_for("three reports at the sink", 30, || {
        let m = sink.messages();
        (m.len() >= 3).then_some(m)
    });
    std::thread::sleep(Duration::from_millis(500));
    let reports = unpack(&sink.messages());
    assert_eq!(reports.len(), 3, "{reports:?}\n{paths:?}");
    let rcpts: Vec<&str> = reports
        .iter()
        .map(|r| r["rcpt"].as_str().unwrap())
        .collect();
    for want in [
        "<dmarc@sender.test>",
        "<agg@authorised.test>",
        "<dmarc@forged.test>",
    ] {
        assert!(rcpts.contains(&want), "{rcpts:?}");
    }
    assert!(!rcpts.iter().any(|r| r.contains("thirdparty")), "{rcpts:?}");

    for r in &reports {
        let report = &r["report"];
        assert_eq!(r["root"], "feedback");
        assert_eq!(r["mail_from"], "<dmarc-reports@example.test>", "{r}");
        assert!(
            r["from"]
                .as_str()
                .unwrap()
                .contains("dmarc-reports@example.test"),
            "{r}"
        );
        assert_eq!(
            text(report, &["report_metadata", "org_name"]),
            "Example Hosting"
        );
        assert_eq!(
            text(report, &["report_metadata", "email"]),
            "dmarc-reports@example.test"
        );
        let id = text(report, &["report_metadata", "report_id"]);
        let domain = text(report, &["policy_published", "domain"]);
        let begin = text(report, &["report_metadata", "date_range", "begin"]);
        let end = text(report, &["report_metadata", "date_range", "end"]);
        let (b, e): (i64, i64) = (begin.parse().unwrap(), end.parse().unwrap());
        assert_eq!((b % 86_400, e - b), (0, 86_399), "one UTC day");
        let now = chrono::Utc::now().timestamp();
        assert!(b <= now && now <= e, "today's report");
        let subject = r["subject"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            subject,
            format!("Report Domain: {domain} Submitter: mx.example.test Report-ID: <{id}>")
        );
        assert_eq!(
            r["filename"],
            format!("mx.example.test!{domain}!{begin}!{end}.xml.gz")
        );
        let records = report["record"].as_array().unwrap();
        // "source ip count disposition dkim spf header_from envelope_from spf-result"
        let mut rows: Vec<String> = records
            .iter()
            .map(|rec| {
                [
                    &["row", "source_ip"][..],
                    &["row", "count"],
                    &["row", "policy_evaluated", "disposition"],
                    &["row", "policy_evaluated", "dkim"],
                    &["row", "policy_evaluated", "spf"],
                    &["identifiers", "header_from"],
                    &["identifiers", "envelope_from"],
                    &["auth_results", "spf", "result"],
                ]
                .map(|path| text(rec, path))
                .join(" ")
            })
            .collect();
        rows.sort();
        match domain {
            "sender.test" => {
                assert_eq!(text(report, &["policy_published", "p"]), "reject");
                assert_eq!(text(report, &["policy_published", "sp"]), "quarantine");
                assert_eq!(text(report, &["policy_published", "adkim"]), "s");
                assert_eq!(text(report, &["policy_published", "aspf"]), "r");
                let mut want = vec![
                    "127.0.0.1 2 reject fail fail sender.test helo.test pass",
                    "127.0.0.1 3 none fail pass sender.test sender.test pass",
                ];
                if key.is_some() {
                    want.insert(0, "127.0.0.1 1 none pass fail sender.test helo.test pass");
                    let signed = records
                        .iter()
                        .find(|r| text(r, &["row", "policy_evaluated", "dkim"]) == "pass")
                        .expect("the signed message's row");
                    let dkim = &signed["auth_results"][0]["dkim"][0];
                    assert_eq!(
                        [&["domain"][..], &["selector"], &["result"]].map(|p| text(dkim, p)),
                        ["sender.test", "rsa", "pass"],
                        "{report}"
                    );
                }
                assert_eq!(rows, want, "{report}");
                for rec in records {
                    assert_eq!(text(rec, &["identifiers", "envelope_to"]), "example.test");
                }
            }
            "forged.test" => {
                assert_eq!(text(report, &["policy_published", "p"]), "quarantine");
                assert_eq!(
                    rows,
                    ["127.0.0.1 1 quarantine fail fail forged.test forged.test fail"],
                    "{report}"
                );
            }
            other => panic!("unexpected report about {other}: {report}"),
        }
    }

    // Taken is gone: a second run has nothing to send.
    let again = s.cli(&["--json", "dmarc-report", "send", "--now"]);
    again.assert_ok("second dmarc-report send");
    let summary: Value = serde_json::from_str(again.out().trim()).unwrap();
    assert_eq!(
        (summary["reports"].as_u64(), summary["messages"].as_u64()),
        (Some(0), Some(0))
    );
}

/// A PostgreSQL database of its own (psql at `PRAISANI_PG_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test`), dropped at the end; `None`
/// (a skip) without one.
struct Db {
    name: String,
    url: String,
}

impl Db {
    fn admin() -> String {
        std::env::var("PRAISANI_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    fn psql(url: &str, sql: &str) -> CmdOutput {
        let mut c = Command::new("psql");
        c.env("PGCONNECT_TIMEOUT", "3")
            .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql]);
        run_cmd(&mut c, None, Duration::from_secs(30))
    }

    fn new(test: &str) -> Option<Db> {
        if !have_tool("psql", test) {
            return None;
        }
        let admin = Db::admin();
        let probe = Db::psql(&admin, "SELECT 1");
        if probe.code() != Some(0) {
            assert!(
                std::env::var("PRAISANI_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "PostgreSQL not reachable at {admin} ({test}): {}",
                probe.err()
            );
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PostgreSQL not reachable ({test})"
            );
            return None;
        }
        let name = token("praisani_dmarc")
            .to_lowercase()
            .replace(['-', '.'], "_");
        Db::psql(&admin, &format!("CREATE DATABASE {name}")).assert_ok("create database");
        let base = admin.split('?').next().unwrap_or(&admin);
        let start = base.find("://").map_or(0, |i| i + 3);
        let host = base[start..].find('/').map_or(base, |i| &base[..start + i]);
        Some(Db {
            url: format!("{host}/{name}"),
            name,
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        Db::psql(
            &Db::admin(),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Two nodes on one PostgreSQL database record into the same rows, and of
/// two `dmarc-report send` at once each day's report is sent by one.
#[test]
fn nodes_on_postgres_share_the_rows_and_send_each_report_once() {
    require_tool!("smtp-sink");
    if !have_tool("python3", module_path!()) {
        return;
    }
    let Some(db) = Db::new(module_path!()) else {
        return;
    };
    let dns = TestDns::start(zone());
    let sink = SmtpSink::start();
    let node = || {
        let mut s = Server::new_extra(
            ServerOpts {
                demo: false,
                limits: String::new(),
            },
            ExtraConfig {
                tables: format!(
                    "[store]\nbackend = \"postgres\"\nurl = \"{}\"\n\
                     [delivery]\nnameservers = [\"{}\"]\nretry = [\"1h\"]\n\
                     routes = {{ \"sender.test\" = \"127.0.0.1:{p}\", \"authorised.test\" = \"127.0.0.1:{p}\" }}\n\
                     [trust]\nenabled = true\ndns_timeout = \"1s\"\ncheck_timeout = \"2s\"\n\
                     [dmarc_reports]\nenabled = true\n",
                    db.url,
                    dns.addr,
                    p = sink.port
                ),
                ..ExtraConfig::default()
            },
        );
        s.start();
        s
    };
    let a = node();
    let b = node();
    a.add_domain("example.test");
    a.add_user(DEMO_USER, DEMO_PASS, &[]);
    let pass = ("bob@sender.test", "bob@sender.test");
    assert_eq!(send_all(&a, &[pass, pass]), [250, 250], "{}", a.log());
    assert_eq!(send_all(&b, &[pass]), [250], "{}", b.log());
    std::thread::sleep(Duration::from_millis(500));

    let run = |s: &Server| {
        let out = s.cli(&["--json", "dmarc-report", "send", "--now"]);
        out.assert_ok("dmarc-report send");
        serde_json::from_str::<Value>(out.out().trim()).unwrap()
    };
    let (ra, rb) = std::thread::scope(|scope| {
        let ta = scope.spawn(|| run(&a));
        let tb = scope.spawn(|| run(&b));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    let total = |k: &str| ra[k].as_u64().unwrap() + rb[k].as_u64().unwrap();
    assert_eq!((total("reports"), total("messages")), (1, 2), "{ra} {rb}");

    wait_for("two reports at the sink", 30, || {
        (sink.messages().len() >= 2).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    let reports = unpack(&sink.messages());
    assert_eq!(
        reports.len(),
        2,
        "each address gets the report once: {reports:?}"
    );
    for r in &reports {
        let records = r["report"]["record"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{r}");
        assert_eq!(
            text(&records[0], &["row", "count"]),
            "3",
            "both nodes' messages: {r}"
        );
    }
}

#[test]
fn nothing_is_recorded_while_reports_are_off() {
    if !have_tool("python3", module_path!()) {
        return;
    }
    let dns = TestDns::start(zone());
    let s = Server::start_extra(
        ServerOpts::default(),
        ExtraConfig {
            tables: format!(
                "[delivery]\nnameservers = [\"{}\"]\n\
                 [trust]\nenabled = true\ndns_timeout = \"1s\"\ncheck_timeout = \"2s\"\n",
                dns.addr
            ),
            ..ExtraConfig::default()
        },
    );
    let codes = send_all(&s, &[("bob@sender.test", "bob@sender.test")]);
    assert_eq!(codes, [250]);
    std::thread::sleep(Duration::from_millis(300));
    let out = s.cli(&["--json", "dmarc-report", "send", "--now"]);
    out.assert_ok("dmarc-report send");
    let summary: Value = serde_json::from_str(out.out().trim()).unwrap();
    assert_eq!(summary["reports"], 0, "{summary}");
}

#[test]
fn bad_arguments_are_refused() {
    let s = Server::start_default();
    let out = s.cli(&["dmarc-report", "send", "--day", "yesterday"]);
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(out.err().contains("invalid --day"), "{}", out.describe());
}
