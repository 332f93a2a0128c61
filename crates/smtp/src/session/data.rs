//! DATA (RFC 5321 4.1.1.4): the command, then the body through the decoder.

use super::{Body, Session, Waiting};
use crate::data::{CHUNK_SIZE, DataDecoder, DataError, HeaderScan};
use crate::event::{Envelope, Event};
use crate::reply::Reply;

impl Session {
    /// Check the sequence, hand the envelope to the server and start the body.
    pub(super) fn data(&mut self) {
        let Some(helo) = &self.helo else {
            return self.bad_command(Reply::new(503, "5.5.1", "Error: send HELO/EHLO first"));
        };
        let Some(tx) = &self.transaction else {
            return self.bad_command(Reply::new(503, "5.5.1", "Error: need MAIL command"));
        };
        if tx.message.is_some() {
            // RFC 3030 section 2: DATA cannot follow BDAT in a transaction. The
            // message so far is dropped: the client must RSET and start again.
            self.abort_bdat();
            return self.bad_command(Reply::new(503, "5.5.1", "Error: DATA after BDAT"));
        }
        if tx.recipients.is_empty() {
            // Not counted as a client error: it follows from our own rejections.
            return self.send(Reply::new(554, "5.5.1", "Error: no valid recipients"));
        }
        let (helo, esmtp) = (helo.name.clone(), helo.esmtp);
        let Some(tx) = self.transaction.take() else {
            return;
        };
        let header = (self.config.utf8_headers_need_smtputf8 && !tx.params.smtputf8)
            .then(HeaderScan::default);
        self.events.push_back(Event::MessageStart(Envelope {
            helo,
            esmtp,
            mail_from: tx.from,
            params: tx.params,
            recipients: tx.recipients,
            recipient_params: tx.recipient_params,
            authenticated: self.authenticated.clone(),
            tls: self.tls_active,
        }));
        self.send(Reply::new(354, "", "End data with <CR><LF>.<CR><LF>"));
        // Everything after the DATA line, even if it arrived in the same read, is body:
        // the client may pipeline DATA last in a group (RFC 2920 3.1).
        self.body = Some(Body {
            decoder: DataDecoder::new(self.config.max_message_size, self.config.max_text_line),
            aborted: false,
            header,
            utf8_header: false,
        });
    }

    /// Decode buffered body octets into at most one chunk (or abort/end) event.
    pub(super) fn step_body(&mut self) -> bool {
        let Some(body) = &mut self.body else {
            return false;
        };
        let pending = &self.input[self.start..];
        if pending.is_empty() {
            return false;
        }
        let mut chunk = Vec::new();
        let progress = body.decoder.decode(pending, &mut chunk, CHUNK_SIZE);
        self.start += progress.consumed;
        let error = body.decoder.error();
        if let Some(scan) = &mut body.header
            && scan.push(&chunk)
        {
            // RFC 6532 header fields need an SMTPUTF8 transaction (RFC 6531 section 3.1):
            // stop storing now, refuse at the end of data.
            body.header = None;
            body.utf8_header = true;
        }
        if error.is_some() || body.utf8_header {
            if !body.aborted {
                body.aborted = true;
                self.events.push_back(Event::MessageAborted);
            }
        } else if !chunk.is_empty() {
            self.events.push_back(Event::MessageChunk(chunk));
        }
        let utf8_header = body.utf8_header;
        if progress.finished {
            self.body = None;
            match refusal(error, utf8_header) {
                Some(reply) => self.send(reply),
                None => {
                    self.events.push_back(Event::MessageEnd);
                    self.waiting = Some(Waiting::Message);
                }
            }
        }
        true
    }
}

/// The reply refusing a message that broke a limit or has UTF-8 header fields
/// without SMTPUTF8 (for DATA at its end, for BDAT at the end of the chunk).
pub(super) fn refusal(error: Option<DataError>, utf8_header: bool) -> Option<Reply> {
    match error {
        None if utf8_header => Some(Reply::new(
            550,
            "5.6.9",
            "Message has UTF-8 header fields: send it with SMTPUTF8",
        )),
        None => None,
        Some(DataError::TooBig) => Some(Reply::new(
            552,
            "5.3.4",
            "Message size exceeds fixed maximum message size",
        )),
        Some(DataError::LineTooLong) => Some(Reply::new(500, "5.5.6", "Text line too long")),
    }
}
