//! `/me`: a mailbox's own page. The session proves the mailbox's password,
//! so these act on the session's own mailbox only (never on an address
//! from the form): its password (the current one checked again, through
//! the login throttle), how full it is, what retention will delete, the
//! language of its notices and pages, forwarding and the vacation reply.

use super::html::{Notice, esc, field, usage};
use super::login::csrf;
use super::session::Ticket;
use super::text::fill;
use super::{Refusal, Session, Web, WebError, client_ip_of, see_other};
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use praisani_mailhost::admin::accounts::{self, ApopChange};
use praisani_mailhost::admin::vacation::{self, VacationRequest, first_day, last_day, parse_date};
use praisani_mailhost::admin::{AdminError, forwarding, parse_address};
use praisani_mailhost::login::check_password;
use praisani_mailhost::retention;
use praisani_message::Language;
use praisani_store::Keep;
use serde::Deserialize;
use std::fmt::Write as _;
use std::net::SocketAddr;

/// `?done=` after a change that worked.
#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// `GET /me`.
pub(crate) async fn show(
    State(web): State<Web>,
    s: Session,
    Query(q): Query<Done>,
) -> Result<Response, Refusal> {
    let notice = match q.done {
        Some(_) => Notice::Ok(s.t().saved.into()),
        None => Notice::None,
    };
    render(&web, &s, StatusCode::OK, notice).await
}

