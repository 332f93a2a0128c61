//! BDAT (RFC 3030 CHUNKING): the command, and the octets of each chunk.
//!
//! Every BDAT whose size can be read is followed by that many octets, and they
//! are read as chunk data whatever the reply to the command: refused BDATs
//! (before EHLO, without a transaction, after a failed chunk, with a bad
//! keyword) are skipped, not parsed, so that no octet of a chunk is ever taken as
//! a command. The reply to a BDAT comes after its octets. A BDAT whose size cannot
//! be read leaves no way to tell chunk from command, so the connection is closed.
//!
//! The first accepted chunk hands the envelope to the server (MessageStart);
//! chunks stream as MessageChunk events like DATA's body; `BDAT n LAST` ends the
//! message with MessageEnd, and the 250 waits for the server's verdict as for
//! DATA. A chunk that breaks a limit fails the transaction: MessageAborted, the
//! error reply after its octets, and chunks pipelined after it are skipped with
//! `503` until the client starts over (RSET, MAIL, EHLO or HELO).

use super::data::refusal;
use super::{BdatBody, Chunk, Session, Waiting};
use crate::bdat::BdatDecoder;
use crate::data::{CHUNK_SIZE, HeaderScan};
use crate::event::{Envelope, Event};
use crate::reply::Reply;

/// Leaves room for the final CRLF that the LAST chunk may add to its last event.
const CHUNK_OUT: usize = CHUNK_SIZE - 2;

impl Session {
    /// BDAT with a readable size: check the sequence, then read the chunk into
    /// the message or skip it.
    ///
    /// Replies after the chunk's octets, in order of the checks:
    /// - `502 5.5.1` when CHUNKING is off on this listener (the octets are then
    ///   not skipped: CHUNKING off means BDAT is unknown, as before);
    /// - `503 5.5.1` before EHLO or after HELO (an ESMTP extension);
    /// - `503 5.5.1` after a failed BDAT of this transaction, not counted: RFC 3030
    ///   lets the client have pipelined more chunks before it saw the failure;
    /// - `503 5.5.1` without MAIL;
    /// - `554 5.5.1` without an accepted recipient, not counted (as for DATA);
    /// - for the message's own chunks: `250 2.0.0` for each chunk, the limit
    ///   errors of DATA (`552`, `500`, `550 5.6.9`), and for LAST the server's
    ///   verdict.
    pub(super) fn bdat(&mut self, size: u64, last: bool) {
        if !self.config.chunking {
            return self.bad_command(Reply::new(502, "5.5.1", "Error: command not implemented"));
        }
        let Some(helo) = &self.helo else {
            return self.skip_chunk(size, sequence("Error: send EHLO first"), true);
        };
        if !helo.esmtp {
            return self.skip_chunk(size, sequence("Error: send EHLO first"), true);
        }
        let (helo, esmtp) = (helo.name.clone(), helo.esmtp);
        if self.bdat_failed {
            let reply = sequence("Error: the transaction failed, send RSET");
            return self.skip_chunk(size, reply, false);
        }
        let Some(tx) = &mut self.transaction else {
            return self.skip_chunk(size, sequence("Error: need MAIL command"), true);
        };
        if tx.recipients.is_empty() {
            let reply = Reply::new(554, "5.5.1", "Error: no valid recipients");
            return self.skip_chunk(size, reply, false);
        }
        let message = tx.message.get_or_insert_with(|| {
            let header = (self.config.utf8_headers_need_smtputf8 && !tx.params.smtputf8)
                .then(HeaderScan::default);
            self.events.push_back(Event::MessageStart(Envelope {
                helo,
                esmtp,
                mail_from: tx.from.clone(),
                params: tx.params.clone(),
                recipients: tx.recipients.clone(),
                recipient_params: tx.recipient_params.clone(),
                authenticated: self.authenticated.clone(),
                tls: self.tls_active,
            }));
            BdatBody {
                decoder: BdatDecoder::new(self.config.max_message_size, self.config.max_text_line),
                aborted: false,
                header,
                utf8_header: false,
            }
        });
        message.decoder.start_chunk(size);
        self.chunk = Some(Chunk::Message { size, last });
    }

