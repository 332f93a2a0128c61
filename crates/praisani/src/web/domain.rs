//! `/domains/…`: a domain administrator's pages. Every request is decided
//! by [`allows`] from the session's scope before the store is asked, so
//! another customer's domain or mailbox is refused alike whether or not it
//! exists.

use super::html::{Notice, esc, field, usage};
use super::login::csrf;
use super::{Refusal, Session, Web, WebError, see_other};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use praisani_mailaddr::{Address, Domain};
use praisani_mailhost::access::{Action, allows};
use praisani_mailhost::admin::accounts::{self, ApopChange, NewMailbox};
use praisani_mailhost::admin::limits::Authority;
use praisani_mailhost::admin::pages::page;
use praisani_mailhost::admin::{AdminError, aliases, parse_address, parse_domain, parse_quota};
use praisani_store::tokens::TokenScope;
use serde::Deserialize;
use std::fmt::Write as _;

/// The path of a domain's page (its A-label: letters, digits, dots and
/// hyphens only, nothing to encode).
fn domain_path(d: &Domain) -> String {
    format!("/domains/{}", d.ascii())
}

/// `GET /domains`: the session's domains (straight to the one there is).
pub(crate) async fn index(State(web): State<Web>, s: Session) -> Result<Response, Refusal> {
    let domains: Vec<Domain> = match &s.scope {
        TokenScope::Domains(ds) => ds.clone(),
        TokenScope::Admin => praisani_mailhost::admin::domains::list(web.store())
            .await
            .map_err(|_| s.refuse(WebError::Unavailable))?
            .into_iter()
            .map(|i| i.domain)
            .collect(),
        TokenScope::User(_) => return Err(s.refuse(WebError::Forbidden)),
    };
    if let [only] = domains.as_slice() {
        return Ok(see_other(&domain_path(only)));
    }
    let t = s.t();
    let mut body = format!("<h1>{}</h1><section><ul class=\"boxes\">", esc(t.domains));
    for d in &domains {
        let _ = write!(
            body,
            "<li><a class=\"addr\" href=\"{}\">{}</a></li>",
            esc(&domain_path(d)),
            esc(&d.unicode())
        );
    }
    body.push_str("</ul></section>");
    Ok(s.page(StatusCode::OK, t.domains, &Notice::None, &body))
}

/// The domain of the path, if the session may see it (else refused, the
/// same for a name that is not even a domain).
fn domain_for(s: &Session, d: &str, manage: bool) -> Result<Domain, Refusal> {
    let d = parse_domain(d).map_err(|_| s.refuse(WebError::Forbidden))?;
    let action = if manage {
        Action::ManageDomain(&d)
    } else {
        Action::ReadDomain(&d)
    };
    if allows(&s.scope, action) {
        Ok(d)
    } else {
        Err(s.refuse(WebError::Forbidden))
    }
}

/// `?cursor=` (the mailbox list is paged) and `?done=` (what just worked).
#[derive(Deserialize)]
pub(crate) struct ShowQuery {
    cursor: Option<String>,
    done: Option<String>,
}

