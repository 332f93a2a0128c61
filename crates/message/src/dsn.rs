//! Delivery status notifications (bounces): RFC 3464 reports in an RFC 6522
//! `multipart/report`, with the RFC 6533 types for internationalized mail.
//!
//! [`build`] turns what the queue knows about a message — who it was for,
//! what happened to each recipient, the message itself — into a complete
//! RFC 5322 message addressed to the original envelope sender:
//!
//! 1. `text/plain; charset=utf-8`: a short explanation in English, Thai or
//!    Chinese ([`Language`]), one paragraph per recipient;
//! 2. `message/delivery-status` (or `message/global-delivery-status` when the
//!    original used SMTPUTF8): the machine-readable fields of RFC 3464;
//! 3. the returned content: `message/rfc822` / `message/global` for the whole
//!    message, `text/rfc822-headers` / `message/global-headers` for its header
//!    section only.
//!
//! # Transfer encodings
//!
//! The report is 7-bit clean whenever it can be, so that it travels through
//! servers without 8BITMIME or SMTPUTF8:
//!
//! - the human part is `7bit` when its text is ASCII (English with ASCII
//!   addresses); otherwise it is `base64`, or `8bit` when `smtputf8` is set —
//!   such a report has to travel with SMTPUTF8 anyway, and 8bit keeps it
//!   readable in the queue;
//! - the Subject is ASCII or RFC 2047 encoded words, raw UTF-8 only with
//!   `smtputf8` (RFC 6532);
//! - the delivery-status part is ASCII unless `smtputf8`: a non-ASCII address
//!   is then written in the 7-bit `utf-8-addr-xtext` form of RFC 6533;
//! - a returned whole message cannot be re-encoded (`message/rfc822` allows
//!   only identity encodings), so it is `8bit` when it has 8-bit octets: the
//!   caller must then send the report with `BODY=8BITMIME` (see
//!   [`is_seven_bit`]). A returned header section is `base64` when it has
//!   8-bit octets without `smtputf8`.
//!
//! Every line ends in CRLF and none is longer than 998 octets. A whole message
//! with longer lines (or NULs) is returned as headers only, and the text says
//! why.
//!
//! [`is_automatic`] is the other half of bounce handling: it tells the queue
//! when a message must never cause a report, to prevent mail loops.

#[cfg(test)]
mod tests;
mod text;

use crate::mime;
use chrono::{DateTime, FixedOffset};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use text::{Outcome, ReturnNote};

/// An enhanced status code (RFC 3463): `class.subject.detail`, e.g.
/// `5.1.1`. The class is 2 (success), 4 (temporary) or 5 (permanent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status {
    class: u8,
    subject: u16,
    detail: u16,
}

impl Status {
    /// Delivered: `2.0.0`.
    pub const DELIVERED: Status = Status::new(2, 0, 0);
    /// A temporary failure with nothing more to say: `4.0.0`.
    pub const TEMPORARY: Status = Status::new(4, 0, 0);
    /// A permanent failure with nothing more to say: `5.0.0`.
    pub const PERMANENT: Status = Status::new(5, 0, 0);

    /// A status from its three numbers.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Status {
        Status {
            class,
            subject,
            detail,
        }
    }

    /// Reads `class.subject.detail` (class 2, 4 or 5; subject and detail
    /// of one to three digits, RFC 3463 section 2).
    pub fn parse(text: &str) -> Option<Status> {
        let mut parts = text.split('.');
        let (c, s, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let num = |p: &str, max: usize| {
            (!p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u16>().ok())
                .flatten()
        };
        let class = num(c, 1)? as u8;
        matches!(class, 2 | 4 | 5).then_some(Status::new(class, num(s, 3)?, num(d, 3)?))
    }

    /// The failure code a server's reply carries: the first word of its
    /// text that is a class 4 or 5 status (RFC 2034 puts it after the reply
    /// code); `None` when the server sent none.
    pub fn in_reply(reply: &str) -> Option<Status> {
        reply
            .split_whitespace()
            .filter_map(Status::parse)
            .find(|s| s.class != 2)
    }

    /// The same condition as a permanent failure (a temporary one that
    /// ended in a bounce, because the message grew too old).
    pub fn permanent(self) -> Status {
        Status { class: 5, ..self }
    }

    /// The same condition as a temporary failure (for a delay notice).
    pub fn temporary(self) -> Status {
        Status { class: 4, ..self }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// What happened to one recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Could not be delivered and will not be retried.
    Failed,
    /// Not delivered yet; still being retried.
    Delayed,
    /// Delivered to the recipient's mailbox.
    Delivered,
    /// Passed to a system that does not send DSNs.
    Relayed,
    /// Delivered to an alias or list that was expanded to other recipients.
    Expanded,
}

impl Action {
    /// The keyword of the `Action:` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
        }
    }
}

