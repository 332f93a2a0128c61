//! The web admin on the admin listener (`listen.admin`, beside `/api/v1/`):
//! server-rendered pages for domain administrators (`/domains/…`: mailboxes
//! with usage bars, aliases, passwords, quotas) and for every mailbox's
//! own user (`/me`: password, usage, what retention deletes, language,
//! forwarding, vacation), in English, Thai and Chinese. No JavaScript;
//! one stylesheet; a strict Content-Security-Policy on every answer.
//!
//! Thin like the API: logins go through [`praisani_mailhost::login`] (the
//! POP3/SMTP password check and throttle), permissions through
//! [`praisani_mailhost::access::allows`] with the scope
//! [`domain_admins::login_scope`] gives the mailbox, changes through
//! [`praisani_mailhost::admin`].

mod domain;
mod errors;
mod html;
mod login;
mod me;
mod session;
mod text;

use crate::server::Shared;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use html::{Notice, Who};
use praisani_mailaddr::Address;
use praisani_mailhost::admin::{accounts, domain_admins};
use praisani_message::Language;
use praisani_store::Account;
use praisani_store::tokens::TokenScope;
use session::{SessionKey, Ticket, password_fingerprint};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use text::{Texts, texts};
use tokio::sync::OnceCell;

/// The Content-Security-Policy of every answer: nothing but our own
/// stylesheet (and images), forms only to ourselves, never framed.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = include_str!("style.css");

/// What every page handler gets.
#[derive(Clone)]
pub(crate) struct Web {
    shared: Arc<Shared>,
    /// Served over TLS: the session cookie gets the `__Host-` prefix.
    tls: bool,
    key: Arc<OnceCell<SessionKey>>,
}

impl Web {
    fn store(&self) -> &dyn praisani_store::Store {
        &*self.shared.office.store
    }

    /// The session key, derived from the store's SRS secret on first use.
    async fn key(&self) -> Result<&SessionKey, WebError> {
        self.key
            .get_or_try_init(|| async {
                self.store()
                    .srs_secret()
                    .await
                    .map(|s| SessionKey::derive(&s))
            })
            .await
            .map_err(|e| {
                tracing::error!("web: cannot read the session key: {e}");
                WebError::Unavailable
            })
    }

    fn cookie_name(&self) -> &'static str {
        if self.tls {
            "__Host-praisani"
        } else {
            "praisani"
        }
    }

    /// `Set-Cookie` for a session (or its removal with `None`).
    fn session_cookie(&self, value: Option<&str>) -> HeaderValue {
        let name = self.cookie_name();
        let v = match value {
            Some(v) => format!(
                "{name}={v}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
                self.shared.config.admin_api.web_session_lifetime.as_secs()
            ),
            None => format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
        };
        HeaderValue::from_str(&v).expect("cookie text is ASCII")
    }

    fn idle(&self) -> i64 {
        self.shared.config.admin_api.web_session_idle.as_secs() as i64
    }

    fn lifetime(&self) -> i64 {
        self.shared.config.admin_api.web_session_lifetime.as_secs() as i64
    }
}

/// The web admin's router (merged into the admin API's; no fallback of
/// its own, so unknown paths get the API's problem answer).
pub(crate) fn router(shared: Arc<Shared>, tls: bool) -> Router {
    let limit = usize::try_from(shared.config.admin_api.max_body_size).unwrap_or(usize::MAX);
    let web = Web {
        shared,
        tls,
        key: Arc::new(OnceCell::new()),
    };
    Router::new()
        .route("/", get(home))
        .route("/style.css", get(style))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/lang/{tag}", get(set_language))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/domains", get(domain::index))
        .route("/domains/{domain}", get(domain::show))
        .route("/domains/{domain}/mailboxes", post(domain::add_mailbox))
        .route(
            "/domains/{domain}/mailboxes/remove",
            post(domain::remove_mailbox),
        )
        .route(
            "/domains/{domain}/mailboxes/password",
            post(domain::set_password),
        )
        .route("/domains/{domain}/mailboxes/quota", post(domain::set_quota))
        .route("/domains/{domain}/aliases", post(domain::add_alias))
        .route(
            "/domains/{domain}/aliases/remove",
            post(domain::remove_alias),
        )
        .route("/me", get(me::show))
        .route("/me/password", post(me::password))
        .route("/me/language", post(me::language))
        .route("/me/forward", post(me::forward))
        .route("/me/vacation", post(me::vacation))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

