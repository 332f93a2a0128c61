//! MAIL FROM (RFC 5321 4.1.1.2) with SIZE, BODY, SMTPUTF8, AUTH, RET and ENVID, and the
//! submission rules (RFC 6409, RFC 4954 section 6, RFC 3207 section 4).

use super::{Session, Waiting};
use crate::command::Param;
use crate::event::Event;
use crate::params::MailParams;
use crate::path::ReversePath;
use crate::reply::Reply;

impl Session {
    /// Check sequence, limits and parameters, then ask the server about the sender.
    pub(super) fn mail(&mut self, from: ReversePath, params: &[Param]) {
        let Some(helo) = &self.helo else {
            return self.bad_command(Reply::new(503, "5.5.1", "Error: send HELO/EHLO first"));
        };
        let esmtp = helo.esmtp;
        if self.transaction.is_some() {
            return self.bad_command(Reply::new(503, "5.5.1", "Error: nested MAIL command"));
        }
        // A new transaction: chunks of a failed BDAT can no longer be in the pipe.
        self.bdat_failed = false;
        // Policy before parameters: a client that must first STARTTLS or AUTH learns
        // that, not some detail of its MAIL line. RCPT and DATA then get 503 (no
        // transaction). Counted as errors so a client cannot loop here forever.
        if self.config.require_tls_for_mail && !self.tls_active {
            return self.bad_command(Reply::new(
                530,
                "5.7.0",
                "Must issue a STARTTLS command first",
            ));
        }
        if self.config.require_auth && self.authenticated.is_none() {
            return self.bad_command(Reply::new(530, "5.7.0", "Authentication required"));
        }
        if self.accepted_messages >= self.config.max_messages_per_connection {
            let host = &self.config.hostname;
            self.send(Reply::new(
                421,
                "4.7.0",
                format!("{host} Too many messages, reconnect"),
            ));
            return self.close();
        }
        // REQUIRETLS (RFC 8689) is the session's business: whether TLS is
        // up decides it; the other parameters go to the parser.
        let (requiretls, params): (Vec<_>, Vec<_>) = params
            .iter()
            .cloned()
            .partition(|p| esmtp && self.config.requiretls && p.keyword == "REQUIRETLS");
        if let Some(p) = requiretls.first() {
            if p.value.is_some() || requiretls.len() > 1 {
                return self.param_error(crate::params::ParamError::Syntax(
                    "Bad REQUIRETLS parameter",
                ));
            }
            if !self.tls_active {
                return self.bad_command(Reply::new(
                    530,
                    "5.7.10",
                    "REQUIRETLS needs a TLS session: issue STARTTLS first",
                ));
            }
        }
        let mut params = match MailParams::from_params_with_dsn(
            &params,
            esmtp,
            self.config.smtputf8,
            self.config.dsn,
        ) {
            Ok(p) => p,
            Err(e) => return self.param_error(e),
        };
        params.requiretls = !requiretls.is_empty();
        let max = self.config.max_message_size;
        if params.size.is_some_and(|s| max != 0 && s > max) {
            return self.send(Reply::new(
                552,
                "5.3.4",
                "Message size exceeds fixed maximum message size",
            ));
        }
        if let ReversePath::Mailbox(m) = &from
            && !m.is_ascii()
            && !params.smtputf8
        {
            return self.send(utf8_required(self.config.smtputf8));
        }
        self.waiting = Some(Waiting::Sender {
            from: from.clone(),
            params: params.clone(),
        });
        self.events.push_back(Event::CheckSender { from, params });
    }
}

/// RFC 6531 3.5: a UTF-8 address without the SMTPUTF8 parameter.
pub(super) fn utf8_required(offered: bool) -> Reply {
    let text = if offered {
        "Must declare SMTPUTF8 to send a UTF-8 address"
    } else {
        "UTF-8 addresses are not supported"
    };
    Reply::new(553, "5.6.7", text)
}
