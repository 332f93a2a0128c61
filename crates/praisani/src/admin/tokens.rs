//! `praisani token …`.

use super::print;
use crate::cli::TokenCmd;
use anyhow::Result;
use praisani_mailhost::access::{TokenScope, tokens};
use praisani_mailhost::admin::{parse_address, parse_domain};
use praisani_store::Store;
use serde_json::{Value, json};

/// Runs a `token` subcommand.
pub async fn token_cmd(store: &dyn Store, cmd: TokenCmd, json: bool) -> Result<()> {
    match cmd {
        TokenCmd::Create {
            admin,
            domain,
            user,
            name,
        } => {
            let scope = if admin {
                TokenScope::Admin
            } else if let Some(u) = user {
                TokenScope::User(parse_address(&u)?)
            } else {
                TokenScope::Domains(
                    domain
                        .iter()
                        .map(|d| parse_domain(d))
                        .collect::<Result<_, _>>()?,
                )
            };
            tokens::subjects_exist(store, &scope).await?;
            let issued = tokens::issue(store, scope.clone(), &name, super::unix_now()).await?;
            print(
                json,
                json!({"id": issued.id, "token": issued.secret, "name": name, "scope": scope_json(&scope)}),
                || {
                    format!(
                        "token #{} ({}) created; it is shown only now:\n{}",
                        issued.id,
                        scope_text(&scope),
                        issued.secret
                    )
                },
            );
        }
        TokenCmd::List => {
            let all = tokens::list(store).await?;
            let rows: Vec<Value> = all
                .iter()
                .map(|t| json!({"id": t.id, "name": t.name, "scope": scope_json(&t.scope), "created": t.created}))
                .collect();
            print(json, Value::Array(rows), || {
                all.iter()
                    .map(|t| {
                        let when = chrono::DateTime::from_timestamp(t.created, 0)
                            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_default();
                        format!("#{}\t{}\t{}\t{}", t.id, scope_text(&t.scope), when, t.name)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        TokenCmd::Revoke { id } => {
            tokens::revoke(store, id).await?;
            print(json, json!({"revoked": id}), || {
                format!("token #{id} revoked")
            });
        }
    }
    Ok(())
}

/// A scope as JSON (the CLI's and the API's shape):
/// `{"admin":true}`, `{"domains":[…]}` or `{"user":"…"}`.
pub fn scope_json(scope: &TokenScope) -> Value {
    match scope {
        TokenScope::Admin => json!({"admin": true}),
        TokenScope::Domains(ds) => {
            json!({"domains": ds.iter().map(|d| d.unicode().to_string()).collect::<Vec<_>>()})
        }
        TokenScope::User(a) => json!({"user": a.to_string()}),
    }
}

fn scope_text(scope: &TokenScope) -> String {
    match scope {
        TokenScope::Admin => "admin".into(),
        TokenScope::Domains(ds) => format!(
            "domains {}",
            ds.iter()
                .map(|d| d.unicode().to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        TokenScope::User(a) => format!("user {a}"),
    }
}