/// `GET /domains/{domain}`: its mailboxes with their usage, its aliases,
/// and the forms that change them.
pub(crate) async fn show(
    State(web): State<Web>,
    s: Session,
    Path(d): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, Refusal> {
    let d = domain_for(&s, &d, false)?;
    let notice = match q.done {
        Some(_) => Notice::Ok(s.t().saved.into()),
        None => Notice::None,
    };
    render(&web, &s, &d, q.cursor.as_deref(), StatusCode::OK, notice).await
}

async fn render(
    web: &Web,
    s: &Session,
    d: &Domain,
    cursor: Option<&str>,
    status: StatusCode,
    notice: Notice,
) -> Result<Response, Refusal> {
    let t = s.t();
    let unavailable = |_| s.refuse(WebError::Unavailable);
    let all = accounts::list(web.store(), Some(d))
        .await
        .map_err(unavailable)?;
    let p = page(all, |a| a.address.canonical(), None, cursor);
    let path = esc(&domain_path(d));
    let csrf = csrf(s);
    let mut b = format!(
        "<h1>{}</h1><h2>{}</h2><section><ul class=\"boxes\" id=\"mailboxes\">",
        esc(&d.unicode()),
        esc(t.mailboxes)
    );
    for a in &p.items {
        let addr = esc(&a.address.to_string());
        let _ = write!(
            b,
            "<li data-address=\"{addr}\"><div class=\"addr\">{addr}</div>{}\
             <details><summary>{}</summary>\
             <form method=\"post\" action=\"{path}/mailboxes/password\" class=\"row\">{csrf}\
             <input type=\"hidden\" name=\"address\" value=\"{addr}\">{}\
             <button type=\"submit\">{}</button></form>\
             <form method=\"post\" action=\"{path}/mailboxes/quota\" class=\"row\">{csrf}\
             <input type=\"hidden\" name=\"address\" value=\"{addr}\">{}\
             <button type=\"submit\">{}</button></form>\
             <form method=\"post\" action=\"{path}/mailboxes/remove\">{csrf}\
             <input type=\"hidden\" name=\"address\" value=\"{addr}\">\
             <button type=\"submit\" class=\"danger\">{}</button></form></details></li>",
            usage(t, a.used_bytes, a.quota_bytes, a.used_messages),
            esc(t.manage),
            field(
                t.new_password,
                "password",
                "password",
                "",
                "required autocomplete=\"new-password\""
            ),
            esc(t.reset_password),
            field(
                t.quota,
                "quota",
                "text",
                &a.quota_bytes
                    .map(size_value)
                    .unwrap_or_else(|| "unlimited".into()),
                &format!("placeholder=\"{}\"", esc(t.quota_hint))
            ),
            esc(t.set_quota),
            esc(t.remove),
        );
    }
    b.push_str("</ul>");
    if let Some(next) = &p.next {
        let _ = write!(
            b,
            "<p><a href=\"{path}?cursor={}\">→</a></p>",
            utf8_percent_encode(next, NON_ALPHANUMERIC)
        );
    }
    let _ = write!(
        b,
        "</section><section><h2>{}</h2><form method=\"post\" action=\"{path}/mailboxes\" id=\"add-mailbox\">{csrf}\
         <div class=\"row\">{}{}{}</div><button type=\"submit\">{}</button></form></section>",
        esc(t.add_mailbox),
        field(
            t.address,
            "local",
            "text",
            "",
            &format!(
                "required id=\"new-local\" placeholder=\"name@{}\"",
                esc(&d.unicode())
            )
        ),
        field(
            t.password,
            "password",
            "password",
            "",
            "required id=\"new-password\" autocomplete=\"new-password\""
        ),
        field(
            t.quota,
            "quota",
            "text",
            "",
            &format!("id=\"new-quota\" placeholder=\"{}\"", esc(t.quota_hint))
        ),
        esc(t.add)
    );
    let list = aliases::list(web.store(), Some(d))
        .await
        .map_err(unavailable)?;
    let _ = write!(
        b,
        "<h2>{}</h2><section><ul class=\"boxes\" id=\"aliases\">",
        esc(t.aliases)
    );
    for a in &list {
        let addr = esc(&a.address.to_string());
        let targets: Vec<String> = a.targets.iter().map(ToString::to_string).collect();
        let _ = write!(
            b,
            "<li><span class=\"addr\">{addr}</span> → {}\
             <form method=\"post\" action=\"{path}/aliases/remove\">{csrf}\
             <input type=\"hidden\" name=\"address\" value=\"{addr}\">\
             <button type=\"submit\" class=\"danger\">{}</button></form></li>",
            esc(&targets.join(", ")),
            esc(t.remove)
        );
    }
    if list.is_empty() {
        let _ = write!(b, "<li>{}</li>", esc(t.none));
    }
    let _ = write!(
        b,
        "</ul><h2>{}</h2><form method=\"post\" action=\"{path}/aliases\">{csrf}\
         <div class=\"row\">{}{}</div><button type=\"submit\">{}</button></form></section>",
        esc(t.add_alias),
        field(t.alias, "local", "text", "", "required"),
        field(t.targets, "targets", "text", "", "required"),
        esc(t.add)
    );
    Ok(s.page(status, &d.unicode(), &notice, &b))
}

/// A quota as the form shows it again (what `parse_quota` reads).
fn size_value(q: u64) -> String {
    q.to_string()
}

/// After a change: back to the domain's page, or the page again with why
/// not.
async fn outcome(
    web: &Web,
    s: &Session,
    d: &Domain,
    r: Result<(), AdminError>,
) -> Result<Response, Refusal> {
    match r {
        Ok(()) => Ok(see_other(&format!("{}?done=1", domain_path(d)))),
        Err(e) if e.is_temporary() => Err(s.refuse(WebError::Unavailable)),
        Err(e) => {
            let text = super::errors::explain(s.lang, &e);
            render(web, s, d, None, StatusCode::BAD_REQUEST, Notice::Err(text)).await
        }
    }
}

/// The add-mailbox form.
#[derive(Deserialize)]
pub(crate) struct NewMailboxForm {
    csrf: String,
    local: String,
    password: String,
    #[serde(default)]
    quota: String,
}

/// An address typed as a local part of `d`, or in full (then of `d`).
fn address_in(local: &str, d: &Domain) -> Result<Address, AdminError> {
    let local = local.trim();
    let a = if local.contains('@') {
        parse_address(local)?
    } else {
        parse_address(&format!("{local}@{}", d.ascii()))?
    };
    if a.domain() != d {
        return Err(AdminError::InvalidAddress(local.to_string()));
    }
    Ok(a)
}

/// `POST /domains/{domain}/mailboxes`.
pub(crate) async fn add_mailbox(
    State(web): State<Web>,
    s: Session,
    Path(d): Path<String>,
    Form(f): Form<NewMailboxForm>,
) -> Result<Response, Refusal> {
    s.check_csrf(&f.csrf, web.key().await.map_err(|e| s.refuse(e))?)?;
    let d = domain_for(&s, &d, true)?;
    let r = async {
        let address = address_in(&f.local, &d)?;
        let quota_bytes = match f.quota.trim() {
            "" => None,
            q => parse_quota(q)?,
        };
        // A domain administrator is bound by the domain's limits, as
        // through the API.
        accounts::add_as(
            web.store(),
            NewMailbox {
                address,
                password: &f.password,
                apop: false,
                quota_bytes,
                quota_messages: None,
                lang: s.lang,
            },
            Authority::of(&s.scope),
        )
        .await
    }
    .await;
    outcome(&web, &s, &d, r).await
}

/// A form about one mailbox or alias of the domain.
#[derive(Deserialize)]
pub(crate) struct AddressForm {
    csrf: String,
    address: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    quota: String,
}

/// The form's address, if the session may `action` it and it is of `d`.
fn target(
    s: &Session,
    d: &Domain,
    f: &AddressForm,
    action: impl Fn(&Address) -> bool,
) -> Result<Address, Refusal> {
    let a = parse_address(&f.address).map_err(|_| s.refuse(WebError::Forbidden))?;
    if a.domain() != d || !action(&a) {
        return Err(s.refuse(WebError::Forbidden));
    }
    Ok(a)
}

/// `POST /domains/{domain}/mailboxes/remove`.
pub(crate) async fn remove_mailbox(
    State(web): State<Web>,
    s: Session,
    Path(d): Path<String>,
    Form(f): Form<AddressForm>,
) -> Result<Response, Refusal> {
    s.check_csrf(&f.csrf, web.key().await.map_err(|e| s.refuse(e))?)?;
    let d = domain_for(&s, &d, true)?;
    let a = target(&s, &d, &f, |a| {
        allows(&s.scope, Action::ManageDomain(a.domain()))
    })?;
    let r = accounts::remove(web.store(), &a).await;
    outcome(&web, &s, &d, r).await
}

/// `POST /domains/{domain}/mailboxes/password`.
pub(crate) async fn set_password(
    State(web): State<Web>,
    s: Session,
    Path(d): Path<String>,
    Form(f): Form<AddressForm>,
) -> Result<Response, Refusal> {
    s.check_csrf(&f.csrf, web.key().await.map_err(|e| s.refuse(e))?)?;
    let d = domain_for(&s, &d, true)?;
    let a = target(&s, &d, &f, |a| allows(&s.scope, Action::SetPassword(a)))?;
    let r = async {
        let account = accounts::get(web.store(), &a).await?;
        accounts::set_password(web.store(), &account, &f.password, ApopChange::Keep).await?;
        Ok(())
    }
    .await;
    outcome(&web, &s, &d, r).await
}

/// `POST /domains/{domain}/mailboxes/quota`.
pub(crate) async fn set_quota(
    State(web): State<Web>,
    s: Session,
    Path(d): Path<String>,
    Form(f): Form<AddressForm>,
) -> Result<Response, Refusal> {
    s.check_csrf(&f.csrf, web.key().await.map_err(|e| s.refuse(e))?)?;
    let d = domain_for(&s, &d, true)?;
    let a = target(&s, &d, &f, |a| allows(&s.scope, Action::SetQuota(a)))?;
    let r = async {
        let q = parse_quota(f.quota.trim())?;
        accounts::set_quota_as(web.store(), &a, q, None, Authority::of(&s.scope)).await?;
        Ok(())
    }
    .await;
    outcome(&web, &s, &d, r).await
}

/// The add-alias form.
#[derive(Deserialize)]
pub(crate) struct NewAliasForm {
    csrf: String,
    local: String,
    targets: String,
}

/// `POST /domains/{domain}/aliases`.
pub(crate) async fn add_alias(
    State(web): State<Web>,
    s: Session,
    Path(d): Path<String>,
    Form(f): Form<NewAliasForm>,
) -> Result<Response, Refusal> {
    s.check_csrf(&f.csrf, web.key().await.map_err(|e| s.refuse(e))?)?;
    let d = domain_for(&s, &d, true)?;
    let r = async {
        let alias = address_in(&f.local, &d)?;
        let targets = f
            .targets
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(parse_address)
            .collect::<Result<Vec<_>, _>>()?;
        aliases::add_as(web.store(), &alias, &targets, Authority::of(&s.scope)).await
    }
    .await;
    outcome(&web, &s, &d, r).await
}

/// `POST /domains/{domain}/aliases/remove`.
pub(crate) async fn remove_alias(
    State(web): State<Web>,
    s: Session,
    Path(d): Path<String>,
    Form(f): Form<AddressForm>,
) -> Result<Response, Refusal> {
    s.check_csrf(&f.csrf, web.key().await.map_err(|e| s.refuse(e))?)?;
    let d = domain_for(&s, &d, true)?;
    let a = target(&s, &d, &f, |a| {
        allows(&s.scope, Action::ManageDomain(a.domain()))
    })?;
    let r = aliases::remove(web.store(), &a).await;
    outcome(&web, &s, &d, r).await
}
