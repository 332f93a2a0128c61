//! The spam filter: rspamd's verdict on a message from another server,
//! turned into what the SMTP dialogue does with it.
//!
//! rspamd is asked over its HTTP protocol ([`rspamd`]); its actions map to
//! the same [`Decision`] the trust checks give, so the caller applies one
//! kind of answer:
//!
//! | rspamd action | decision |
//! | --- | --- |
//! | `reject` | `550 5.7.1` with rspamd's message, nothing stored |
//! | `soft reject`, `greylist` | `451 4.7.1`: the sender tries again |
//! | `rewrite subject` | marked, with the subject tag |
//! | `add header` | marked: `X-Spam-Flag: YES`, `X-Spam-Score`, `X-Spam-Status` |
//! | `no action` | delivered with `X-Spam-Score` and `X-Spam-Status: No` |
//!
//! When rspamd cannot be reached or answers nonsense, [`OnFailure`]
//! decides: deliver unfiltered (the default, logged and counted) or `451`.

pub mod rspamd;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use praisani_store::Spool;

use crate::trust::Decision;

/// What to do when the filter cannot give a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Deliver the message unfiltered (logged and counted).
    Accept,
    /// `451 4.7.1`: the sender keeps it and tries again.
    TempFail,
}

/// How to reach rspamd and what to make of its answers.
#[derive(Debug, Clone)]
pub struct SpamSettings {
    /// rspamd's normal worker, `host:port` (its `/checkv2` endpoint).
    pub addr: String,
    /// For the whole exchange: connecting, sending the message, the verdict.
    pub timeout: Duration,
    /// When rspamd is down, slow or confused.
    pub on_failure: OnFailure,
    /// Larger messages are not sent to rspamd (they pass unfiltered).
    pub max_size: u64,
    /// Put before the `Subject:` of mail rspamd wants rewritten.
    pub subject_tag: String,
}

impl Default for SpamSettings {
    fn default() -> Self {
        SpamSettings {
            addr: "127.0.0.1:11333".into(),
            timeout: Duration::from_secs(20),
            on_failure: OnFailure::Accept,
            max_size: 20 * 1024 * 1024,
            subject_tag: "[SPAM]".into(),
        }
    }
}

/// The SMTP facts rspamd is told beside the message (its request headers).
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The client's address.
    pub client_ip: IpAddr,
    /// Its EHLO/HELO name.
    pub helo: Option<&'a str>,
    /// The return path, empty for `<>`.
    pub mail_from: &'a str,
    /// The accepted recipients.
    pub rcpts: &'a [String],
    /// The authenticated user, if any.
    pub user: Option<&'a str>,
    /// Our id of the message, for rspamd's log.
    pub queue_id: &'a str,
    /// Our host name (the MTA rspamd is asked by).
    pub mta_name: &'a str,
}

/// What rspamd decided.
#[derive(Debug, Clone, PartialEq)]
pub enum SpamAction {
    /// Clean.
    NoAction,
    /// Try again later.
    Greylist,
    /// Spam, add headers.
    AddHeader,
    /// Spam, tag the subject.
    RewriteSubject,
    /// Refuse for now.
    SoftReject,
    /// Refuse.
    Reject,
}

impl SpamAction {
    /// rspamd's action name, as in `/checkv2` answers.
    pub fn parse(name: &str) -> Option<SpamAction> {
        Some(match name {
            "no action" => SpamAction::NoAction,
            "greylist" => SpamAction::Greylist,
            "add header" => SpamAction::AddHeader,
            "rewrite subject" => SpamAction::RewriteSubject,
            "soft reject" => SpamAction::SoftReject,
            "reject" => SpamAction::Reject,
            _ => return None,
        })
    }
}

/// rspamd's verdict on one message.
#[derive(Debug, Clone, PartialEq)]
pub struct SpamVerdict {
    /// What to do.
    pub action: SpamAction,
    /// The message's score.
    pub score: f64,
    /// The score rspamd calls spam.
    pub required_score: f64,
    /// The symbols that matched, by name.
    pub symbols: Vec<String>,
    /// rspamd's text for the SMTP reply, if it gave one.
    pub smtp_message: Option<String>,
}

