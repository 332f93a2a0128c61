//! The praisani binary: configuration, the admin CLI, and the server.

mod admin;
mod api;
mod autoconfig;
mod cli;
mod config;
mod http;
mod server;
mod store_cmd;
mod tls;

use clap::Parser;
use cli::{Cli, Command};
use config::Config;
use praisani_store::Store;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit status for configuration and startup errors (nothing was started).
const EXIT_CONFIG: u8 = 2;
/// Exit status for a refused admin request or a runtime failure.
const EXIT_FAILURE: u8 = 1;

/// Sets up the log lines on standard error, filtered by `PRAISANI_LOG`
/// (default `info`), as text or one JSON object per line.
fn init_logging(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PRAISANI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        config::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        config::LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, path) = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("praisani: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // After the configuration, which says the format; its own errors are
    // printed plainly above.
    init_logging(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("praisani: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(async move {
        if let Command::CheckConfig = cli.command {
            match &path {
                Some(p) => println!("{}: ok", p.display()),
                None => println!("no configuration file; built-in defaults: ok"),
            }
            println!("{config:#?}");
            for w in config.warnings() {
                eprintln!("praisani: warning: {w}");
            }
            return ExitCode::SUCCESS;
        }
        if let Command::Store(c) = &cli.command {
            return match store_cmd::run(&config, c, cli.json).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    if cli.json {
                        println!("{}", serde_json::json!({"error": e.to_string()}));
                    }
                    eprintln!("praisani: {}", error_text(&e));
                    ExitCode::from(EXIT_FAILURE)
                }
            };
        }
        let store: Arc<dyn Store> =
            match store_cmd::open(&config, matches!(cli.command, Command::Serve(_))).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("praisani: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
        let result = match cli.command {
            Command::Serve(args) => return server::serve(config, store, args.demo).await,
            Command::CheckConfig => Ok(()),
            Command::Domain(c) => admin::domain_cmd(&*store, c, cli.json).await,
            Command::User(c) => admin::user_cmd(&*store, &config, c, cli.json).await,
            Command::Alias(c) => admin::alias_cmd(&*store, c, cli.json).await,
            Command::Queue(c) => admin::queue_cmd(&*store, c, cli.json).await,
            Command::Dkim(c) => admin::dkim_cmd(&*store, &config, c, cli.json).await,
            Command::Token(c) => admin::token_cmd(&*store, c, cli.json).await,
            Command::Dns { domain } => admin::dns_cmd(&*store, &config, &domain, cli.json).await,
            Command::Expire { as_of } => admin::expire_cmd(&*store, &config, as_of, cli.json).await,
            Command::DmarcReport(c) => {
                admin::dmarc_report_cmd(store.clone(), &config, c, cli.json).await
            }
            Command::TlsReport(c) => {
                admin::tls_report_cmd(store.clone(), &config, c, cli.json).await
            }
            Command::Import(c) => admin::import_cmd(&*store, c, cli.json).await,
            Command::Export(c) => admin::export_cmd(&*store, c, cli.json).await,
            Command::Store(_) => Ok(()),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                if cli.json {
                    println!("{}", serde_json::json!({"error": e.to_string()}));
                }
                eprintln!("praisani: {}", error_text(&e));
                ExitCode::from(EXIT_FAILURE)
            }
        }
    })
}

/// An error and its causes on one line, `outer: inner: …`. A store error's
/// own text already names what failed underneath (the database's message),
/// so the chain stops there; a cause whose text was already printed is
/// left out.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        let complete = cause.is::<praisani_store::StoreError>()
            || cause.is::<praisani_mailhost::admin::AdminError>()
            || cause.is::<praisani_delivery::admin::AdminError>();
        if complete {
            break;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_text_names_each_cause_once() {
        let inner = std::io::Error::other("disk on fire");
        let store = praisani_store::StoreError::from(inner);
        let e = anyhow::Error::new(store).context("cannot add the domain");
        let text = super::error_text(&e);
        assert_eq!(text.matches("disk on fire").count(), 1, "{text}");
        assert!(text.starts_with("cannot add the domain: "), "{text}");
        // SQLite's error has a source of its own (the result code): the
        // store's text is the whole story, as it was before it kept sources.
        let sqlite = rusqlite_busy();
        let shown = sqlite.to_string();
        let e = anyhow::Error::new(praisani_mailhost::admin::AdminError::from(sqlite));
        assert_eq!(super::error_text(&e), shown);
    }

    fn rusqlite_busy() -> praisani_store::StoreError {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let a = rusqlite::Connection::open(&path).unwrap();
        a.execute_batch("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);")
            .unwrap();
        let b = rusqlite::Connection::open(&path).unwrap();
        b.busy_timeout(std::time::Duration::ZERO).unwrap();
        let err = b.execute_batch("BEGIN EXCLUSIVE;").unwrap_err();
        praisani_store::StoreError::from(err)
    }
}