/// The per-recipient part of a report (RFC 3464 §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientStatus {
    /// Typed address, `rfc822;user@example.org` or `utf-8;ユーザ@例え.jp`;
    /// build it with [`typed_address`]. Written as given, except that a
    /// non-ASCII address is re-encoded for the part it goes into (RFC 6533).
    pub final_recipient: String,
    /// The ORCPT parameter as the client gave it, xtext-decoded, type
    /// included (`rfc822;x@y`). Kept as given; same re-encoding rule.
    pub original_recipient: Option<String>,
    pub action: Action,
    /// Enhanced status code (RFC 3463), `5.1.1`, `4.4.1`, …
    pub status: String,
    /// `dns;mx.example.org`; a bare host name gets `dns;` added.
    pub remote_mta: Option<String>,
    /// `smtp;550 5.1.1 No such user`: the remote reply on one line. Control
    /// characters are removed here anyway; text without a type gets `smtp;`.
    pub diagnostic: Option<String>,
    pub last_attempt: Option<DateTime<FixedOffset>>,
    /// When the queue gives up; written only for [`Action::Delayed`]
    /// (RFC 3464 §2.3.9).
    pub will_retry_until: Option<DateTime<FixedOffset>>,
}

impl RecipientStatus {
    /// A status for `address` with the optional fields empty.
    pub fn new(address: &str, action: Action, status: &str) -> Self {
        RecipientStatus {
            final_recipient: typed_address(address),
            original_recipient: None,
            action,
            status: status.to_string(),
            remote_mta: None,
            diagnostic: None,
            last_attempt: None,
            will_retry_until: None,
        }
    }
}

/// What to return of the original message (RFC 3461 `RET`), as a client
/// asks for it and as the queue keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// The whole message — for reports with a failure; others return
    /// headers (RFC 3461 §4.3), and so does a message over `max_attach`.
    Full,
    /// Only the header section.
    Headers,
}

impl Return {
    /// The parameter value: `FULL` or `HDRS`.
    pub fn as_param(self) -> &'static str {
        match self {
            Return::Full => "FULL",
            Return::Headers => "HDRS",
        }
    }

    /// Reads a parameter value (any case); `None` when it is neither.
    pub fn from_param(text: &str) -> Option<Return> {
        if text.eq_ignore_ascii_case("FULL") {
            Some(Return::Full)
        } else if text.eq_ignore_ascii_case("HDRS") {
            Some(Return::Headers)
        } else {
            None
        }
    }
}

/// The `NOTIFY=` value of a recipient (RFC 3461 section 4.1): either
/// `never` alone, or any non-empty combination of the other three.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    /// `NOTIFY=NEVER`: no DSN at all for this recipient.
    pub never: bool,
    /// A DSN on successful delivery.
    pub success: bool,
    /// A DSN on failure.
    pub failure: bool,
    /// A DSN when delivery is delayed.
    pub delay: bool,
}

/// What a delivery status notification would report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// The message was delivered.
    Success,
    /// It could not be delivered.
    Failure,
    /// It is late and still being tried.
    Delay,
}

impl Notify {
    /// The parameter value: `NEVER`, or the keywords asked for joined by
    /// commas in the order SUCCESS, FAILURE, DELAY.
    pub fn to_param(self) -> String {
        if self.never {
            return "NEVER".into();
        }
        let mut parts = Vec::new();
        if self.success {
            parts.push("SUCCESS");
        }
        if self.failure {
            parts.push("FAILURE");
        }
        if self.delay {
            parts.push("DELAY");
        }
        parts.join(",")
    }

