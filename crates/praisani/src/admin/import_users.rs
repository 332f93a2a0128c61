//! `praisani import users FILE`: reads the file, has
//! [`praisani_mailhost::migrate::users`] check and plan it, shows a
//! progress bar on a terminal while passwords are compared and hashed,
//! writes (unless `--dry-run`) and prints what happened.

use super::progress::progress_bar;
use super::{fail, print};
use crate::cli::{ImportUsersArgs, UsersFormat};
use anyhow::Result;
use praisani_mailhost::admin::parse_domain;
use praisani_mailhost::migrate::users::{self, Format, ImportError, Options, Outcome, Planned};
use praisani_store::Store;
use serde_json::json;
use std::io::Read;

/// Most line errors printed as text (all are in `--json`).
const SHOWN_ERRORS: usize = 50;

fn read_file(path: &std::path::Path) -> Result<String> {
    let mut bytes = vec![];
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| fail(format!("reading standard input: {e}")))?;
    } else {
        bytes =
            std::fs::read(path).map_err(|e| fail(format!("reading {}: {e}", path.display())))?;
    }
    String::from_utf8(bytes).map_err(|_| fail(format!("{} is not UTF-8", path.display())))
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Added => "added",
        Outcome::Unchanged => "unchanged",
        Outcome::Updated(_) => "updated",
        Outcome::Skipped(_) => "skipped",
    }
}

fn fields(o: &Outcome) -> Vec<&'static str> {
    match o {
        Outcome::Updated(f) | Outcome::Skipped(f) => f.iter().map(|f| f.name()).collect(),
        _ => vec![],
    }
}

fn refused(e: ImportError, json: bool) -> anyhow::Error {
    match e {
        ImportError::Invalid(errors) => {
            if json {
                let list: Vec<_> = errors
                    .iter()
                    .map(|e| json!({"line": e.line, "error": e.message}))
                    .collect();
                crate::admin::say(json!({"errors": list}));
            }
            let mut text: Vec<String> = errors
                .iter()
                .take(SHOWN_ERRORS)
                .map(|e| e.to_string())
                .collect();
            if errors.len() > SHOWN_ERRORS {
                text.push(format!("… and {} more", errors.len() - SHOWN_ERRORS));
            }
            fail(format!(
                "{} line(s) are wrong, nothing was imported:\n{}",
                errors.len(),
                text.join("\n")
            ))
        }
        ImportError::Store(e) => super::store_err(e),
        other => fail(other.to_string()),
    }
}

/// Runs `import users`.
pub async fn import_users_cmd(store: &dyn Store, args: ImportUsersArgs, json: bool) -> Result<()> {
    let text = read_file(&args.file)?;
    let format = match args.format {
        Some(UsersFormat::Csv) => Format::Csv,
        Some(UsersFormat::Passwd) => Format::Passwd,
        None => Format::guess(&args.file.to_string_lossy(), &text),
    };
    let domain = args.domain.as_deref().map(parse_domain).transpose()?;
    let entries = users::parse(&text, format, domain.as_ref()).map_err(|e| refused(e, json))?;
    let options = Options {
        create_domains: args.create_domains,
        update: args.update,
    };
    let bar = progress_bar(Some(entries.len() as u64), json, "checking");
    let tick = bar.clone();
    let plan = users::plan(store, entries, options, &mut move || tick.inc(1))
        .await
        .map_err(|e| refused(e, json));
    bar.finish_and_clear();
    let plan = plan?;
    let listed: Vec<&Planned> = plan
        .accounts
        .iter()
        .filter(|p| !matches!(p.outcome, Outcome::Unchanged))
        .collect();
    let lines_json: Vec<_> = listed
        .iter()
        .map(|p| json!({"line": p.line, "address": p.address.to_string(), "outcome": outcome_name(&p.outcome), "differs": fields(&p.outcome)}))
        .collect();
    let lines_text: Vec<String> = listed
        .iter()
        .filter(|p| !matches!(p.outcome, Outcome::Added))
        .map(|p| {
            format!(
                "line {}: {} {} ({} differ{})",
                p.line,
                p.address,
                outcome_name(&p.outcome),
                fields(&p.outcome).join(", "),
                if matches!(p.outcome, Outcome::Skipped(_)) {
                    "; --update to change"
                } else {
                    ""
                }
            )
        })
        .collect();
    let new_domains: Vec<String> = plan.new_domains.iter().map(|d| d.to_string()).collect();
    let summary = if args.dry_run {
        plan.summary()
    } else {
        users::apply(store, plan)
            .await
            .map_err(|e| refused(e, json))?
    };
    let verb = if args.dry_run { "would be " } else { "" };
    print(
        json,
        json!({
            "dry_run": args.dry_run,
            "added": summary.added,
            "unchanged": summary.unchanged,
            "updated": summary.updated,
            "skipped": summary.skipped,
            "new_domains": new_domains,
            "accounts": lines_json,
        }),
        || {
            let mut out = lines_text.clone();
            if !new_domains.is_empty() {
                out.push(format!("domains {verb}added: {}", new_domains.join(", ")));
            }
            out.push(format!(
                "{} {verb}added, {} unchanged, {} {verb}updated, {} skipped{}",
                summary.added,
                summary.unchanged,
                summary.updated,
                summary.skipped,
                if args.dry_run {
                    " (dry run: nothing written)"
                } else {
                    ""
                }
            ));
            out.join("\n")
        },
    );
    Ok(())
}