/// The headers every web answer carries.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: under it browsers send `Origin: null` with our
    // own forms, and the origin check could not tell them from others'.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The language of the pages: the `lang` cookie, else the browser's
/// `Accept-Language` (in its order of preference), else English.
pub(crate) struct Lang(pub Language);

fn language_of(headers: &HeaderMap) -> Language {
    if let Some(l) = cookie(headers, "lang").and_then(Language::from_tag) {
        return l;
    }
    let Some(accept) = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Language::En;
    };
    let mut ranges: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|r| {
            let mut parts = r.split(';');
            let range = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse().ok())
                .unwrap_or(1.0);
            Some((q, range))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges
        .iter()
        .filter(|(q, _)| *q > 0.0)
        .find_map(|(_, r)| Language::lookup(r, &Language::ALL))
        .unwrap_or(Language::En)
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        Ok(Lang(language_of(&parts.headers)))
    }
}

/// `GET /lang/{tag}`: remembers the language in a cookie and goes home.
async fn set_language(
    axum::extract::Path(tag): axum::extract::Path<String>,
) -> Result<Response, StatusCode> {
    let lang = Language::from_tag(&tag).ok_or(StatusCode::NOT_FOUND)?;
    let c = format!(
        "lang={}; Path=/; Secure; SameSite=Strict; Max-Age=31536000",
        lang.tag()
    );
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, "/".to_string()), (header::SET_COOKIE, c)],
    )
        .into_response())
}

/// Why a page was not served.
#[derive(Debug)]
pub(crate) enum WebError {
    /// Not logged in (or the session ended): to the login page.
    Login,
    /// Not allowed (the same whether or not the thing exists).
    Forbidden,
    /// A POST without this session's CSRF token, or from another site.
    Csrf,
    /// The store cannot answer.
    Unavailable,
}

impl WebError {
    fn render(self, lang: Language) -> Response {
        let t = texts(lang);
        let (status, text) = match self {
            WebError::Login => {
                return (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
            }
            WebError::Forbidden => (StatusCode::FORBIDDEN, t.forbidden),
            WebError::Csrf => (StatusCode::FORBIDDEN, t.stale_form),
            WebError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, t.unavailable),
        };
        let body = html::page(lang, text, None, &Notice::Err(text.into()), "");
        (status, html_headers(), body).into_response()
    }
}

/// A [`WebError`] with the language to show it in.
pub(crate) struct Refusal(WebError, Language);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        self.0.render(self.1)
    }
}

fn html_headers() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, "text/html; charset=utf-8")]
}

/// The client's address.
fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| client_ip_of(c.0))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// A peer's address as the throttle counts it.
fn client_ip_of(peer: SocketAddr) -> IpAddr {
    peer.ip()
}

/// Whether a state-changing request comes from our own pages: the
/// browser's `Sec-Fetch-Site` (when sent) says same-origin, and `Origin`
/// (when sent) is this server as the client reached it.
fn same_origin(headers: &HeaderMap, tls: bool) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin") | Ok("none"))
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let scheme = if tls { "https" } else { "http" };
    origin.to_str().ok() == Some(format!("{scheme}://{host}").as_str())
}

/// A logged-in mailbox: checked on every request (signature, expiry, the
/// mailbox still there with the same password), with its scope read
/// afresh (a role taken away counts at once). POSTs must come from our
/// own pages (the CSRF token is checked by [`Session::check_csrf`]).
pub(crate) struct Session {
    pub ticket: Ticket,
    pub account: Account,
    pub scope: TokenScope,
    pub lang: Language,
    pub csrf: String,
    /// A refreshed cookie to send (the idle timer restarted).
    refresh: Option<HeaderValue>,
}

impl Session {
    /// The mailbox's address.
    pub fn address(&self) -> &Address {
        &self.account.address
    }