    /// Reads a value written by [`Notify::to_param`] (or a client's, any
    /// case); `None` for an empty value, an unknown keyword, or NEVER with
    /// others.
    pub fn from_param(text: &str) -> Option<Notify> {
        let mut n = Notify::default();
        for word in text.split(',') {
            let word = word.trim();
            if word.eq_ignore_ascii_case("NEVER") {
                n.never = true;
            } else if word.eq_ignore_ascii_case("SUCCESS") {
                n.success = true;
            } else if word.eq_ignore_ascii_case("FAILURE") {
                n.failure = true;
            } else if word.eq_ignore_ascii_case("DELAY") {
                n.delay = true;
            } else {
                return None;
            }
        }
        let others = n.success || n.failure || n.delay;
        (n.never != others).then_some(n)
    }

    /// Whether the sender asked to hear about `what`. Without NOTIFY,
    /// failures and delays are reported (RFC 3461 leaves the default to
    /// the server; this is the common choice).
    pub fn asks(notify: Option<Notify>, what: Report) -> bool {
        match notify {
            None => what != Report::Success,
            Some(n) => match what {
                Report::Success => n.success,
                Report::Failure => n.failure,
                Report::Delay => n.delay,
            },
        }
    }
}

pub use crate::Language;

/// Everything [`build`] needs.
#[derive(Debug, Clone)]
pub struct DsnRequest<'a> {
    /// Our host name (ASCII, A-labels): `Reporting-MTA: dns;<this>`.
    pub reporting_mta: &'a str,
    /// The report's `From:` address, normally `MAILER-DAEMON@<host>`.
    pub dsn_from: &'a str,
    /// The original envelope sender. Never empty: callers do not bounce to
    /// `<>`, and [`build`] refuses to.
    pub to: &'a str,
    /// The ENVID parameter, xtext-decoded.
    pub envelope_id: Option<&'a str>,
    /// When we received the message.
    pub arrival: DateTime<FixedOffset>,
    pub recipients: &'a [RecipientStatus],
    /// The original message, CRLF line ends (bare LF is repaired).
    pub original: &'a [u8],
    pub ret: Return,
    /// The original used SMTPUTF8 or has UTF-8 headers: use the RFC 6533
    /// types and raw UTF-8 in headers. The report then needs SMTPUTF8.
    pub smtputf8: bool,
    pub language: Language,
    /// Message-ID of the report, with or without the angle brackets.
    pub message_id: &'a str,
    /// Largest original returned whole, in octets.
    pub max_attach: usize,
}

/// Why a report could not be built. Each one is a caller's mistake or a
/// configuration error, never something a peer can cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    /// `to` is empty: a report must never go to the null sender (RFC 3461
    /// §6.2, RFC 5321 §4.5.5).
    #[error("a delivery status notification cannot be sent to the null sender")]
    NullSender,
    /// The report lists no recipients.
    #[error("a delivery status notification needs at least one recipient")]
    NoRecipients,
    /// A field has characters it cannot carry.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        field: &'static str,
        reason: &'static str,
    },
    /// A status is not an enhanced status code `class.subject.detail`.
    #[error("invalid enhanced status code {0:?}")]
    InvalidStatus(String),
}

/// The typed form of an address for `Final-Recipient`/`Original-Recipient`:
/// `rfc822;` for ASCII, otherwise `utf-8;` with the RFC 6533
/// `utf-8-addr-unitext` encoding (UTF-8 kept; controls, space, `\`, `+`, `=`
/// written `\x{HEX}`).
pub fn typed_address(address: &str) -> String {
    if address.is_ascii() {
        format!("rfc822;{address}")
    } else {
        format!("utf-8;{}", utf8_addr(address, false))
    }
}

/// True when the message has no 8-bit octets, so a report returning it needs
/// no 8BITMIME.
pub fn is_seven_bit(message: &[u8]) -> bool {
    message.is_ascii()
}

