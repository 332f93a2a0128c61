//! `praisani import pop3 --from HOST:PORT`: reads the accounts (one from
//! the options, or a CSV), has [`praisani_mailhost::migrate::pop3::pull`]
//! copy each, with a progress bar on a terminal, and prints one result
//! line per account. Any account failing makes the exit status non-zero;
//! the others are still pulled.

use super::progress::progress_bar;
use super::{fail, print};
use crate::cli::{ImportPop3Args, Pop3Tls};
use anyhow::{Context, Result, bail};
use praisani_mailhost::admin::{parse_address, parse_size};
use praisani_mailhost::migrate::pop3::{
    self, Progress, PullAccount, PullOptions, PullReport, Source, Tls, Trust,
};
use praisani_store::Store;
use serde_json::json;
use std::io::BufRead;
use std::time::Duration;

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        bail!(fail("the password read from stdin is empty"));
    }
    Ok(pw)
}

fn accounts(args: &ImportPop3Args) -> Result<Vec<PullAccount>> {
    if let Some(path) = &args.accounts {
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("reading {}: {e}", path.display())))?;
        return pop3::parse_accounts(&text).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            fail(format!(
                "{} line(s) of {} are wrong, nothing was pulled:\n{}",
                errors.len(),
                path.display(),
                lines.join("\n")
            ))
        });
    }
    let Some(user) = args.user.clone() else {
        bail!(fail(
            "give --user ADDRESS --password-stdin or --accounts FILE.csv"
        ));
    };
    let to = parse_address(args.to.as_deref().unwrap_or(&user))?;
    Ok(vec![PullAccount {
        user,
        password: read_password()?,
        to,
    }])
}

fn report_json(a: &PullAccount, r: &Result<PullReport, pop3::PullError>) -> serde_json::Value {
    match r {
        Ok(r) => json!({
            "user": a.user, "to": a.to.to_string(), "ok": true,
            "listed": r.listed, "copied": r.copied, "already": r.already,
            "bytes": r.bytes, "too_large": r.too_large, "deleted": r.deleted,
        }),
        Err(e) => {
            json!({"user": a.user, "to": a.to.to_string(), "ok": false, "error": e.to_string()})
        }
    }
}

fn report_text(a: &PullAccount, r: &Result<PullReport, pop3::PullError>) -> String {
    match r {
        Ok(r) => {
            let mut t = format!(
                "{} -> {}: {} copied ({} octets), {} already here, of {} listed",
                a.user, a.to, r.copied, r.bytes, r.already, r.listed
            );
            if !r.too_large.is_empty() {
                t.push_str(&format!(
                    "; {} too large, left there: {}",
                    r.too_large.len(),
                    r.too_large.join(" ")
                ));
            }
            if r.deleted > 0 {
                t.push_str(&format!("; {} deleted at the source", r.deleted));
            }
            t
        }
        Err(e) => format!("{} -> {}: FAILED: {e}", a.user, a.to),
    }
}

/// Runs `import pop3`.
pub async fn import_pop3_cmd(store: &dyn Store, args: ImportPop3Args, json: bool) -> Result<()> {
    let (host, port) = pop3::parse_host_port(&args.from)
        .ok_or_else(|| fail(format!("invalid --from {:?} (HOST:PORT)", args.from)))?;
    let tls = match args.tls {
        Some(Pop3Tls::Implicit) => Tls::Implicit,
        Some(Pop3Tls::Starttls) => Tls::StartTls,
        Some(Pop3Tls::None) => Tls::None,
        None if port == 995 => Tls::Implicit,
        None => Tls::StartTls,
    };
    let trust = match (&args.ca, args.insecure) {
        (Some(_), true) => bail!(fail("give --ca or --insecure, not both")),
        (Some(ca), false) => Trust::CaFile(ca.clone()),
        (None, true) => Trust::Anything,
        (None, false) => Trust::System,
    };
    let source = Source {
        host,
        port,
        tls,
        trust,
        plaintext_anywhere: args.insecure_plaintext,
    };
    source.check().map_err(|e| fail(e.to_string()))?;
    let max_message = parse_size(&args.max_message)
        .ok_or_else(|| fail(format!("invalid --max-message {:?}", args.max_message)))?;
    if args.batch == 0 {
        bail!(fail("--batch must be at least 1"));
    }
    let options = PullOptions {
        delete_at_source: args.delete_at_source,
        batch: args.batch,
        timeout: Duration::from_secs(args.timeout.max(1)),
        greeting_timeout: Duration::from_secs(args.greeting_timeout.max(1)),
        max_message,
        ..PullOptions::default()
    };
    let accounts = accounts(&args)?;
    let (mut results, mut failed) = (vec![], 0);
    for a in &accounts {
        let bar = progress_bar(Some(0), json, &a.user);
        let tick = bar.clone();
        let r = pop3::pull(store, &source, a, &options, &mut move |p| match p {
            Progress::ToCopy(n) => tick.set_length(n as u64),
            Progress::Copied(_) => tick.inc(1),
        })
        .await;
        bar.finish_and_clear();
        if r.is_err() {
            failed += 1;
        }
        if !json {
            crate::admin::say(report_text(a, &r));
        }
        results.push(report_json(a, &r));
    }
    if json {
        print(
            true,
            json!({"accounts": results, "failed": failed}),
            String::new,
        );
    }
    if failed > 0 {
        bail!(fail(format!(
            "{failed} of {} account(s) failed (a re-run copies only what is missing)",
            accounts.len()
        )));
    }
    Ok(())
}
