//! RCPT TO (RFC 5321 4.1.1.3) with NOTIFY and ORCPT (RFC 3461).

use super::mail::utf8_required;
use super::{Session, Waiting};
use crate::command::Param;
use crate::event::Event;
use crate::params::RcptParams;
use crate::path::ForwardPath;
use crate::reply::Reply;

impl Session {
    /// Check sequence, limits and parameters, then ask the server about the recipient.
    pub(super) fn rcpt(&mut self, to: ForwardPath, params: &[Param]) {
        let Some(helo) = &self.helo else {
            return self.bad_command(Reply::new(503, "5.5.1", "Error: send HELO/EHLO first"));
        };
        let dsn = self.config.dsn && helo.esmtp;
        let Some(tx) = &self.transaction else {
            return self.bad_command(Reply::new(503, "5.5.1", "Error: need MAIL command"));
        };
        if tx.message.is_some() {
            // The envelope went to the server with the first chunk.
            return self.bad_command(Reply::new(503, "5.5.1", "Error: RCPT after BDAT"));
        }
        let (count, smtputf8) = (tx.recipients.len(), tx.params.smtputf8);
        let rcpt_params = match RcptParams::from_params_with_dsn(params, dsn, smtputf8) {
            Ok(p) => p,
            Err(e) => return self.param_error(e),
        };
        // Decided here without asking the server: the answer cannot depend on policy.
        if count >= self.config.max_recipients {
            return self.send(Reply::new(452, "4.5.3", "Error: too many recipients"));
        }
        if to.mailbox().is_some_and(|m| !m.is_ascii()) && !smtputf8 {
            return self.send(utf8_required(self.config.smtputf8));
        }
        self.waiting = Some(Waiting::Recipient(to.clone(), rcpt_params));
        self.events.push_back(Event::CheckRecipient { to });
    }
}