/// True when a message must never cause a bounce (loop prevention). The null
/// sender is the caller's check; this looks at the header section (a whole
/// message may be passed; reading stops at the first empty line):
///
/// - `Auto-Submitted:` with any value other than `no` (RFC 3834 §5; a value
///   that is empty or unreadable counts as automatic — a lost bounce is
///   better than a loop);
/// - `Content-Type: multipart/report; report-type=delivery-status` (or
///   `disposition-notification`): the message is itself a DSN or an MDN.
pub fn is_automatic(headers: &[u8]) -> bool {
    for (name, value) in mime::header_fields(headers) {
        if name.eq_ignore_ascii_case("Auto-Submitted") {
            let keyword = strip_comments(&value);
            let keyword = keyword
                .split(|c: char| c == ';' || c.is_whitespace())
                .find(|s| !s.is_empty())
                .unwrap_or("");
            if !keyword.eq_ignore_ascii_case("no") {
                return true;
            }
        } else if name.eq_ignore_ascii_case("Content-Type") {
            let (kind, params) = mime::split_params(&value);
            if kind == "multipart/report"
                && params.iter().any(|(n, v)| {
                    n == "report-type"
                        && (v.eq_ignore_ascii_case("delivery-status")
                            || v.eq_ignore_ascii_case("disposition-notification"))
                })
            {
                return true;
            }
        }
    }
    false
}

/// Builds the complete report: an RFC 5322 message with CRLF line ends,
/// dated now.
pub fn build(req: &DsnRequest) -> Result<Vec<u8>, DsnError> {
    build_at(
        req,
        chrono::Utc::now().fixed_offset(),
        &mut random_boundaries(),
    )
}

