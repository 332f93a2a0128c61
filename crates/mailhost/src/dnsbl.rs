//! DNS blocklists and allowlists (RFC 5782): is the connecting client's
//! address listed?
//!
//! The client's address is looked up in every configured zone at once
//! (reversed octets, or nibbles for IPv6, under the zone). An answer in
//! `127.0.0.0/8` means listed, except `127.255.255.0/24`, which list
//! operators use to say a query was refused (public resolvers, over-use):
//! that, a timeout or any other DNS error counts as not listed — a
//! blocklist that fails never blocks mail. A listing in a DNS allowlist
//! overrides every blocklist. Which zones to use is the operator's choice
//! (their usage terms differ); none are configured by default.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;
use praisani_smtp::Reply;

/// Which lists to ask, and how long to wait for them.
#[derive(Debug, Clone, Default)]
pub struct DnsblSettings {
    /// Blocklist zones, such as `zen.spamhaus.org`.
    pub blocklists: Vec<String>,
    /// Allowlist zones, such as `list.dnswl.org`: a listed client passes
    /// whatever the blocklists say.
    pub allowlists: Vec<String>,
    /// For all lookups of one client together.
    pub timeout: Duration,
    /// Look up loopback clients too (they are this machine, normally
    /// skipped; tests list `127.0.0.1` in a zone of their own).
    pub check_loopback: bool,
}

/// What the lists say about one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// In no blocklist (or a list failed to answer).
    Clean,
    /// In a DNS allowlist.
    Allowed {
        /// The allowlist.
        zone: String,
    },
    /// In a blocklist.
    Listed {
        /// The blocklist.
        zone: String,
        /// The list's TXT reason, if it gives one.
        reason: Option<String>,
    },
}

impl Listing {
    /// The refusal for a listed client: `554 5.7.1` naming the list and its
    /// reason (RFC 5782 section 2.1).
    pub fn refusal(&self, client: IpAddr) -> Option<Reply> {
        let Listing::Listed { zone, reason } = self else {
            return None;
        };
        let mut text = format!("Client [{client}] blocked using {zone}");
        if let Some(reason) = reason {
            text.push_str(": ");
            text.push_str(reason);
        }
        Some(Reply::new(554, "5.7.1", text))
    }
}

/// Asks the configured lists about clients.
pub struct Dnsbl {
    settings: DnsblSettings,
    resolver: TokioResolver,
}

impl Dnsbl {
    /// Lists asked through `resolver`.
    pub fn new(settings: DnsblSettings, resolver: TokioResolver) -> Self {
        Dnsbl { settings, resolver }
    }

    /// True when no list is configured (nothing to ask).
    pub fn is_empty(&self) -> bool {
        self.settings.blocklists.is_empty() && self.settings.allowlists.is_empty()
    }

    /// What the lists say about `client`. Loopback clients are not looked
    /// up (they are this machine) unless the settings say so.
    pub async fn check(&self, client: IpAddr) -> Listing {
        let client = client.to_canonical();
        if self.settings.blocklists.is_empty()
            || (client.is_loopback() && !self.settings.check_loopback)
        {
            return Listing::Clean;
        }
        let lookups = async {
            let allow =
                self.settings.allowlists.iter().map(|zone| async move {
                    self.listed(client, zone).await.map(|_| zone.clone())
                });
            let block = self.settings.blocklists.iter().map(|zone| async move {
                self.listed(client, zone)
                    .await
                    .map(|reason| (zone.clone(), reason))
            });
            let (allowed, blocked) =
                tokio::join!(join_all(allow.collect()), join_all(block.collect()));
            if let Some(zone) = allowed.into_iter().flatten().next() {
                return Listing::Allowed { zone };
            }
            match blocked.into_iter().flatten().next() {
                Some((zone, reason)) => Listing::Listed { zone, reason },
                None => Listing::Clean,
            }
        };
        match tokio::time::timeout(self.settings.timeout, lookups).await {
            Ok(listing) => listing,
            Err(_) => {
                tracing::warn!(%client, "DNS lists gave no answer in time; not blocking");
                Listing::Clean
            }
        }
    }

    /// `Some(reason)` when `client` is listed in `zone`.
    async fn listed(&self, client: IpAddr, zone: &str) -> Option<Option<String>> {
        let name = query_name(client, zone);
        let answer = match self.resolver.ipv4_lookup(name.as_str()).await {
            Ok(a) => a,
            Err(e) => {
                if !e.is_no_records_found() {
                    tracing::warn!(zone, "DNS list lookup failed, not blocking: {e}");
                }
                return None;
            }
        };
        let codes: Vec<_> = answer
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect();
        if !codes.iter().any(|ip| means_listed(*ip)) {
            if !codes.is_empty() {
                tracing::warn!(zone, ?codes, "DNS list refused the query; not blocking");
            }
            return None;
        }
        let reason = match self.resolver.txt_lookup(name.as_str()).await {
            Ok(txt) => txt.answers().iter().find_map(|r| match &r.data {
                RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            }),
            Err(_) => None,
        };
        Some(reason.map(|r| printable(&r)))
    }
}

/// An answer that says "listed" (not an operator's error code).
fn means_listed(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 127 && !(b == 255 && c == 255)
}

/// The name to ask for `client` in `zone` (RFC 5782 sections 2.1, 2.4).
pub fn query_name(client: IpAddr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    match client {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{zone}.")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(64 + zone.len());
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            name.push_str(zone);
            name.push('.');
            name
        }
    }
}

/// A list's text as it may appear in a reply line.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(300)
        .collect()
}

/// Runs the futures together, their outputs in order.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_follow_rfc_5782() {
        assert_eq!(
            query_name("192.0.2.99".parse().unwrap(), "bl.example"),
            "99.2.0.192.bl.example."
        );
        assert_eq!(
            query_name("2001:db8:1:2:3:4:567:89ab".parse().unwrap(), "bl.example."),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example."
        );
    }

    #[test]
    fn operator_error_codes_are_not_listings() {
        assert!(means_listed("127.0.0.2".parse().unwrap()));
        assert!(means_listed("127.0.0.10".parse().unwrap()));
        assert!(!means_listed("127.255.255.254".parse().unwrap()));
        assert!(!means_listed("10.0.0.2".parse().unwrap()));
    }

    #[test]
    fn refusals_name_the_list_and_its_reason() {
        let client: IpAddr = "192.0.2.99".parse().unwrap();
        let r = Listing::Listed {
            zone: "bl.example".into(),
            reason: Some("see https://bl.example/q?ip=192.0.2.99".into()),
        }
        .refusal(client)
        .unwrap();
        assert_eq!(r.code, 554);
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert!(text.contains("5.7.1"), "{text}");
        assert!(
            text.contains("[192.0.2.99] blocked using bl.example: see https"),
            "{text}"
        );
        assert_eq!(Listing::Clean.refusal(client), None);
    }
}
