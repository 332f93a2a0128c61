//! RSET, NOOP, QUIT, HELP, VRFY, EXPN (RFC 5321 4.1.1.5-4.1.1.10) and HTTP requests.

use super::Session;
use crate::reply::Reply;

impl Session {
    /// RSET: abort the transaction, keep the EHLO state (and any authentication).
    pub(super) fn rset(&mut self) {
        self.reset_transaction();
        self.send(Reply::new(250, "2.0.0", "Ok"));
    }

    /// NOOP.
    pub(super) fn noop(&mut self) {
        self.send(Reply::new(250, "2.0.0", "Ok"));
    }

    /// QUIT: say goodbye and close; anything pipelined after it is ignored.
    pub(super) fn quit(&mut self) {
        let host = &self.config.hostname;
        self.send(Reply::new(221, "2.0.0", format!("{host} Bye")));
        self.close();
    }

    /// HELP: a short list; the RFCs are the real help.
    pub(super) fn help(&mut self) {
        self.send(Reply::new(
            214,
            "2.0.0",
            "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP",
        ));
    }

    /// VRFY: RFC 5321 3.5.3 allows 252 so that we never confirm or deny a mailbox
    /// (which would help address harvesting).
    pub(super) fn vrfy(&mut self) {
        self.send(Reply::new(
            252,
            "2.5.0",
            "Cannot VRFY user, but will accept message and attempt delivery",
        ));
    }

    /// EXPN: list expansion would reveal list members; not offered.
    pub(super) fn expn(&mut self) {
        self.bad_command(Reply::new(502, "5.5.1", "EXPN not available"));
    }

    /// An HTTP request line: a web client or a cross-protocol attack; nothing useful
    /// can follow, so hang up at once.
    pub(super) fn http(&mut self) {
        let host = &self.config.hostname;
        self.send(Reply::new(
            421,
            "4.7.0",
            format!("{host} Not an HTTP server"),
        ));
        self.close();
    }
}