/// [`build`] with the date and the boundary candidates given, for tests.
fn build_at(
    req: &DsnRequest,
    date: DateTime<FixedOffset>,
    boundaries: &mut dyn Iterator<Item = String>,
) -> Result<Vec<u8>, DsnError> {
    validate(req)?;
    let global = req.smtputf8;

    let outcome = if req.recipients.iter().any(|r| r.action == Action::Failed) {
        Outcome::Failed
    } else if req.recipients.iter().any(|r| r.action == Action::Delayed) {
        Outcome::Delayed
    } else {
        Outcome::Success
    };

    // Part 3 first: the human text says what it holds.
    let (returned, note) = returned_part(req, outcome);

    // Part 1.
    let lines: Vec<text::Line> = req.recipients.iter().map(human_line).collect();
    let human = text::human(req.language, req.reporting_mta, outcome, &lines, note);
    let human = mime::crlf_lines(&human);
    let mut part1 = Vec::new();
    let t = text::texts(req.language);
    part1.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    part1.extend_from_slice(format!("Content-Language: {}\r\n", t.tag).as_bytes());
    if human.is_ascii() {
        part1.extend_from_slice(b"Content-Transfer-Encoding: 7bit\r\n\r\n");
        part1.extend_from_slice(&human);
    } else if global {
        part1.extend_from_slice(b"Content-Transfer-Encoding: 8bit\r\n\r\n");
        part1.extend_from_slice(&human);
    } else {
        part1.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
        crate::base64::push_body(&mut part1, &human);
    }

    // Part 2.
    let status = delivery_status(req, global);
    let mut part2 = Vec::new();
    part2.extend_from_slice(if global {
        b"Content-Type: message/global-delivery-status\r\n".as_slice()
    } else {
        b"Content-Type: message/delivery-status\r\n".as_slice()
    });
    part2.extend_from_slice(if status.is_ascii() {
        b"Content-Transfer-Encoding: 7bit\r\n\r\n".as_slice()
    } else {
        b"Content-Transfer-Encoding: 8bit\r\n\r\n".as_slice()
    });
    part2.extend_from_slice(&status);

    let mut parts = vec![part1, part2];
    if let Some(part3) = returned {
        parts.push(part3);
    }

    let boundary = pick_boundary(&parts, boundaries);

    let mut out = Vec::new();
    out.extend_from_slice(format!("From: Mail Delivery System <{}>\r\n", req.dsn_from).as_bytes());
    out.extend_from_slice(format!("To: <{}>\r\n", req.to).as_bytes());
    let subject = text::subject(req.language, outcome);
    if subject.is_ascii() || global {
        mime::push_field(&mut out, "Subject", subject);
    } else {
        out.extend_from_slice(b"Subject: ");
        out.extend_from_slice(
            crate::rfc2047::encoded_words(subject, crate::rfc2047::FOLDED_WORD_OCTETS)
                .join("\r\n ")
                .as_bytes(),
        );
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Date: {}\r\n", date.to_rfc2822()).as_bytes());
    let id = req.message_id.trim_start_matches('<').trim_end_matches('>');
    out.extend_from_slice(format!("Message-ID: <{id}>\r\n").as_bytes());
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    out.extend_from_slice(b"Auto-Submitted: auto-replied\r\n");
    out.extend_from_slice(b"Content-Type: multipart/report; report-type=delivery-status;\r\n");
    out.extend_from_slice(format!("\tboundary=\"{boundary}\"\r\n").as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b"This is a MIME-encapsulated delivery status notification.\r\n");
    for part in &parts {
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        // Every part ends in CRLF; the delimiter brings its own CRLF
        // (RFC 2046 §5.1.1), so the part's last line break is kept.
        out.extend_from_slice(part);
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok(out)
}

fn validate(req: &DsnRequest) -> Result<(), DsnError> {
    if req.to.trim().is_empty() {
        return Err(DsnError::NullSender);
    }
    if req.recipients.is_empty() {
        return Err(DsnError::NoRecipients);
    }
    let bad = |field, reason| Err(DsnError::InvalidField { field, reason });
    let has_ctl_or_angle = |s: &str| s.chars().any(|c| c.is_control() || c == '<' || c == '>');
    if has_ctl_or_angle(req.to) {
        return bad("to", "control character or angle bracket");
    }
    if !req.to.is_ascii() && !req.smtputf8 {
        return bad("to", "non-ASCII address needs smtputf8");
    }
    if req.dsn_from.is_empty() || has_ctl_or_angle(req.dsn_from) {
        return bad("dsn_from", "empty, control character or angle bracket");
    }
    if !req.dsn_from.is_ascii() && !req.smtputf8 {
        return bad("dsn_from", "non-ASCII address needs smtputf8");
    }
    let is_token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b';');
    if !is_token(req.reporting_mta) {
        return bad("reporting_mta", "must be an ASCII host name");
    }
    let id = req.message_id.trim_start_matches('<').trim_end_matches('>');
    if !id
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
        || !id.contains('@')
    {
        return bad("message_id", "must be id-left@id-right in printable ASCII");
    }
    for r in req.recipients {
        if !valid_status(&r.status) {
            return Err(DsnError::InvalidStatus(r.status.clone()));
        }
        if mime::one_line(&r.final_recipient).is_empty() {
            return bad("final_recipient", "empty");
        }
    }
    Ok(())
}

/// `class "." subject "." detail` with class 2, 4 or 5 and 1–3 digits each
/// (RFC 3463 §2).
fn valid_status(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Part 3 with its headers (or `None` when there is nothing to return) and
/// what the human text should say about it.
fn returned_part(req: &DsnRequest, outcome: Outcome) -> (Option<Vec<u8>>, ReturnNote) {
    if req.original.is_empty() {
        return (None, ReturnNote::Nothing);
    }
    let original = mime::normalize_crlf(req.original);
    let global = req.smtputf8;
    let mut note = ReturnNote::Headers;
    // RFC 3461 §4.3: a report without failures returns only the headers.
    if req.ret == Return::Full && outcome == Outcome::Failed {
        if req.original.len() > req.max_attach {
            note = ReturnNote::TooLarge {
                size: req.original.len(),
                max: req.max_attach,
            };
        } else if !mime::lines_fit(&original) {
            note = ReturnNote::Unfit;
        } else {
            let mut part = Vec::with_capacity(original.len() + 100);
            part.extend_from_slice(if global {
                b"Content-Type: message/global\r\n".as_slice()
            } else {
                b"Content-Type: message/rfc822\r\n".as_slice()
            });
            part.extend_from_slice(if original.is_ascii() {
                b"Content-Transfer-Encoding: 7bit\r\n\r\n".as_slice()
            } else {
                b"Content-Transfer-Encoding: 8bit\r\n\r\n".as_slice()
            });
            part.extend_from_slice(&original);
            if !part.ends_with(b"\r\n") {
                part.extend_from_slice(b"\r\n");
            }
            return (Some(part), ReturnNote::Full);
        }
    }
    let head = mime::header_section(&original);
    let mut part = Vec::with_capacity(head.len() + 100);
    part.extend_from_slice(if global {
        b"Content-Type: message/global-headers\r\n".as_slice()
    } else {
        b"Content-Type: text/rfc822-headers; charset=utf-8\r\n".as_slice()
    });
    let fits = mime::lines_fit(&head);
    if head.is_ascii() && fits {
        part.extend_from_slice(b"Content-Transfer-Encoding: 7bit\r\n\r\n");
        part.extend_from_slice(&head);
    } else if global && fits && std::str::from_utf8(&head).is_ok() {
        part.extend_from_slice(b"Content-Transfer-Encoding: 8bit\r\n\r\n");
        part.extend_from_slice(&head);
    } else {
        part.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
        crate::base64::push_body(&mut part, &head);
    }
    if !part.ends_with(b"\r\n") {
        part.extend_from_slice(b"\r\n");
    }
    (Some(part), note)
}

/// The body of part 2: per-message fields, then one group per recipient,
/// groups separated by empty lines (RFC 3464 §2.1).
fn delivery_status(req: &DsnRequest, global: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let text = |s: &str| {
        let s = mime::one_line(s);
        if global { s } else { ascii_only(&s) }
    };
    if let Some(envid) = req.envelope_id.map(text).filter(|e| !e.is_empty()) {
        mime::push_field(&mut out, "Original-Envelope-Id", &envid);
    }
    mime::push_field(
        &mut out,
        "Reporting-MTA",
        &format!("dns;{}", req.reporting_mta),
    );
    mime::push_field(&mut out, "Arrival-Date", &req.arrival.to_rfc2822());
    for r in req.recipients {
        out.extend_from_slice(b"\r\n");
        if let Some(orcpt) = &r.original_recipient {
            let value = address_value(orcpt, global);
            if !value.is_empty() {
                mime::push_field(&mut out, "Original-Recipient", &value);
            }
        }
        mime::push_field(
            &mut out,
            "Final-Recipient",
            &address_value(&r.final_recipient, global),
        );
        mime::push_field(&mut out, "Action", r.action.as_str());
        mime::push_field(&mut out, "Status", &r.status);
        if let Some(mta) = r.remote_mta.as_deref().map(text).filter(|m| !m.is_empty()) {
            mime::push_field(&mut out, "Remote-MTA", &with_type(&mta, "dns"));
        }
        if let Some(diag) = r.diagnostic.as_deref().map(text).filter(|d| !d.is_empty()) {
            mime::push_field(&mut out, "Diagnostic-Code", &with_type(&diag, "smtp"));
        }
        if let Some(at) = r.last_attempt {
            mime::push_field(&mut out, "Last-Attempt-Date", &at.to_rfc2822());
        }
        if let (Action::Delayed, Some(until)) = (r.action, r.will_retry_until) {
            mime::push_field(&mut out, "Will-Retry-Until", &until.to_rfc2822());
        }
    }
    out
}

/// A `type;value` field: the value as given when it starts with a type
/// (an atom followed by `;`), otherwise `default_type;value`.
fn with_type(value: &str, default_type: &str) -> String {
    if split_type(value).is_some() {
        value.to_string()
    } else {
        format!("{default_type};{value}")
    }
}

/// `Some((type, rest))` when `value` starts with an address/diagnostic type.
fn split_type(value: &str) -> Option<(&str, &str)> {
    let (kind, rest) = value.split_once(';')?;
    let kind = kind.trim();
    let is_atom = !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    is_atom.then_some((kind, rest.trim()))
}

/// A typed address made fit for its part. ASCII values stay as given. In
/// `message/global-delivery-status` an `rfc822` address with UTF-8 becomes
/// `utf-8;` (RFC 822 addresses are ASCII); in `message/delivery-status`
/// non-ASCII characters are written `\x{HEX}` (RFC 6533 `utf-8-addr-xtext`).
fn address_value(value: &str, global: bool) -> String {
    let value = mime::one_line(value);
    if value.is_ascii() {
        return value;
    }
    let (kind, addr) = split_type(&value).unwrap_or(("rfc822", value.as_str()));
    if kind.eq_ignore_ascii_case("rfc822") {
        format!("utf-8;{}", utf8_addr(addr, !global))
    } else if global {
        format!("{kind};{addr}")
    } else {
        // Already in unitext form (specials escaped): escape the rest.
        let mut out = format!("{kind};");
        for c in addr.chars() {
            push_char_escaped(&mut out, c, !c.is_ascii());
        }
        out
    }
}

/// RFC 6533 `utf-8-addr-unitext` (`seven_bit` false) or `utf-8-addr-xtext`
/// (`seven_bit` true) of a raw address.
fn utf8_addr(addr: &str, seven_bit: bool) -> String {
    let mut out = String::with_capacity(addr.len());
    for c in addr.chars() {
        let special = c.is_control() || matches!(c, ' ' | '\\' | '+' | '=');
        push_char_escaped(&mut out, c, special || (seven_bit && !c.is_ascii()));
    }
    out
}

/// Pushes `c`, as `\x{HEX}` (upper case, at least two digits) when `escape`.
fn push_char_escaped(out: &mut String, c: char, escape: bool) {
    if escape {
        out.push_str(&format!("\\x{{{:02X}}}", u32::from(c)));
    } else {
        out.push(c);
    }
}

/// Decodes `\x{HEX}` escapes, for showing an address to people.
fn unescape_addr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("\\x{") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 3..];
        let decoded = after.find('}').and_then(|end| {
            let c = u32::from_str_radix(&after[..end], 16)
                .ok()
                .and_then(char::from_u32)?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("\\x{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Non-ASCII characters replaced by `?`, for the ASCII-only free text of a
/// `message/delivery-status` part.
fn ascii_only(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect()
}

/// One recipient for the human part: types stripped, escapes decoded.
fn human_line(r: &RecipientStatus) -> text::Line {
    let strip = |s: &str| {
        let s = mime::one_line(s);
        match split_type(&s) {
            Some((_, rest)) => rest.to_string(),
            None => s,
        }
    };
    let address = strip(&r.final_recipient);
    text::Line {
        address: unescape_addr(&address),
        action: r.action,
        status: r.status.clone(),
        remote_mta: r.remote_mta.as_deref().map(strip).filter(|s| !s.is_empty()),
        reply: r.diagnostic.as_deref().map(strip).filter(|s| !s.is_empty()),
        last_attempt: r.last_attempt,
        retry_until: r.will_retry_until,
    }
}

/// Drops `(comments)` from a header value (nesting and quoted-pairs handled).
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
        } else if c == '\\' {
            escaped = true;
        } else if c == '(' {
            depth += 1;
        } else if c == ')' && depth > 0 {
            depth -= 1;
        } else if depth == 0 {
            out.push(c);
        }
    }
    out
}

/// An endless supply of unpredictable boundaries: the standard library's
/// randomly keyed hasher over a counter (no `rand` needed for this).
fn random_boundaries() -> impl Iterator<Item = String> {
    let state = RandomState::new();
    (0u64..).map(move |n| {
        let mut h = state.build_hasher();
        h.write_u64(n);
        let a = h.finish();
        h.write_u64(a);
        let b = h.finish();
        format!("=_praisani_{a:016x}{b:016x}")
    })
}

/// The first candidate that occurs in none of the parts. `=_` cannot appear
/// in base64 and is rare in text, so the first almost always wins.
fn pick_boundary(parts: &[Vec<u8>], candidates: &mut dyn Iterator<Item = String>) -> String {
    for candidate in candidates {
        if !parts
            .iter()
            .any(|p| mime::find(p, candidate.as_bytes()).is_some())
        {
            return candidate;
        }
    }
    // Only a finite (test) supply gets here: count until one is free.
    (0u64..)
        .map(|n| format!("=_praisani_{n}"))
        .find(|c| !parts.iter().any(|p| mime::find(p, c.as_bytes()).is_some()))
        .unwrap_or_default()
}