    /// The texts of the session's language.
    pub fn t(&self) -> &'static Texts {
        texts(self.lang)
    }

    /// Refuses a form without this session's CSRF token.
    pub fn check_csrf(&self, presented: &str, key: &SessionKey) -> Result<(), Refusal> {
        if self.ticket.csrf_matches(key, presented) {
            Ok(())
        } else {
            Err(Refusal(WebError::Csrf, self.lang))
        }
    }

    /// Whether the domain pages are for this session.
    pub fn is_domain_admin(&self) -> bool {
        matches!(self.scope, TokenScope::Domains(_) | TokenScope::Admin)
    }

    /// A page in the session's frame, with the refreshed cookie if due.
    pub fn page(&self, status: StatusCode, title: &str, notice: &Notice, body: &str) -> Response {
        let address = self.address().to_string();
        let who = Who {
            address: &address,
            csrf: &self.csrf,
            domain_admin: self.is_domain_admin(),
        };
        let html = html::page(self.lang, title, Some(&who), notice, body);
        let mut r = (status, html_headers(), html).into_response();
        if let Some(c) = &self.refresh {
            r.headers_mut().insert(header::SET_COOKIE, c.clone());
        }
        r
    }

    /// A refusal in the session's language.
    pub fn refuse(&self, e: WebError) -> Refusal {
        Refusal(e, self.lang)
    }
}

impl FromRequestParts<Web> for Session {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Session, Refusal> {
        let lang = language_of(&parts.headers);
        let fail = |e| Refusal(e, lang);
        if parts.method != Method::GET
            && parts.method != Method::HEAD
            && !same_origin(&parts.headers, web.tls)
        {
            return Err(fail(WebError::Csrf));
        }
        let key = web.key().await.map_err(fail)?;
        let now = chrono::Utc::now().timestamp();
        let ticket = cookie(&parts.headers, web.cookie_name())
            .and_then(|v| Ticket::open(key, v))
            .filter(|t| t.alive(now, web.idle(), web.lifetime()))
            .ok_or(fail(WebError::Login))?;
        let address = Address::parse(&ticket.address).map_err(|_| fail(WebError::Login))?;
        let account = match accounts::get(web.store(), &address).await {
            Ok(a) => a,
            Err(e) if e.is_temporary() => return Err(fail(WebError::Unavailable)),
            Err(_) => return Err(fail(WebError::Login)),
        };
        if password_fingerprint(key, &account.password_hash) != ticket.fingerprint {
            return Err(fail(WebError::Login));
        }
        let scope = domain_admins::login_scope(web.store(), &address)
            .await
            .map_err(|_| fail(WebError::Unavailable))?;
        let refresh = (now - ticket.seen >= 60).then(|| {
            let mut t = ticket.clone();
            t.seen = now;
            web.session_cookie(Some(&t.seal(key)))
        });
        Ok(Session {
            csrf: ticket.csrf(key),
            ticket,
            account,
            scope,
            lang,
            refresh,
        })
    }
}

/// `GET /`: the domain pages for domain administrators, the own mailbox
/// for everyone else, the login page when not logged in.
async fn home(session: Result<Session, Refusal>) -> Response {
    let to = match session {
        Ok(s) if s.is_domain_admin() => "/domains",
        Ok(_) => "/me",
        Err(_) => "/login",
    };
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// A 303 to `to`.
pub(crate) fn see_other(to: &str) -> Response {
    let loc = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, loc)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_language_comes_from_the_cookie_then_accept_language() {
        assert_eq!(language_of(&headers(&[])), Language::En);
        assert_eq!(
            language_of(&headers(&[(
                "accept-language",
                "fr, th-TH;q=0.8, zh;q=0.9"
            )])),
            Language::Zh
        );
        assert_eq!(
            language_of(&headers(&[
                ("accept-language", "zh-CN"),
                ("cookie", "a=b; lang=th")
            ])),
            Language::Th
        );
    }

    #[test]
    fn only_our_own_origin_may_post() {
        let h = |o: &str, s: &str| {
            headers(&[
                ("host", "mail.test:8443"),
                ("origin", o),
                ("sec-fetch-site", s),
            ])
        };
        assert!(same_origin(
            &h("https://mail.test:8443", "same-origin"),
            true
        ));
        assert!(!same_origin(&h("https://evil.test", "same-origin"), true));
        assert!(!same_origin(
            &h("https://mail.test:8443", "cross-site"),
            true
        ));
        assert!(!same_origin(
            &h("http://mail.test:8443", "same-origin"),
            true
        ));
        assert!(same_origin(&headers(&[("host", "x")]), false));
    }
}