async fn render(
    web: &Web,
    s: &Session,
    status: StatusCode,
    notice: Notice,
) -> Result<Response, Refusal> {
    let t = s.t();
    let a = &s.account;
    let unavailable = |_| s.refuse(WebError::Unavailable);
    let csrf = csrf(s);
    let mut b = format!(
        "<h1>{}</h1><section id=\"usage\">{}</section>",
        esc(t.my_mailbox),
        usage(t, a.used_bytes, a.quota_bytes, a.used_messages)
    );
    // What retention deletes.
    let r = retention::effective(a, web.shared.office.settings.retention);
    let mut rules = Vec::new();
    match r.after_retrieval {
        Keep::Days(0) => rules.push(t.at_quit.to_string()),
        Keep::Days(n) => rules.push(fill(t.after_retrieval, &n.to_string(), "")),
        Keep::Forever | Keep::Inherit => {}
    }
    if let Keep::Days(n) = r.max_age {
        rules.push(fill(t.max_age, &n.to_string(), ""));
    }
    if rules.is_empty() {
        rules.push(t.kept.to_string());
    }
    let _ = write!(
        b,
        "<section id=\"retention\"><h2>{}</h2><ul>",
        esc(t.retention)
    );
    for r in rules {
        let _ = write!(b, "<li>{}</li>", esc(&r));
    }
    b.push_str("</ul>");
    // What that means for this mailbox now, by the sweep's own decision.
    let now = chrono::Utc::now().timestamp();
    let messages = web
        .store()
        .list_messages(a.id)
        .await
        .map_err(|_| s.refuse(WebError::Unavailable))?;
    let u = retention::upcoming(r, now, messages.iter().map(|m| (m.received, m.retrieved)));
    if r.cutoffs(now).is_some() {
        let _ = write!(
            b,
            "<p id=\"upcoming\">{}",
            esc(&fill(
                t.upcoming,
                &u.within_a_day.to_string(),
                &u.within_a_week.to_string()
            ))
        );
        if let Some(at) = u
            .next
            .and_then(|at| chrono::DateTime::from_timestamp(at.max(now), 0))
        {
            let when = at.format("%Y-%m-%d %H:%M").to_string();
            let _ = write!(b, " {}", esc(&fill(t.next_deletion, &when, "")));
        }
        b.push_str("</p>");
    }
    b.push_str("</section>");
    // Password.
    let _ = write!(
        b,
        "<section><h2>{}</h2><form method=\"post\" action=\"/me/password\" id=\"change-password\">{csrf}{}{}{}\
         <button type=\"submit\">{}</button></form></section>",
        esc(t.change_password),
        field(
            t.current_password,
            "current",
            "password",
            "",
            "required autocomplete=\"current-password\" id=\"current\""
        ),
        field(
            t.new_password,
            "new",
            "password",
            "",
            "required autocomplete=\"new-password\" id=\"new\""
        ),
        field(
            t.repeat_password,
            "repeat",
            "password",
            "",
            "required autocomplete=\"new-password\" id=\"repeat\""
        ),
        esc(t.change_password)
    );
    // Language.
    let _ = write!(
        b,
        "<section><h2>{}</h2><form method=\"post\" action=\"/me/language\" class=\"row\">{csrf}<select name=\"lang\">",
        esc(t.language)
    );
    for l in Language::ALL {
        let sel = if l == a.lang { " selected" } else { "" };
        let _ = write!(
            b,
            "<option value=\"{}\"{sel}>{}</option>",
            l.tag(),
            super::text::native_name(l)
        );
    }
    let _ = write!(
        b,
        "</select><button type=\"submit\">{}</button></form></section>",
        esc(t.save)
    );
    // Forwarding.
    let fwd = forwarding::show(web.store(), &a.address)
        .await
        .map_err(unavailable)?;
    let (targets, keep) = match &fwd {
        Some(f) => (
            f.targets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            f.keep,
        ),
        None => (String::new(), true),
    };
    let _ = write!(
        b,
        "<section><h2>{} · {}</h2><form method=\"post\" action=\"/me/forward\">{csrf}{}\
         <label class=\"check\"><input type=\"checkbox\" name=\"keep\" value=\"1\"{}>{}</label>\
         <button type=\"submit\">{}</button> <button type=\"submit\" name=\"off\" value=\"1\" class=\"danger\">{}</button>\
         </form></section>",
        esc(t.forwarding),
        esc(if fwd.is_some() { t.is_on } else { t.is_off }),
        field(t.forward_to, "targets", "text", &targets, ""),
        if keep { " checked" } else { "" },
        esc(t.keep_copy),
        esc(t.save),
        esc(t.turn_off)
    );
    // Vacation.
    let v = vacation::show(web.store(), &a.address)
        .await
        .map_err(unavailable)?;
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let (subject, text, from, until) = match &v {
        Some(v) => (
            v.subject.clone().unwrap_or_default(),
            v.text.clone(),
            day(first_day(v)),
            day(last_day(v)),
        ),
        None => Default::default(),
    };
    let _ = write!(
        b,
        "<section><h2>{} · {}</h2><form method=\"post\" action=\"/me/vacation\">{csrf}{}\
         <label>{}<textarea name=\"text\">{}</textarea></label><div class=\"row\">{}{}</div>\
         <button type=\"submit\">{}</button> <button type=\"submit\" name=\"off\" value=\"1\" class=\"danger\">{}</button>\
         </form></section>",
        esc(t.vacation),
        esc(if v.is_some() { t.is_on } else { t.is_off }),
        field(t.subject, "subject", "text", &subject, ""),
        esc(t.text),
        esc(&text),
        field(t.first_day, "from", "date", &from, ""),
        field(t.last_day, "until", "date", &until, ""),
        esc(t.save),
        esc(t.turn_off)
    );
    Ok(s.page(status, t.my_mailbox, &notice, &b))
}

async fn outcome(web: &Web, s: &Session, r: Result<(), AdminError>) -> Result<Response, Refusal> {
    match r {
        Ok(()) => Ok(see_other("/me?done=1")),
        Err(e) if e.is_temporary() => Err(s.refuse(WebError::Unavailable)),
        Err(e) => {
            let text = super::errors::explain(s.lang, &e);
            render(web, s, StatusCode::BAD_REQUEST, Notice::Err(text)).await
        }
    }
}

/// The change-password form.
#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    repeat: String,
}