    /// A BDAT line that does not parse. With a readable size its chunk is skipped
    /// (and a message in progress is lost with it: it would have a hole); without
    /// one the connection is closed after the reply.
    pub(super) fn bdat_syntax(&mut self, size: Option<u64>) {
        if !self.config.chunking {
            return self.bad_command(Reply::new(502, "5.5.1", "Error: command not implemented"));
        }
        let reply = Reply::new(501, "5.5.4", "Syntax: BDAT size [LAST]");
        match size {
            Some(size) => {
                if self
                    .transaction
                    .as_ref()
                    .is_some_and(|tx| tx.message.is_some())
                {
                    self.abort_bdat();
                }
                self.skip_chunk(size, reply, true);
            }
            None => {
                self.bad_command(reply);
                if !self.closed {
                    self.close();
                }
            }
        }
    }

    /// Read `size` octets into nothing, then reply.
    fn skip_chunk(&mut self, size: u64, reply: Reply, bad: bool) {
        self.chunk = Some(Chunk::Skip {
            remaining: size,
            reply,
            bad,
        });
    }

    /// The transaction's BDAT message failed: discard it, and skip the chunks
    /// the client may have pipelined after it.
    pub(super) fn abort_bdat(&mut self) {
        if let Some(tx) = self.transaction.take()
            && tx.message.is_some_and(|m| !m.aborted)
        {
            self.events.push_back(Event::MessageAborted);
        }
        self.bdat_failed = true;
    }

    /// Read buffered chunk octets: at most one MessageChunk (or abort) event, and
    /// the reply once the chunk is complete.
    pub(super) fn step_chunk(&mut self) -> bool {
        match &mut self.chunk {
            None => false,
            Some(Chunk::Skip { remaining, .. }) => {
                let pending = self.input.len() - self.start;
                let n = usize::try_from(*remaining).map_or(pending, |r| r.min(pending));
                self.start += n;
                *remaining -= n as u64;
                if *remaining > 0 {
                    return n > 0;
                }
                if let Some(Chunk::Skip { reply, bad, .. }) = self.chunk.take() {
                    if bad {
                        self.bad_command(reply);
                    } else {
                        self.send(reply);
                    }
                }
                true
            }
            Some(Chunk::Message { size, last }) => {
                let (size, last) = (*size, *last);
                self.step_message_chunk(size, last)
            }
        }
    }

    fn step_message_chunk(&mut self, size: u64, last: bool) -> bool {
        let Some(message) = self.transaction.as_mut().and_then(|t| t.message.as_mut()) else {
            self.chunk = None; // cannot happen: the chunk belongs to the message
            return true;
        };
        let pending = &self.input[self.start..];
        if pending.is_empty() && message.decoder.remaining() > 0 {
            return false;
        }
        let mut out = Vec::new();
        let progress = message.decoder.decode(pending, &mut out, CHUNK_OUT);
        self.start += progress.consumed;
        if progress.finished && last {
            message.decoder.finish(&mut out);
        }
        if let Some(scan) = &mut message.header
            && scan.push(&out)
        {
            message.header = None;
            message.utf8_header = true;
        }
        let error = message.decoder.error();
        if error.is_some() || message.utf8_header {
            if !message.aborted {
                message.aborted = true;
                self.events.push_back(Event::MessageAborted);
            }
        } else if !out.is_empty() {
            self.events.push_back(Event::MessageChunk(out));
        }
        if !progress.finished {
            return true;
        }
        self.chunk = None;
        if let Some(reply) = refusal(error, message.utf8_header) {
            self.abort_bdat();
            self.send(reply);
        } else if last {
            self.transaction = None;
            self.events.push_back(Event::MessageEnd);
            self.waiting = Some(Waiting::Message);
        } else {
            self.send(Reply::new(
                250,
                "2.0.0",
                format!("Ok: {size} octets received"),
            ));
        }
        true
    }
}

/// A `503 5.5.1` bad-sequence reply.
fn sequence(text: &str) -> Reply {
    Reply::new(503, "5.5.1", text)
}
