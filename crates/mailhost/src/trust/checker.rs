//! Running the checks on one message: SPF of the HELO name and of the MAIL
//! FROM identity, every DKIM signature and the ARC chain at once, then
//! DMARC over their results. Each check is bounded in time; one that runs
//! out is a `temperror`, never a pass.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DmarcResult, MessageAuthenticator, Parameters, SpfOutput, SpfResult,
};

use super::cache::Caches;
use super::dns::{DnsSettings, TrustError, build_resolver};
use super::verdict::{ArcCheck, AuthResult, DkimCheck, DmarcCheck, SpfCheck, SpfIdentity, Verdict};

/// How the checks run.
#[derive(Debug, Clone)]
pub struct TrustSettings {
    /// Bound on each check as a whole (SPF may make 10 lookups one after
    /// the other; DKIM one per signature). Each single lookup is bounded by
    /// the resolver's own timeout ([`DnsSettings::timeout`]). SPF, DKIM and
    /// ARC run at once and DMARC after them, so a message takes at most
    /// twice this.
    pub check_timeout: Duration,
    /// Parsed records kept per record type (SPF/DKIM/DMARC texts, MX, A,
    /// AAAA, PTR), each until its TTL runs out.
    pub cache_entries: usize,
    /// DKIM signatures verified per message, the topmost first (RFC 6376
    /// §6.1 lets verifiers limit them): each costs a DNS lookup, and a
    /// message could carry thousands.
    pub max_dkim_signatures: usize,
}

impl Default for TrustSettings {
    /// 20 s per check (RFC 7208 §4.6.4 suggests at least 20 s for SPF),
    /// 4096 cached records per type, 10 DKIM signatures per message.
    fn default() -> Self {
        TrustSettings {
            check_timeout: Duration::from_secs(20),
            cache_entries: 4096,
            max_dkim_signatures: 10,
        }
    }
}

/// What the checks need to know about one message.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    /// The client's address.
    pub client_ip: IpAddr,
    /// The HELO/EHLO argument (a domain or an address literal).
    pub helo: &'a str,
    /// The envelope sender, without angle brackets; empty for `<>`.
    pub mail_from: &'a str,
    /// Our hostname: the authserv-id and SPF's `%{r}`.
    pub hostname: &'a str,
    /// The message as received (header and body, CRLF line ends).
    pub message: &'a [u8],
}

/// Checks messages against DNS. One per server: it holds the resolver and
/// the caches every session shares; `check` takes `&self` and runs
/// concurrently for any number of sessions.
pub struct TrustChecker {
    authenticator: MessageAuthenticator,
    caches: Caches,
    settings: TrustSettings,
}

impl std::fmt::Debug for TrustChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustChecker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TrustChecker {
    /// A checker asking `resolver` (e.g. one from [`build_resolver`], or
    /// the one `delivery::route` uses).
    pub fn new(settings: TrustSettings, resolver: TokioResolver) -> Self {
        TrustChecker {
            authenticator: MessageAuthenticator(resolver),
            caches: Caches::new(settings.cache_entries),
            settings,
        }
    }

    /// A checker with its own resolver for `dns`.
    pub fn with_dns(settings: TrustSettings, dns: &DnsSettings) -> Result<Self, TrustError> {
        Ok(Self::new(settings, build_resolver(dns)?))
    }

