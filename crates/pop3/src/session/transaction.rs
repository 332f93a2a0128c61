//! Commands of the TRANSACTION state: STAT, LIST, RETR, DELE, NOOP, RSET, TOP, UIDL, QUIT
//! and CAPA.

use super::{Awaiting, Session, State};
use crate::command::{Command, Keyword, ParseError};
use crate::lang::Text;
use crate::maildrop::{MessageInfo, Missing};
use crate::response::{self, MultiLine};
use crate::session::Event;

impl Session {
    pub(super) fn transaction(&mut self, parsed: Result<Command, Option<ParseError>>) {
        let command = match parsed {
            Ok(command) => command,
            Err(error) => return self.parse_error(error, Keyword::valid_in_transaction),
        };
        match command {
            Command::Stat => {
                let (count, octets) = self.maildrop.stat();
                self.send(response::ok(&format!("{count} {octets}")));
            }
            Command::List(None) => self.listing(|m| m.size.to_string()),
            Command::List(Some(n)) => {
                if let Some(m) = self.message(n) {
                    let reply = response::ok(&format!("{n} {}", m.size));
                    self.send(reply);
                }
            }
            Command::Uidl(None) => self.listing(|m| m.uid.clone()),
            Command::Uidl(Some(n)) => {
                if let Some(m) = self.message(n) {
                    let reply = response::ok(&format!("{n} {}", m.uid));
                    self.send(reply);
                }
            }
            Command::Retr(n) => self.retrieve(n, None),
            Command::Top { msg, lines } => self.retrieve(msg, Some(lines)),
            Command::Dele(n) => match self.maildrop.delete(n) {
                Ok(()) => self.send(response::ok(&self.say(Text::Deleted { n }))),
                Err(missing) => self.missing(n, missing),
            },
            Command::Noop => self.send(response::ok("")),
            Command::Rset => {
                self.maildrop.reset();
                let (count, octets) = self.maildrop.stat();
                let text = self.say(Text::MaildropHas { count, octets });
                self.send(response::ok(&text));
            }
            Command::Quit => {
                // Only here are deletions made real; a dropped connection or an autologout
                // never reaches this point and so deletes nothing (RFC 1939 section 6).
                self.remaining = self.maildrop.stat().0;
                self.state = State::Update;
                self.awaiting = Awaiting::Update;
                let delete = self.maildrop.deleted_ids();
                self.events.push_back(Event::Update { delete });
            }
            Command::Capa => self.capa(),
            Command::Lang(range) => self.lang(range.as_deref()),
            Command::Utf8
            | Command::User(_)
            | Command::Pass(_)
            | Command::Apop { .. }
            | Command::Stls
            | Command::Auth { .. } => self.send(response::err(&self.say(Text::NotInThisState))),
        }
    }

    /// The live message numbered `n`, or `None` after sending the error.
    fn message(&mut self, n: u64) -> Option<MessageInfo> {
        match self.maildrop.get(n) {
            Ok(m) => Some(m.clone()),
            Err(missing) => {
                self.missing(n, missing);
                None
            }
        }
    }

    fn missing(&mut self, n: u64, missing: Missing) {
        let reply = match missing {
            Missing::NoSuchMessage => response::err(&self.say(Text::NoSuchMessage)),
            Missing::Deleted => response::err(&self.say(Text::AlreadyDeleted { n })),
        };
        self.send(reply);
    }

    /// LIST or UIDL without argument: one line per live message.
    fn listing(&mut self, value: impl Fn(&MessageInfo) -> String) {
        let (count, octets) = self.maildrop.stat();
        let mut reply = MultiLine::ok(&self.say(Text::Listing { count, octets }));
        for (n, m) in self.maildrop.live() {
            reply.line(&format!("{n} {}", value(m)));
        }
        self.send(reply.finish());
    }

    fn retrieve(&mut self, n: u64, top_lines: Option<u64>) {
        if let Some(m) = self.message(n) {
            self.events.push_back(Event::Retrieve {
                id: m.id,
                size: m.size,
                top_lines,
            });
        }
    }
}
