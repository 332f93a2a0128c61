//! [`PostOffice`]: the services every front end shares — the store, the
//! settings the domain decisions need, and the bell that wakes the
//! outbound queue. The SMTP and POP3 drivers, the CLI and (later) the admin
//! API all reach the mail logic through one of these.

use crate::bounce_limit::BounceLimit;
use crate::dnsbl::Dnsbl;
use crate::maildrop::LoginTimes;
use crate::outbound_policy::SendingPolicy;
use crate::spam::SpamFilter;
use crate::srs::Srs;
use crate::trust::{DomainPolicies, TrustChecker};
use praisani_mailaddr::{Address, Domain};
use praisani_store::greylist::GreyRules;
use praisani_store::{Retention, Store};
use std::sync::Arc;
use std::time::Duration;

/// Whose addresses an authenticated user may send as (RFC 6409 section
/// 6.1): the envelope sender and every `From:` address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SenderPolicy {
    /// Only the user's own address and aliases that deliver to them.
    #[default]
    Owned,
    /// Any address (a trusted relay for applications).
    Any,
}

/// What the post office's decisions depend on, read once from the
/// configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Our host name: trace headers, the `MAILER-DAEMON@` of bounces, ids.
    pub hostname: String,
    /// Quota warning thresholds in percent (`[quota] warn`).
    pub quota_warn: Vec<u8>,
    /// Whose addresses authenticated users may send as.
    pub sender_policy: SenderPolicy,
    /// Where postmaster mail goes when a domain has no postmaster of its
    /// own (`postmaster` in the configuration).
    pub postmaster: Option<Address>,
    /// The server-wide retention, for accounts and domains without their
    /// own (`[retention]`).
    pub retention: Retention,
    /// How soon an account may log in over POP3 again (RFC 2449
    /// LOGIN-DELAY); `None` for no limit.
    pub login_delay: Option<Duration>,
    /// The least time between two bounces for full mailboxes to one sender
    /// that did not log in (`[quota] bounce_interval`).
    pub bounce_interval: Duration,
    /// How many such senders are remembered at once (`[quota]
    /// bounce_senders`).
    pub bounce_senders: usize,
    /// Sub-address delimiters (`[addressing]`); catch-alls are aliases.
    pub addressing: crate::addressing::Addressing,
    /// `Received:` fields a message may carry before it is refused as a
    /// loop (`limits.max_received`; see [`crate::forwarding`]).
    pub max_received: usize,
}

/// The mail host's shared services.
pub struct PostOffice {
    /// Where everything is kept.
    pub store: Arc<dyn Store>,
    /// The settings decisions are made with.
    pub settings: Settings,
    /// Rung whenever a message is queued for other servers, so the queue
    /// runner sends it at once instead of at its next tick.
    pub queue_wake: tokio::sync::Notify,
    /// When each account last logged in over POP3, for LOGIN-DELAY.
    pub login_times: LoginTimes,
    /// When senders that did not log in last got a bounce from us.
    pub bounce_limit: BounceLimit,
    /// The SPF/DKIM/DMARC/ARC checks on mail from other servers (`[trust]`);
    /// `None` when they are turned off.
    pub trust: Option<InboundTrust>,
    /// The DNS lists asked about other servers (`[dnsbl]`); `None` when
    /// no zone is configured.
    pub dnsbl: Option<InboundDnsbl>,
    /// Greylisting of other servers at RCPT (`[greylist]`); `None` when off.
    pub greylist: Option<GreyRules>,
    /// The spam filter on mail from other servers (`[spam]`); `None` when off.
    pub spam: Option<Arc<SpamFilter>>,
    /// Sending limits and containment for our users' mail (`[sending]`).
    pub sending: SendingPolicy,
    /// DMARC aggregate reports (`[dmarc_reports]`): the trust checks'
    /// DMARC evaluations are recorded for them; `None` when off.
    pub dmarc_reports: Option<crate::dmarc_reports::ReportSettings>,
    /// The Sender Rewriting Scheme (`[srs]`): rewrites forwarded mail's
    /// sender and reverses bounces to our SRS addresses; `None` when off.
    pub srs: Option<Arc<Srs>>,
    /// The domain of our SRS addresses (set with `srs`): for RCPT it is
    /// ours even when it is not a hosted domain.
    pub srs_domain: Option<Domain>,
}

/// The DNS lists as the post office applies them to other servers.
pub struct InboundDnsbl {
    /// The lists (one resolver for every session).
    pub lists: Arc<Dnsbl>,
    /// Refuse a listed client at connection time rather than at each RCPT
    /// (which lets it still reach postmaster).
    pub at_connect: bool,
}

/// The inbound trust checks as the post office applies them: one checker
/// (resolver and record caches) every session shares, and the policies
/// that turn its verdicts into answers.
#[derive(Debug, Clone)]
pub struct InboundTrust {
    /// Runs the checks.
    pub checker: Arc<TrustChecker>,
    /// The global policy and the hosted domains' own.
    pub policies: DomainPolicies,
    /// How many octets of messages the checks may hold at once.
    pub memory: crate::trust::CheckMemory,
}

impl PostOffice {
    /// A post office over `store`.
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> Self {
        PostOffice {
            bounce_limit: BounceLimit::new(settings.bounce_interval, settings.bounce_senders),
            store,
            settings,
            queue_wake: tokio::sync::Notify::new(),
            login_times: LoginTimes::default(),
            trust: None,
            dnsbl: None,
            greylist: None,
            spam: None,
            sending: SendingPolicy::default(),
            dmarc_reports: None,
            srs: None,
            srs_domain: None,
        }
    }

    /// The same post office checking mail from other servers with `trust`.
    pub fn with_trust(mut self, trust: InboundTrust) -> Self {
        self.trust = Some(trust);
        self
    }

    /// The same post office asking `dnsbl` about other servers.
    pub fn with_dnsbl(mut self, dnsbl: InboundDnsbl) -> Self {
        self.dnsbl = Some(dnsbl);
        self
    }

    /// The same post office greylisting other servers by `rules`.
    pub fn with_greylist(mut self, rules: GreyRules) -> Self {
        self.greylist = Some(rules);
        self
    }

    /// The same post office limiting our users' sending by `sending`.
    pub fn with_sending(mut self, sending: SendingPolicy) -> Self {
        self.sending = sending;
        self
    }

    /// The same post office recording DMARC evaluations for aggregate
    /// reports made with `settings`.
    pub fn with_dmarc_reports(mut self, settings: crate::dmarc_reports::ReportSettings) -> Self {
        self.dmarc_reports = Some(settings);
        self
    }

    /// The same post office rewriting forwarded mail's senders with `srs`
    /// into `domain`, and taking bounces to those addresses.
    pub fn with_srs(mut self, srs: Srs, domain: Domain) -> Self {
        self.srs = Some(Arc::new(srs));
        self.srs_domain = Some(domain);
        self
    }

    /// The envelope sender for a message from `sender` that we forward:
    /// its SRS address in our SRS domain (see [`Srs::forward`]), or `None`
    /// when SRS is off. The null sender is not rewritten: keep it null.
    pub fn srs_forward(&self, sender: &Address) -> Option<Address> {
        let (srs, domain) = (self.srs.as_ref()?, self.srs_domain.as_ref()?);
        Some(srs.forward(sender, domain, std::time::SystemTime::now()))
    }

    /// The same post office filtering mail from other servers with `spam`.
    pub fn with_spam(mut self, spam: SpamFilter) -> Self {
        self.spam = Some(Arc::new(spam));
        self
    }
}