/// `POST /me/password`: the current password again (through the login
/// throttle: a stolen session cannot guess it unthrottled), then the new
/// one; every other session of the mailbox ends with the old password
/// hash, and this one gets a new cookie.
pub(crate) async fn password(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    s: Session,
    Form(f): Form<PasswordForm>,
) -> Result<Response, Refusal> {
    let key = web.key().await.map_err(|e| s.refuse(e))?;
    s.check_csrf(&f.csrf, key)?;
    let t = s.t();
    if f.new != f.repeat {
        return render(
            &web,
            &s,
            StatusCode::BAD_REQUEST,
            Notice::Err(t.passwords_differ.into()),
        )
        .await;
    }
    let me = s.address().canonical();
    if check_password(&web.shared.logins, client_ip_of(peer), &me, &f.current)
        .await
        .is_err()
    {
        return render(
            &web,
            &s,
            StatusCode::FORBIDDEN,
            Notice::Err(t.wrong_password.into()),
        )
        .await;
    }
    if let Err(e) = accounts::set_password(web.store(), &s.account, &f.new, ApopChange::Keep).await
    {
        return outcome(&web, &s, Err(e)).await;
    }
    let account = accounts::get(web.store(), s.address())
        .await
        .map_err(|_| s.refuse(WebError::Unavailable))?;
    let mut ticket = Ticket::new(
        key,
        &account.address,
        &account.password_hash,
        s.ticket.issued,
    );
    ticket.seen = chrono::Utc::now().timestamp();
    let mut r = see_other("/me?done=password");
    r.headers_mut().insert(
        header::SET_COOKIE,
        web.session_cookie(Some(&ticket.seal(key))),
    );
    tracing::info!(address = %account.address, "web: password changed");
    Ok(r)
}

/// The language form.
#[derive(Deserialize)]
pub(crate) struct LanguageForm {
    csrf: String,
    lang: String,
}

/// `POST /me/language`: the language of the mailbox's notices, and of
/// these pages (the `lang` cookie).
pub(crate) async fn language(
    State(web): State<Web>,
    s: Session,
    Form(f): Form<LanguageForm>,
) -> Result<Response, Refusal> {
    s.check_csrf(&f.csrf, web.key().await.map_err(|e| s.refuse(e))?)?;
    let Some(lang) = Language::from_tag(&f.lang) else {
        return Err(s.refuse(WebError::Forbidden));
    };
    let r = accounts::set_notices(web.store(), s.address(), Some(lang), None)
        .await
        .map(|_| ());
    let mut resp = outcome(&web, &s, r).await?;
    if let Ok(v) = header::HeaderValue::from_str(&format!(
        "lang={}; Path=/; Secure; SameSite=Strict; Max-Age=31536000",
        lang.tag()
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// The forwarding form.
#[derive(Deserialize)]
pub(crate) struct ForwardForm {
    csrf: String,
    #[serde(default)]
    targets: String,
    keep: Option<String>,
    off: Option<String>,
}

/// `POST /me/forward`.
pub(crate) async fn forward(
    State(web): State<Web>,
    s: Session,
    Form(f): Form<ForwardForm>,
) -> Result<Response, Refusal> {
    s.check_csrf(&f.csrf, web.key().await.map_err(|e| s.refuse(e))?)?;
    let r = async {
        if f.off.is_some() {
            return forwarding::off(web.store(), s.address()).await;
        }
        let targets = f
            .targets
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(parse_address)
            .collect::<Result<Vec<_>, _>>()?;
        forwarding::set(web.store(), s.address(), targets, f.keep.is_some())
            .await
            .map(|_| ())
    }
    .await;
    outcome(&web, &s, r).await
}

/// The vacation form.
#[derive(Deserialize)]
pub(crate) struct VacationForm {
    csrf: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    off: Option<String>,
}

/// `POST /me/vacation`.
pub(crate) async fn vacation(
    State(web): State<Web>,
    s: Session,
    Form(f): Form<VacationForm>,
) -> Result<Response, Refusal> {
    s.check_csrf(&f.csrf, web.key().await.map_err(|e| s.refuse(e))?)?;
    let max = usize::try_from(web.shared.config.limits.max_vacation_text).unwrap_or(usize::MAX);
    let r = async {
        if f.off.is_some() {
            return vacation::off(web.store(), s.address()).await;
        }
        let date = |d: &str| match d.trim() {
            "" => Ok(None),
            d => parse_date(d).map(Some),
        };
        let req = VacationRequest {
            subject: Some(f.subject.clone()).filter(|s| !s.trim().is_empty()),
            text: f.text.clone(),
            from: date(&f.from)?,
            until: date(&f.until)?,
            interval_days: None,
        };
        vacation::set(web.store(), s.address(), req, max)
            .await
            .map(|_| ())
    }
    .await;
    outcome(&web, &s, r).await
}