    /// Runs every check on one message.
    pub async fn check(&self, input: CheckInput<'_>) -> Verdict {
        let limit = self.settings.check_timeout;
        let ip = input.client_ip;
        let helo = helo_domain(input.helo);
        // RFC 7208 §2.4: for `<>` the MAIL FROM identity is postmaster@HELO.
        let mail_from_subject = if input.mail_from.is_empty() {
            helo.map(|h| format!("postmaster@{h}"))
        } else {
            Some(input.mail_from.to_string())
        };
        let mail_from_domain = mail_from_subject
            .as_deref()
            .and_then(|s| s.rsplit_once('@'))
            .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
            .unwrap_or_default();
        let parsed = AuthenticatedMessage::parse(input.message).map(|mut message| {
            super::body_hash::repair_relaxed_body_hashes(&mut message);
            message
                .dkim_headers
                .truncate(self.settings.max_dkim_signatures);
            message
        });

        let spf_helo = async {
            let Some(helo) = helo else {
                return (None, none_spf(SpfIdentity::Helo, input.helo));
            };
            let params = self.params(SpfParameters::verify_ehlo(ip, helo, input.hostname));
            let out = tokio::time::timeout(limit, self.authenticator.verify_spf(params)).await;
            spf_result(SpfIdentity::Helo, helo.to_string(), helo, out)
        };
        let spf_mail_from = async {
            let Some(sender) = mail_from_subject.as_deref() else {
                let subject = format!("postmaster@{}", input.helo);
                return (None, none_spf(SpfIdentity::MailFrom, &subject));
            };
            let params = self.params(SpfParameters::verify_mail_from(
                ip,
                helo.unwrap_or(input.helo),
                input.hostname,
                sender,
            ));
            let out = tokio::time::timeout(limit, self.authenticator.verify_spf(params)).await;
            spf_result(
                SpfIdentity::MailFrom,
                sender.to_string(),
                &mail_from_domain,
                out,
            )
        };
        let dkim = async {
            let message = parsed.as_ref()?;
            let params = self.params(message);
            tokio::time::timeout(limit, self.authenticator.verify_dkim(params))
                .await
                .ok()
        };
        let arc = async {
            let Some(message) = parsed.as_ref() else {
                return ArcCheck::from_output(&Default::default());
            };
            let params = self.params(message);
            match tokio::time::timeout(limit, self.authenticator.verify_arc(params)).await {
                Ok(out) => ArcCheck::from_output(&out),
                Err(_) => ArcCheck::timed_out(),
            }
        };
        let ((_, spf_helo), (spf_output, spf_mail_from), dkim_outputs, arc) =
            tokio::join!(spf_helo, spf_mail_from, dkim, arc);

        let has_signatures = parsed
            .as_ref()
            .is_some_and(|m| !m.dkim_headers.is_empty() || m.has_dkim_errors);
        // Whether a signature we could not check might have aligned with
        // `From:` (same domain or one inside the other: a superset of
        // relaxed alignment).
        let could_align = parsed.as_ref().is_some_and(|m| {
            let from = m
                .from()
                .rsplit_once('@')
                .map_or("", |(_, d)| d)
                .to_ascii_lowercase();
            m.dkim_headers.iter().any(|h| {
                let d = h.header.d.to_ascii_lowercase();
                d == from || d.ends_with(&format!(".{from}")) || from.ends_with(&format!(".{d}"))
            })
        });
        let dkim = match &dkim_outputs {
            Some(outputs) => outputs.iter().map(DkimCheck::from_output).collect(),
            None if has_signatures => vec![DkimCheck {
                result: AuthResult::TempError,
                domain: None,
                selector: None,
                algorithm: None,
                b_prefix: None,
                reason: Some("DNS lookups timed out".into()),
            }],
            None => Vec::new(),
        };

        let dmarc = match &parsed {
            None => DmarcCheck::from_output(&Default::default()),
            Some(message) => {
                let from_domain = message
                    .from()
                    .rsplit_once('@')
                    .map(|(_, d)| d.to_ascii_lowercase())
                    .unwrap_or_default();
                let spf_output = spf_output.unwrap_or_default();
                let outputs = dkim_outputs.as_deref().unwrap_or_default();
                let params = self.params(DmarcParameters::new(
                    message,
                    outputs,
                    &mail_from_domain,
                    &spf_output,
                ));
                match tokio::time::timeout(limit, self.authenticator.verify_dmarc(params)).await {
                    Ok(out) => {
                        let mut check = DmarcCheck::from_output(&out);
                        // Signatures we could not check might have aligned:
                        // not knowing is not failing.
                        if dkim_outputs.is_none()
                            && could_align
                            && check.record
                            && check.result != AuthResult::Pass
                            && *out.dkim_result() != DmarcResult::Pass
                        {
                            check.result = AuthResult::TempError;
                        }
                        check
                    }
                    Err(_) => DmarcCheck::timed_out(from_domain),
                }
            }
        };

        tracing::debug!(
            client = %ip,
            spf = %spf_mail_from.result,
            spf_helo = %spf_helo.result,
            dkim = ?dkim.iter().map(|d| d.result.keyword()).collect::<Vec<_>>(),
            arc = %arc.result,
            dmarc = %dmarc.result,
            from_domain = %dmarc.from_domain,
            "trust checks done"
        );
        Verdict {
            authserv_id: input.hostname.to_string(),
            client_ip: ip,
            spf_helo,
            spf_mail_from,
            dkim,
            arc,
            dmarc,
        }
    }

    /// `p` with our caches attached.
    #[allow(clippy::type_complexity)]
    fn params<P>(
        &self,
        p: P,
    ) -> Parameters<
        '_,
        P,
        super::cache::TtlCache<Box<str>, mail_auth::Txt>,
        super::cache::TtlCache<Box<str>, mail_auth::RecordSet<mail_auth::MX>>,
        super::cache::TtlCache<Box<str>, mail_auth::RecordSet<std::net::Ipv4Addr>>,
        super::cache::TtlCache<Box<str>, mail_auth::RecordSet<std::net::Ipv6Addr>>,
        super::cache::TtlCache<IpAddr, mail_auth::RecordSet<Box<str>>>,
    > {
        Parameters::new(p)
            .with_txt_cache(&self.caches.txt)
            .with_mx_cache(&self.caches.mx)
            .with_ipv4_cache(&self.caches.ipv4)
            .with_ipv6_cache(&self.caches.ipv6)
            .with_ptr_cache(&self.caches.ptr)
    }
}

/// The HELO name as a domain to check, or None for an address literal or
/// a name without a dot (nothing SPF can look up).
fn helo_domain(helo: &str) -> Option<&str> {
    let name = helo.trim_end_matches('.');
    (!name.starts_with('[') && name.contains('.') && name.parse::<IpAddr>().is_err())
        .then_some(name)
}

fn none_spf(identity: SpfIdentity, subject: &str) -> SpfCheck {
    SpfCheck {
        identity,
        subject: subject.to_string(),
        domain: String::new(),
        result: AuthResult::None,
        explanation: None,
    }
}

/// The owned check, and mail-auth's output for DMARC (a timeout becomes a
/// `temperror` there too, so DMARC cannot take it for a failure).
fn spf_result(
    identity: SpfIdentity,
    subject: String,
    domain: &str,
    out: Result<SpfOutput, tokio::time::error::Elapsed>,
) -> (Option<SpfOutput>, SpfCheck) {
    match out {
        Ok(out) => {
            let check = SpfCheck::from_output(identity, subject, &out);
            (Some(out), check)
        }
        Err(_) => (
            Some(SpfOutput::new(domain.to_string()).with_result(SpfResult::TempError)),
            SpfCheck::timed_out(identity, subject, domain),
        ),
    }
}
