//! `praisani import` and `praisani export`: mail moved in from another
//! server and out again, through [`praisani_mailhost::migrate`], with a
//! progress bar on a terminal ([`super::progress`]) and a summary.

use super::progress::progress_bar;
use super::{fail, print, store_err, unix_now};
use crate::cli::{ExportCmd, ImportCmd};
use anyhow::Result;
use praisani_mailhost::admin::parse_address;
use praisani_mailhost::migrate::{MigrateError, export, import, maildir, uidl_format};
use praisani_store::{AccountId, Store};
use serde_json::json;
use std::time::Instant;

fn migrate_err(e: MigrateError) -> anyhow::Error {
    match e {
        MigrateError::Store(s) => store_err(s),
        other => fail(other.to_string()),
    }
}

async fn account(store: &dyn Store, address: &str) -> Result<AccountId> {
    let a = parse_address(address).map_err(|e| fail(e.to_string()))?;
    match store.account_get(&a).await.map_err(store_err)? {
        Some(acc) => Ok(acc.id),
        None => Err(fail(format!(
            "mailbox {a} does not exist; create it first (praisani user add)"
        ))),
    }
}

fn summary_json(s: &import::Summary, dry_run: bool) -> serde_json::Value {
    json!({
        "read": s.read, "imported": s.imported, "already_there": s.already_there,
        "own_uidl": s.own_uidl, "seen": s.seen, "bytes": s.bytes, "dry_run": dry_run,
    })
}

fn summary_text(s: &import::Summary, dry_run: bool, secs: f64) -> String {
    let verb = if dry_run { "would import" } else { "imported" };
    let mut t = format!(
        "{} message(s) read: {verb} {} ({} octets), {} already there (skipped), {} marked read; {:.1} s",
        s.read, s.imported, s.bytes, s.already_there, s.seen, secs
    );
    if s.own_uidl > 0 {
        t.push_str(&format!(
            "\n{} message(s) had no UIDL of the old server and got one of praisani's own (a re-run imports them again)",
            s.own_uidl
        ));
    }
    t
}

/// Runs `import …`.
pub async fn import_cmd(store: &dyn Store, cmd: ImportCmd, json: bool) -> Result<()> {
    let limits = import::Limits::default();
    match cmd {
        ImportCmd::Users(args) => super::import_users_cmd(store, args, json).await,
        ImportCmd::Pop3(args) => super::import_pop3_cmd(store, args, json).await,
        ImportCmd::Maildir {
            path,
            to,
            uidl_format,
            dry_run,
        } => {
            let id = account(store, &to).await?;
            let format = uidl_format
                .as_deref()
                .map(uidl_format::UidlFormat::parse)
                .transpose()
                .map_err(migrate_err)?;
            let scan = maildir::scan(&path, format.as_ref()).map_err(migrate_err)?;
            let started = Instant::now();
            let bar = progress_bar(Some(scan.total), json, "importing");
            let s =
                import::import_maildir(store, id, &scan, dry_run, limits, unix_now(), &mut |s| {
                    bar.set_position(s.read)
                })
                .await;
            bar.finish_and_clear();
            let s = s.map_err(migrate_err)?;
            let mut value = summary_json(&s, dry_run);
            value["uidls_from"] = json!(scan.source.label());
            value["folders_not_imported"] = json!(scan.folders);
            print(json, value, || {
                let mut t = format!(
                    "{}: UIDLs from {}\n{}",
                    path.display(),
                    scan.source.label(),
                    summary_text(&s, dry_run, started.elapsed().as_secs_f64())
                );
                if !scan.folders.is_empty() {
                    t.push_str(&format!(
                        "\nINBOX only (POP3 sees no folders); not imported: {}",
                        scan.folders.join(", ")
                    ));
                }
                t
            });
            Ok(())
        }
        ImportCmd::Mbox {
            file,
            to,
            dry_run,
            max_line,
        } => {
            let id = account(store, &to).await?;
            let limits = import::Limits { max_line, ..limits };
            let started = Instant::now();
            let bar = progress_bar(None, json, "importing");
            let s = import::import_mbox(store, id, &file, dry_run, limits, unix_now(), &mut |s| {
                bar.set_position(s.read)
            })
            .await;
            bar.finish_and_clear();
            let s = s.map_err(migrate_err)?;
            print(json, summary_json(&s, dry_run), || {
                format!(
                    "{}: {}",
                    file.display(),
                    summary_text(&s, dry_run, started.elapsed().as_secs_f64())
                )
            });
            Ok(())
        }
    }
}

/// Runs `export …`.
pub async fn export_cmd(store: &dyn Store, cmd: ExportCmd, json: bool) -> Result<()> {
    let (address, path, maildir) = match cmd {
        ExportCmd::Maildir { address, path } => (address, path, true),
        ExportCmd::Mbox { address, file } => (address, file, false),
    };
    let id = account(store, &address).await?;
    let total = store.list_messages(id).await.map_err(store_err)?.len() as u64;
    let bar = progress_bar(Some(total), json, "exporting");
    let done = if maildir {
        export::export_maildir(store, id, &path, unix_now(), &mut |n| bar.set_position(n)).await
    } else {
        export::export_mbox(store, id, &path, &mut |n| bar.set_position(n)).await
    };
    bar.finish_and_clear();
    let done = done.map_err(migrate_err)?;
    print(
        json,
        json!({"messages": done.messages, "bytes": done.bytes, "path": path.display().to_string(),
               "format": if maildir { "maildir" } else { "mbox" }}),
        || {
            format!(
                "{} message(s) ({} octets) of {address} written to {} ({})",
                done.messages,
                done.bytes,
                path.display(),
                if maildir {
                    "Maildir, UIDLs in dovecot-uidlist"
                } else {
                    "mbox, UIDLs in X-UIDL:"
                }
            )
        },
    );
    Ok(())
}
