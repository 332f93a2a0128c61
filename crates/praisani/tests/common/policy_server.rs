//! An MTA-STS policy server for the tests (RFC 8461 section 3.3): Python's
//! HTTPS server with a certificate from a test CA, serving each domain's
//! policy at `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`.

use super::certs::TestCa;
use super::{free_port, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The HTTPS policy server: answers `GET /.well-known/mta-sts.txt` with
/// the file named after the request's Host in its directory, as
/// text/plain; logs each request's host and path.
const POLICY_SERVER: &str = r#"
import http.server, ssl, sys, os
port, cert, key, root, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def note(s):
    with open(log, 'a') as f:
        f.write(s + '\n')
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get('Host') or '').split(':')[0]
        note('GET ' + host + ' ' + self.path)
        path = os.path.join(root, os.path.basename(host))
        if self.path != '/.well-known/mta-sts.txt' or not os.path.exists(path):
            self.send_response(404)
            self.end_headers()
            return
        body = open(path, 'rb').read()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
note('READY')
srv.serve_forever()
"#;

/// A running policy server.
pub struct PolicyServer {
    /// Its HTTPS port (`delivery.mta_sts_port`).
    pub port: u16,
    log: PathBuf,
    child: Child,
}

impl PolicyServer {
    /// Serves `policies`, each `(domain, "MODE\r\nmx: PATTERN…")` (written
    /// as a policy file with `max_age: 86400`), in `dir`, with a certificate
    /// from `ca` naming every policy host except those in `not_in_cert`.
    pub fn start(
        dir: &Path,
        ca: &TestCa,
        policies: &[(&str, &str)],
        not_in_cert: &[&str],
    ) -> PolicyServer {
        let root = dir.join("policies");
        std::fs::create_dir_all(&root).unwrap();
        let mut names = Vec::new();
        for (domain, policy) in policies {
            let host = format!("mta-sts.{domain}");
            let text = format!("version: STSv1\r\nmode: {policy}\r\nmax_age: 86400\r\n");
            std::fs::write(root.join(&host), text).unwrap();
            if !not_in_cert.contains(&host.as_str()) {
                names.push(host);
            }
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (cert, key) = ca.issue(&names).write(dir, "mta-sts");
        let log = dir.join("https.log");
        let port = free_port();
        let child = Command::new("python3")
            .arg("-c")
            .arg(POLICY_SERVER)
            .arg(port.to_string())
            .arg(&cert)
            .arg(&key)
            .arg(&root)
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let server = PolicyServer { port, log, child };
        wait_for("the policy server to listen", 10, || {
            server.requests().contains("READY").then_some(())
        });
        server
    }

    /// Every request so far, one line each.
    pub fn requests(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many times the policy of `domain` was fetched.
    pub fn fetches(&self, domain: &str) -> usize {
        self.requests()
            .matches(&format!("GET mta-sts.{domain} /.well-known/mta-sts.txt"))
            .count()
    }

    /// Stops it (a policy host that went away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PolicyServer {
    fn drop(&mut self) {
        self.stop();
    }
}
