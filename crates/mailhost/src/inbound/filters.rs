//! The checks on other servers before any message: the DNS lists
//! ([`crate::dnsbl`]) and greylisting ([`crate::greylist`]). Our users
//! (AUTH) and `trusted_networks` are never checked, and mail to
//! postmaster always gets through the RCPT checks, so a listed sender can
//! still reach a person (RFC 5321 section 4.5.1). Both run only once the
//! recipient is known to be ours: an unknown user gets its 550, never a
//! temporary refusal that would keep the sender retrying. A client on an
//! allowlist (`dnsbl.allow_clients` or a DNS allowlist) is not greylisted.

use super::{Inbound, temp_fail};
use crate::dnsbl::Listing;
use praisani_mailaddr::Address;
use praisani_smtp::{Reply, Verdict};

impl Inbound {
    /// The client is in the configured client allowlist: the DNS lists
    /// are not asked about it.
    pub fn dnsbl_allowlisted(&mut self) {
        self.dnsbl_allowed = true;
    }

    /// The client is another server (no AUTH, not a trusted network):
    /// the filters apply.
    fn filtered(&self) -> bool {
        self.account.is_none() && !self.trusted
    }

    /// At connection time, when the DNS lists are asked then: the reply
    /// that refuses a listed client instead of the greeting.
    pub async fn connect_refusal(&mut self) -> Option<Reply> {
        let at_connect = self.office.dnsbl.as_ref().is_some_and(|d| d.at_connect);
        if !at_connect || !self.filtered() {
            return None;
        }
        let client = self.peer.to_canonical();
        let reply = self.listing().await.refusal(client);
        if let Some(r) = &reply {
            tracing::info!(client = %self.peer, reason = %r.lines.join(" "), "refused at connection: DNS list");
        }
        reply
    }

    /// What the DNS lists say about the client, asked at the first need
    /// and remembered for the connection.
    async fn listing(&mut self) -> &Listing {
        if self.listing.is_none() {
            let listing = match (&self.office.dnsbl, self.dnsbl_allowed) {
                (Some(d), false) => d.lists.check(self.peer).await,
                _ => Listing::Clean,
            };
            if let Listing::Allowed { zone } = &listing {
                tracing::debug!(client = %self.peer, zone, "in a DNS allowlist");
            }
            self.listing = Some(listing);
        }
        self.listing.get_or_insert(Listing::Clean)
    }

    /// The RCPT checks on other servers for `address`, one of our
    /// recipients: the refusal, if any.
    pub(super) async fn rcpt_filters(&mut self, address: &Address) -> Option<Verdict> {
        if !self.filtered() || address.local().eq_ignore_ascii_case("postmaster") {
            return None;
        }
        let client = self.peer.to_canonical();
        if self.office.dnsbl.as_ref().is_some_and(|d| !d.at_connect)
            && let Some(reply) = self.listing().await.refusal(client)
        {
            tracing::info!(client = %self.peer, rcpt = %address, reason = %reply.lines.join(" "), "refused: DNS list");
            return Some(Verdict::Reject(reply));
        }
        self.office.greylist.as_ref()?;
        // A client a list vouches for (the configured client allowlist or
        // a DNS allowlist) is not made to wait.
        if self.dnsbl_allowed
            || (self.office.dnsbl.is_some()
                && matches!(self.listing().await, Listing::Allowed { .. }))
        {
            return None;
        }
        let rules = self.office.greylist.as_ref()?;
        let recipient = format!("{}@{}", address.local(), address.domain().ascii());
        match crate::greylist::check(
            &*self.office.store,
            rules,
            client,
            &self.return_path,
            &recipient,
        )
        .await
        {
            Ok(None) => None,
            Ok(Some(reply)) => Some(Verdict::Reject(reply)),
            Err(e) => Some(temp_fail(&e)),
        }
    }
}
