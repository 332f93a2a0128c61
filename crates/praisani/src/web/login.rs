//! `/login` and `/logout`: the mailbox's own password, checked and
//! throttled exactly like a POP3 or SMTP login
//! ([`praisani_mailhost::login::check_password`]: the same argon2 check,
//! imported hashes included, the same failure counts per address and per
//! account, the same padding, so an unknown address and a wrong password
//! look alike).

use super::html::{self, Notice, csrf_field, esc, field};
use super::session::Ticket;
use super::{
    Lang, Refusal, Session, Web, WebError, client_ip, html_headers, same_origin, see_other,
};
use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use praisani_mailhost::login::{LoginFail, check_password};
use praisani_message::Language;
use serde::Deserialize;

fn login_page(lang: Language, status: StatusCode, notice: &Notice, address: &str) -> Response {
    let t = super::texts(lang);
    let body = format!(
        "<h1>{}</h1><section><form method=\"post\" action=\"/login\" id=\"login\">{}{}\
         <button type=\"submit\">{}</button></form></section>",
        esc(t.login_title),
        field(
            t.address,
            "address",
            // Not type=email: browsers refuse UTF-8 local parts there
            // (สมชาย@ตัวอย่าง.ไทย), which are mailboxes here.
            "text",
            address,
            "required inputmode=\"email\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" id=\"address\""
        ),
        field(
            t.password,
            "password",
            "password",
            "",
            "required autocomplete=\"current-password\" id=\"password\""
        ),
        esc(t.log_in)
    );
    (
        status,
        html_headers(),
        html::page(lang, t.login_title, None, notice, &body),
    )
        .into_response()
}

/// `GET /login`.
pub(crate) async fn form(Lang(lang): Lang) -> Response {
    login_page(lang, StatusCode::OK, &Notice::None, "")
}

/// The login form.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    address: String,
    password: String,
}

/// `POST /login`: a session cookie and on to the home page, or the form
/// again with one answer for every wrong address and password.
pub(crate) async fn submit(State(web): State<Web>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let Lang(lang) = match Lang::from_request_parts(&mut parts, &web).await {
        Ok(l) => l,
        Err(never) => match never {},
    };
    if !same_origin(&parts.headers, web.tls) {
        return WebError::Csrf.render(lang);
    }
    let ip = client_ip(&parts);
    let req = Request::from_parts(parts, body);
    let Ok(Form(f)) = Form::<LoginForm>::from_request(req, &web).await else {
        return login_page(
            lang,
            StatusCode::BAD_REQUEST,
            &Notice::Err(super::texts(lang).bad_request.into()),
            "",
        );
    };
    let t = super::texts(lang);
    let account = match check_password(&web.shared.logins, ip, f.address.trim(), &f.password).await
    {
        Ok(a) => a,
        Err(why) => {
            let (status, text) = match why {
                LoginFail::BadCredentials | LoginFail::Malformed => {
                    (StatusCode::UNAUTHORIZED, t.bad_login)
                }
                LoginFail::Locked => (StatusCode::TOO_MANY_REQUESTS, t.locked),
                LoginFail::Temporary => (StatusCode::SERVICE_UNAVAILABLE, t.unavailable),
            };
            tracing::info!(%ip, "web: login failed ({why:?})");
            return login_page(lang, status, &Notice::Err(text.into()), &f.address);
        }
    };
    let key = match web.key().await {
        Ok(k) => k,
        Err(e) => return e.render(lang),
    };
    // The account as stored now: a first login may have re-hashed an
    // imported password, and the fingerprint must be of the stored hash.
    let account = match praisani_mailhost::admin::accounts::get(web.store(), &account.address).await
    {
        Ok(a) => a,
        Err(_) => return WebError::Unavailable.render(lang),
    };
    let now = chrono::Utc::now().timestamp();
    let ticket = Ticket::new(key, &account.address, &account.password_hash, now);
    tracing::info!(%ip, address = %account.address, "web: logged in");
    let mut r = see_other("/");
    r.headers_mut().insert(
        header::SET_COOKIE,
        web.session_cookie(Some(&ticket.seal(key))),
    );
    r
}

/// The logout form (only its CSRF token).
#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    csrf: String,
}

/// `POST /logout`: clears the cookie.
pub(crate) async fn logout(
    State(web): State<Web>,
    s: Session,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, Refusal> {
    let key = web.key().await.map_err(|e| s.refuse(e))?;
    s.check_csrf(&f.csrf, key)?;
    let mut r = see_other("/login");
    r.headers_mut()
        .insert(header::SET_COOKIE, web.session_cookie(None));
    Ok(r)
}

/// The CSRF field for a form of `s`.
pub(crate) fn csrf(s: &Session) -> String {
    csrf_field(&s.csrf)
}
