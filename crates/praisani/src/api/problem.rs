//! Error answers as RFC 9457 problem details (`application/problem+json`),
//! with the texts the CLI prints for the same failures.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use praisani_mailhost::admin::AdminError;
use praisani_store::{Conflict, StoreError};
use serde_json::json;

/// A refused or failed request.
#[derive(Debug)]
pub(crate) struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for people (the CLI's message).
    pub detail: String,
}

impl Problem {
    /// A problem with this status and text.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
        }
    }

    /// No valid token: the same answer for a missing, unknown or revoked
    /// one, so nothing tells them apart.
    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "a valid API token is needed: Authorization: Bearer pt_…",
        )
    }

    /// The token is valid but its scope does not reach this.
    pub fn forbidden() -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "this token may not do that")
    }

    /// A request the API cannot read (bad JSON, a bad query, …).
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut r = (self.status, body.to_string()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"praisani\""),
            );
        }
        r
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        let status = match &e {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            // A domain limit: the change is not the caller's to make.
            StoreError::Conflict(Conflict::Limit(_)) => StatusCode::FORBIDDEN,
            StoreError::Duplicate(_) | StoreError::Conflict(_) => StatusCode::CONFLICT,
            StoreError::Unavailable(_) => {
                tracing::error!("admin API: {e}");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        Problem::new(status, e.to_string())
    }
}

impl From<AdminError> for Problem {
    fn from(e: AdminError) -> Problem {
        let status = match &e {
            AdminError::Store(_) => {
                let AdminError::Store(s) = e else {
                    unreachable!("matched just above")
                };
                return s.into();
            }
            AdminError::UnknownDomain(_) | AdminError::NotHosted(_) => StatusCode::NOT_FOUND,
            AdminError::Hashing(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AdminError::TokenOutOfReach => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        Problem::new(status, e.to_string())
    }
}

impl From<praisani_delivery::admin::AdminError> for Problem {
    fn from(e: praisani_delivery::admin::AdminError) -> Problem {
        use praisani_delivery::dkim::DkimError;
        match e {
            praisani_delivery::admin::AdminError::Host(h) => h.into(),
            praisani_delivery::admin::AdminError::Dkim(
                d @ (DkimError::InvalidSelector(_) | DkimError::InvalidDomain(_)),
            ) => Problem::bad_request(d.to_string()),
            praisani_delivery::admin::AdminError::Dkim(d @ DkimError::Exists(_)) => {
                Problem::new(StatusCode::CONFLICT, d.to_string())
            }
            other => {
                tracing::error!("admin API: {other}");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
            }
        }
    }
}