impl SpamVerdict {
    /// The dialogue's answer to this verdict.
    pub fn decision(&self, settings: &SpamSettings) -> Decision {
        let status = |spam: bool| {
            let mut symbols = self.symbols.clone();
            symbols.sort();
            let mut line = format!(
                "X-Spam-Status: {}, score={:.2} required={:.2}",
                if spam { "Yes" } else { "No" },
                self.score,
                self.required_score
            );
            if !symbols.is_empty() {
                line.push_str(" tests=");
                line.push_str(&clean(&symbols.join(",")));
            }
            vec![format!("X-Spam-Score: {:.2}\r\n", self.score), fold(&line)]
        };
        let text = |fallback: &str| clean(self.smtp_message.as_deref().unwrap_or(fallback));
        match self.action {
            SpamAction::Reject => Decision::Reject {
                code: 550,
                enhanced: "5.7.1",
                text: text("Message refused as spam"),
            },
            SpamAction::SoftReject | SpamAction::Greylist => Decision::TempFail {
                code: 451,
                enhanced: "4.7.1",
                text: text("Try again later"),
            },
            SpamAction::RewriteSubject | SpamAction::AddHeader => {
                let mut header_lines = vec!["X-Spam-Flag: YES\r\n".to_string()];
                header_lines.extend(status(true));
                Decision::Mark {
                    header_lines,
                    subject_tag: (self.action == SpamAction::RewriteSubject
                        && !settings.subject_tag.is_empty())
                    .then(|| settings.subject_tag.clone()),
                }
            }
            SpamAction::NoAction => Decision::Mark {
                header_lines: status(false),
                subject_tag: None,
            },
        }
    }
}

/// The spam filter: rspamd behind [`SpamSettings`], with a count of the
/// times it gave no verdict.
pub struct SpamFilter {
    settings: SpamSettings,
    failures: AtomicU64,
}

impl SpamFilter {
    /// A filter asking rspamd as `settings` say.
    pub fn new(settings: SpamSettings) -> Self {
        SpamFilter {
            settings,
            failures: AtomicU64::new(0),
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &SpamSettings {
        &self.settings
    }

    /// Times rspamd gave no verdict since start (for the metrics).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The decision on the message in `spool` (preceded by `head`, the
    /// header fields not in the spool, if any). `None` means deliver
    /// unfiltered: too large, or rspamd failed and the policy is to accept.
    pub async fn check(
        &self,
        envelope: &Envelope<'_>,
        head: &[u8],
        spool: &mut Spool,
    ) -> Option<Decision> {
        let size = head.len() as u64 + spool.len();
        if size > self.settings.max_size {
            tracing::info!(size, "not sent to rspamd: larger than its max_size");
            return None;
        }
        match rspamd::check(&self.settings, envelope, head, spool).await {
            Ok(verdict) => {
                tracing::info!(
                    action = ?verdict.action,
                    score = verdict.score,
                    "rspamd"
                );
                Some(verdict.decision(&self.settings))
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                match self.settings.on_failure {
                    OnFailure::Accept => {
                        tracing::warn!("rspamd gave no verdict, delivering unfiltered: {e}");
                        None
                    }
                    OnFailure::TempFail => {
                        tracing::warn!("rspamd gave no verdict, asking to retry: {e}");
                        Some(Decision::TempFail {
                            code: 451,
                            enhanced: "4.7.1",
                            text: "Spam filter unavailable, try again later".into(),
                        })
                    }
                }
            }
        }
    }
}

/// `s` as printable ASCII for a reply or header line: what rspamd (or a
/// rule's message, which may quote the sender) says must not break lines.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(400)
        .collect()
}

/// A header line folded at spaces or commas before 78 columns, ending CRLF.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for (i, piece) in line.split_inclusive([' ', ',']).enumerate() {
        if i > 0 && col + piece.len() > 76 {
            out.push_str("\r\n\t");
            col = 1;
        }
        out.push_str(piece);
        col += piece.len();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests;
