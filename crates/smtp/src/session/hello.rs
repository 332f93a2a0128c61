//! EHLO and HELO (RFC 5321 4.1.1.1).

use super::{Helo, Session};
use crate::reply::Reply;

impl Session {
    /// EHLO: greet with our extension list. Like HELO it resets any transaction.
    pub(super) fn ehlo(&mut self, name: String) {
        let c = &self.config;
        let size = if c.max_message_size == 0 {
            "SIZE".to_owned() // RFC 1870: no fixed limit
        } else {
            format!("SIZE {}", c.max_message_size)
        };
        let mut lines = vec![
            c.hostname.clone(),
            "PIPELINING".to_owned(),
            size,
            "8BITMIME".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
        ];
        if c.chunking {
            lines.push("CHUNKING".to_owned()); // RFC 3030
        }
        if c.smtputf8 {
            lines.push("SMTPUTF8".to_owned());
        }
        if c.dsn {
            lines.push("DSN".to_owned());
        }
        // RFC 8689 section 2: only where the session itself is under TLS.
        if c.requiretls && self.tls_active {
            lines.push("REQUIRETLS".to_owned());
        }
        // RFC 3207 4.2: never offered again once under TLS.
        if c.starttls && !self.tls_active {
            lines.push("STARTTLS".to_owned());
        }
        let mechanisms = self.offered_mechanisms();
        if !mechanisms.is_empty() {
            lines.push(format!("AUTH {}", mechanisms.join(" ")));
        }
        self.transaction = None;
        self.helo = Some(Helo { name, esmtp: true });
        // No enhanced code: the EHLO reply is where the client learns whether we
        // use them at all (RFC 2034 section 3).
        self.send(Reply::multiline(250, "", lines));
    }

    /// HELO: plain SMTP, no extensions (MAIL parameters are refused afterwards, and
    /// so are STARTTLS and AUTH).
    pub(super) fn helo(&mut self, name: String) {
        self.transaction = None;
        self.helo = Some(Helo { name, esmtp: false });
        let host = self.config.hostname.clone();
        self.send(Reply::new(250, "", host));
    }
}
