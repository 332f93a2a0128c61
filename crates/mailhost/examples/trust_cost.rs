//! CPU per message of the inbound trust checks, without the rest of the
//! server: runs `TrustChecker::check` on each message file many times, one
//! after the other, on one thread, and prints the median time per check.
//! After the first round every DNS answer is in the checker's cache, so the
//! figure is the checks' own work (parsing, hashing, signature
//! verification, the header field), which is what each message costs the
//! server on top of SMTP and storage. Used by `bench/dkim.sh`.
//!
//! ```sh
//! cargo run --release -p praisani-mailhost --example trust_cost -- \
//!     --dns 127.0.0.1:25353 --mail-from a@example.test --helo loadgen.example.test \
//!     --rounds 2000 none.eml rsa.eml ed25519.eml
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use praisani_mailhost::trust::{CheckInput, DnsSettings, TrustChecker, TrustSettings};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dns: Option<SocketAddr> = None;
    let mut mail_from = String::from("a@example.test");
    let mut helo = String::from("loadgen.example.test");
    let mut rounds = 2000usize;
    let mut files = Vec::new();
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--dns" => dns = Some(value().parse().unwrap_or_else(|_| usage("--dns host:port"))),
            "--mail-from" => mail_from = value(),
            "--helo" => helo = value(),
            "--rounds" => rounds = value().parse().unwrap_or_else(|_| usage("--rounds N")),
            _ => files.push(a),
        }
    }
    let dns = dns.unwrap_or_else(|| usage("--dns is required"));
    if files.is_empty() {
        usage("no message files");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let settings = DnsSettings {
            nameservers: vec![dns],
            timeout: Duration::from_secs(2),
        };
        let checker =
            TrustChecker::with_dns(TrustSettings::default(), &settings).expect("resolver");
        for file in &files {
            let message = std::fs::read(file).unwrap_or_else(|e| usage(&format!("{file}: {e}")));
            let input = CheckInput {
                client_ip: IpAddr::from([127, 0, 0, 1]),
                helo: &helo,
                mail_from: &mail_from,
                hostname: "bench.example.test",
                message: &message,
            };
            // The first check fills the caches; it is not counted.
            let first = checker.check(input).await;
            let mut times = Vec::with_capacity(rounds);
            let cpu0 = process_cpu_seconds();
            for _ in 0..rounds {
                let t = Instant::now();
                let v = checker.check(input).await;
                times.push(t.elapsed());
                std::hint::black_box(v);
            }
            let cpu_us = (process_cpu_seconds() - cpu0) * 1e6 / rounds as f64;
            times.sort();
            let median = times[times.len() / 2];
            println!(
                "{{\"file\": \"{file}\", \"rounds\": {rounds}, \"cpu_us_per_check\": {cpu_us:.1}, \
                 \"median_wall_us\": {:.1}, \"p90_wall_us\": {:.1}, \"dkim\": \"{}\", \
                 \"dmarc\": \"{}\"}}",
                median.as_secs_f64() * 1e6,
                times[times.len() * 9 / 10].as_secs_f64() * 1e6,
                first
                    .dkim
                    .first()
                    .map(|d| d.result.keyword())
                    .unwrap_or("none"),
                first.dmarc.result.keyword(),
            );
        }
    });
}

/// CPU time of this process (user + system, all threads), from
/// `/proc/self/stat`: wall time on a shared machine would count other
/// programs' work and DNS round trips.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

fn usage(why: &str) -> ! {
    eprintln!(
        "trust_cost: {why}\nusage: trust_cost --dns HOST:PORT [--mail-from A] [--helo H] [--rounds N] FILE..."
    );
    std::process::exit(2)
}
