//! What to do with a message, given its [`Verdict`]: accept, mark, refuse
//! or ask the client to try again — always inside the SMTP dialogue, never
//! a bounce after the 250.

use std::collections::HashMap;

use praisani_smtp::Reply;

use super::verdict::{AuthResult, DmarcPolicy, Verdict};

/// What one kind of finding leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deliver as if nothing were found.
    Accept,
    /// Deliver with spam marks (`X-Spam-Flag: YES`, the subject tag).
    Mark,
    /// `550 5.7.1` at the end of DATA; nothing stored.
    Reject,
    /// `451 4.7.x`: the client keeps the message and tries again.
    TempFail,
}

/// The trust policy: global, or for one hosted domain.
///
/// The defaults are the secure ones:
///
/// | finding | default |
/// | --- | --- |
/// | DMARC fails, `p=reject` | [`Action::Reject`] (`550 5.7.1`) |
/// | DMARC fails, `p=quarantine` | [`Action::Mark`] |
/// | DMARC fails, `p=none`, or no DMARC record, and SPF (MAIL FROM) `fail` | [`Action::Mark`] |
/// | the same with SPF `softfail` | [`Action::Accept`] |
/// | a DNS error that could change the outcome (DMARC or SPF `temperror`) | [`Action::TempFail`] (`451 4.7.x`) |
/// | subject tag on marked mail | none (`X-Spam-Flag: YES` and `X-Spam-Status: Yes` only) |
/// | trusted ARC sealers (whose `arc=pass` overrides a DMARC failure) | none |
///
/// A DMARC pass accepts whatever SPF said (a forwarded message keeps its
/// aligned DKIM signature). DKIM failures alone decide nothing: a broken
/// signature is treated as none (RFC 6376 §6.1), DMARC is what uses DKIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    /// DMARC failed and the domain asks `p=reject`.
    pub dmarc_reject: Action,
    /// DMARC failed and the domain asks `p=quarantine`.
    pub dmarc_quarantine: Action,
    /// SPF of the MAIL FROM identity is `fail` and DMARC did not decide.
    pub spf_fail: Action,
    /// SPF of the MAIL FROM identity is `softfail` and DMARC did not decide.
    pub spf_softfail: Action,
    /// A temporary DNS error in a check that could have changed the
    /// outcome. [`Action::Accept`] here means "fail open".
    pub temperror: Action,
    /// Put before the `Subject:` of marked mail (e.g. `[SPAM]`), if set.
    pub subject_tag: Option<String>,
    /// ARC sealers (the newest ARC-Seal's `d=`, lower case) whose passing
    /// chain is trusted to carry the original authentication through a
    /// forwarder or mailing list: their DMARC failures are accepted.
    pub trusted_arc_sealers: Vec<String>,
}

impl Default for TrustPolicy {
    fn default() -> Self {
        TrustPolicy {
            dmarc_reject: Action::Reject,
            dmarc_quarantine: Action::Mark,
            spf_fail: Action::Mark,
            spf_softfail: Action::Accept,
            temperror: Action::TempFail,
            subject_tag: None,
            trusted_arc_sealers: Vec::new(),
        }
    }
}

/// The global policy and the hosted domains' own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainPolicies {
    /// For domains without their own.
    pub default: TrustPolicy,
    /// By hosted domain (lower-case A-labels).
    pub per_domain: HashMap<String, TrustPolicy>,
}

impl DomainPolicies {
    /// The policy for mail to `domain`.
    pub fn for_domain(&self, domain: &str) -> &TrustPolicy {
        self.per_domain
            .get(&domain.to_ascii_lowercase())
            .unwrap_or(&self.default)
    }

    /// The decision for a message to recipients in `domains` (an empty
    /// name for one without a domain, such as `<postmaster>`: the global
    /// policy): the strictest of their policies' decisions, since one
    /// message gets one answer. Strictest first: reject, try again later,
    /// mark with a subject tag, mark, accept. No domains: the global policy.
    pub fn decide_for<'a>(
        &self,
        domains: impl IntoIterator<Item = &'a str>,
        verdict: &Verdict,
    ) -> Decision {
        // Each policy once, however many recipients share it.
        let mut seen: Vec<&TrustPolicy> = Vec::new();
        let mut best: Option<Decision> = None;
        for domain in domains {
            let policy = self.for_domain(domain);
            if seen.iter().any(|p| std::ptr::eq(*p, policy)) {
                continue;
            }
            seen.push(policy);
            let decision = policy.decide(verdict);
            if best.as_ref().is_none_or(|b| decision.rank() > b.rank()) {
                best = Some(decision);
            }
        }
        best.unwrap_or_else(|| self.default.decide(verdict))
    }
}

/// The answer for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Store it.
    Accept,
    /// Store it with these marks.
    Mark {
        /// Header fields to prepend, each ending CRLF.
        header_lines: Vec<String>,
        /// To put before the `Subject:` (with a space), if any.
        subject_tag: Option<String>,
    },
    /// Refuse permanently.
    Reject {
        /// `550`.
        code: u16,
        /// `5.7.1`.
        enhanced: &'static str,
        /// The reason, for the reply line.
        text: String,
    },
    /// Refuse for now.
    TempFail {
        /// `451`.
        code: u16,
        /// `4.7.0` (DMARC) or `4.7.24` (SPF, RFC 7372).
        enhanced: &'static str,
        /// The reason, for the reply line.
        text: String,
    },
}

impl Decision {
    /// How strict it is, for [`DomainPolicies::decide_for`].
    fn rank(&self) -> u8 {
        match self {
            Decision::Accept => 0,
            Decision::Mark {
                subject_tag: None, ..
            } => 1,
            Decision::Mark { .. } => 2,
            Decision::TempFail { .. } => 3,
            Decision::Reject { .. } => 4,
        }
    }

    /// This decision together with `other` (another filter's on the same
    /// message): the stricter refusal wins; otherwise the marks of both
    /// are added (a line both give, once) and the first subject tag is
    /// used. When one calls the message spam (`X-Spam-Flag: YES`), the
    /// other's `X-Spam-Status: No` goes: a reader's filter must not see
    /// both answers.
    pub fn and(self, other: Decision) -> Decision {
        match (self, other) {
            (
                Decision::Mark {
                    mut header_lines,
                    subject_tag,
                },
                Decision::Mark {
                    header_lines: more,
                    subject_tag: tag,
                },
            ) => {
                for line in more {
                    if !header_lines.contains(&line) {
                        header_lines.push(line);
                    }
                }
                if header_lines
                    .iter()
                    .any(|l| l.starts_with("X-Spam-Flag: YES"))
                {
                    header_lines.retain(|l| !l.starts_with("X-Spam-Status: No"));
                }
                Decision::Mark {
                    header_lines,
                    subject_tag: subject_tag.or(tag),
                }
            }
            (a, b) if a.rank() >= b.rank() => a,
            (_, b) => b,
        }
    }

    /// A short word for logs: `accept`, `mark`, `reject`, `tempfail`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Mark { .. } => "mark",
            Decision::Reject { .. } => "reject",
            Decision::TempFail { .. } => "tempfail",
        }
    }

    /// The SMTP reply that refuses the message, for [`Decision::Reject`]
    /// and [`Decision::TempFail`].
    pub fn reply(&self) -> Option<Reply> {
        match self {
            Decision::Reject {
                code,
                enhanced,
                text,
            }
            | Decision::TempFail {
                code,
                enhanced,
                text,
            } => Some(Reply::new(*code, enhanced, text.clone())),
            Decision::Accept | Decision::Mark { .. } => None,
        }
    }
}

/// Why a decision was taken, before the policy maps it to an [`Action`].
enum Finding {
    DmarcTemp,
    Dmarc(DmarcPolicy),
    SpfTemp,
    SpfFail,
    SpfSoftFail,
}

impl TrustPolicy {
    /// The decision for `verdict` under this policy.
    pub fn decide(&self, verdict: &Verdict) -> Decision {
        let Some(finding) = self.finding(verdict) else {
            return Decision::Accept;
        };
        let (action, reason, temp_code) = match &finding {
            Finding::DmarcTemp => (
                self.temperror,
                format!(
                    "Temporary DNS error checking DMARC of {}, try again later",
                    verdict.dmarc.from_domain
                ),
                "4.7.0",
            ),
            Finding::Dmarc(policy) => (
                match policy {
                    DmarcPolicy::Reject => self.dmarc_reject,
                    DmarcPolicy::Quarantine => self.dmarc_quarantine,
                    DmarcPolicy::None => Action::Accept,
                },
                format!(
                    "DMARC policy of {} (p={}) not satisfied: neither SPF nor DKIM authenticates the From: domain",
                    verdict.dmarc.from_domain,
                    policy.keyword()
                ),
                "4.7.0",
            ),
            Finding::SpfTemp => (
                self.temperror,
                format!(
                    "Temporary DNS error checking SPF of {}, try again later",
                    verdict.spf_mail_from.domain
                ),
                "4.7.24",
            ),
            Finding::SpfFail => (
                self.spf_fail,
                format!(
                    "SPF of {} does not permit {} to send its mail",
                    verdict.spf_mail_from.domain, verdict.client_ip
                ),
                "4.7.24",
            ),
            Finding::SpfSoftFail => (
                self.spf_softfail,
                format!(
                    "SPF of {} does not vouch for {}",
                    verdict.spf_mail_from.domain, verdict.client_ip
                ),
                "4.7.24",
            ),
        };
        match action {
            Action::Accept => Decision::Accept,
            Action::Mark => Decision::Mark {
                header_lines: vec![
                    "X-Spam-Flag: YES\r\n".to_string(),
                    format!("X-Spam-Status: Yes, reason={}\r\n", finding_tag(&finding)),
                ],
                subject_tag: self.subject_tag.clone(),
            },
            Action::Reject => Decision::Reject {
                code: 550,
                enhanced: "5.7.1",
                text: reason,
            },
            Action::TempFail => Decision::TempFail {
                code: 451,
                enhanced: temp_code,
                text: reason,
            },
        }
    }

    fn finding(&self, verdict: &Verdict) -> Option<Finding> {
        let dmarc = &verdict.dmarc;
        match dmarc.result {
            AuthResult::Pass => return None,
            AuthResult::TempError => return Some(Finding::DmarcTemp),
            AuthResult::Fail if dmarc.policy != DmarcPolicy::None => {
                let arc = &verdict.arc;
                let trusted = arc.result == AuthResult::Pass
                    && arc.sealer.as_ref().is_some_and(|s| {
                        self.trusted_arc_sealers
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(s))
                    });
                return (!trusted).then_some(Finding::Dmarc(dmarc.policy));
            }
            _ => {}
        }
        match verdict.spf_mail_from.result {
            AuthResult::Fail => Some(Finding::SpfFail),
            AuthResult::SoftFail => Some(Finding::SpfSoftFail),
            AuthResult::TempError => Some(Finding::SpfTemp),
            _ => None,
        }
    }
}

fn finding_tag(finding: &Finding) -> &'static str {
    match finding {
        Finding::DmarcTemp | Finding::SpfTemp => "dns-temperror",
        Finding::Dmarc(DmarcPolicy::Reject) => "dmarc-reject",
        Finding::Dmarc(DmarcPolicy::Quarantine) => "dmarc-quarantine",
        Finding::Dmarc(DmarcPolicy::None) => "dmarc-none",
        Finding::SpfFail => "spf-fail",
        Finding::SpfSoftFail => "spf-softfail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::verdict::{Alignment, ArcCheck, DmarcCheck, SpfCheck, SpfIdentity};

    #[test]
    fn two_filters_decisions_combine_strictest_first() {
        let mark = |lines: &[&str], tag: Option<&str>| Decision::Mark {
            header_lines: lines.iter().map(|l| l.to_string()).collect(),
            subject_tag: tag.map(String::from),
        };
        let reject = Decision::Reject {
            code: 550,
            enhanced: "5.7.1",
            text: "spam".into(),
        };
        let later = Decision::TempFail {
            code: 451,
            enhanced: "4.7.1",
            text: "later".into(),
        };
        assert_eq!(Decision::Accept.and(reject.clone()), reject);
        assert_eq!(later.clone().and(reject.clone()), reject);
        assert_eq!(mark(&["A\r\n"], None).and(later.clone()), later);
        assert_eq!(
            Decision::Accept.and(mark(&["A\r\n"], None)),
            mark(&["A\r\n"], None)
        );
        assert_eq!(
            mark(&["X-Spam-Flag: YES\r\n", "B\r\n"], Some("[T]"))
                .and(mark(&["X-Spam-Flag: YES\r\n", "C\r\n"], Some("[S]"))),
            mark(&["X-Spam-Flag: YES\r\n", "B\r\n", "C\r\n"], Some("[T]"))
        );
        assert_eq!(
            mark(&["B\r\n"], None).and(mark(&[], Some("[S]"))),
            mark(&["B\r\n"], Some("[S]"))
        );
        // The trust policy calls it spam, rspamd does not: spam it is.
        assert_eq!(
            mark(
                &["X-Spam-Flag: YES\r\n", "X-Spam-Status: Yes, reason=spf\r\n"],
                None
            )
            .and(mark(
                &[
                    "X-Spam-Score: 1.00\r\n",
                    "X-Spam-Status: No, score=1.00\r\n"
                ],
                None
            )),
            mark(
                &[
                    "X-Spam-Flag: YES\r\n",
                    "X-Spam-Status: Yes, reason=spf\r\n",
                    "X-Spam-Score: 1.00\r\n"
                ],
                None
            )
        );
    }

    fn verdict(spf: AuthResult, dmarc: AuthResult, policy: DmarcPolicy) -> Verdict {
        let spf_check = |identity| SpfCheck {
            identity,
            subject: "a@example.test".into(),
            domain: "example.test".into(),
            result: spf,
            explanation: None,
        };
        Verdict {
            authserv_id: "mx.test".into(),
            client_ip: [192, 0, 2, 1].into(),
            spf_helo: spf_check(SpfIdentity::Helo),
            spf_mail_from: spf_check(SpfIdentity::MailFrom),
            dkim: Vec::new(),
            arc: ArcCheck {
                result: AuthResult::None,
                instances: 0,
                sealer: None,
                reason: None,
            },
            dmarc: DmarcCheck {
                result: dmarc,
                from_domain: "example.test".into(),
                record: dmarc != AuthResult::None,
                policy,
                spf_aligned: false,
                dkim_aligned: dmarc == AuthResult::Pass,
                adkim: Alignment::Relaxed,
                aspf: Alignment::Relaxed,
                published: None,
            },
        }
    }

    fn action(decision: Decision) -> Action {
        match decision {
            Decision::Accept => Action::Accept,
            Decision::Mark { .. } => Action::Mark,
            Decision::Reject { .. } => Action::Reject,
            Decision::TempFail { .. } => Action::TempFail,
        }
    }

    #[test]
    fn the_default_table() {
        use AuthResult as R;
        use DmarcPolicy as P;
        let policy = TrustPolicy::default();
        let cases = [
            (R::Fail, R::Fail, P::Reject, Action::Reject),
            (R::Pass, R::Fail, P::Reject, Action::Reject),
            (R::Fail, R::Fail, P::Quarantine, Action::Mark),
            (R::Fail, R::Fail, P::None, Action::Mark),
            (R::Fail, R::None, P::None, Action::Mark),
            (R::SoftFail, R::None, P::None, Action::Accept),
            (R::Neutral, R::None, P::None, Action::Accept),
            (R::None, R::None, P::None, Action::Accept),
            (R::PermError, R::None, P::None, Action::Accept),
            // An aligned DKIM pass outweighs SPF.
            (R::Fail, R::Pass, P::Reject, Action::Accept),
            (R::TempError, R::None, P::None, Action::TempFail),
            (R::Pass, R::TempError, P::None, Action::TempFail),
        ];
        for (spf, dmarc, p, want) in cases {
            let got = action(policy.decide(&verdict(spf, dmarc, p)));
            assert_eq!(got, want, "spf={spf} dmarc={dmarc} p={}", p.keyword());
        }
    }

    #[test]
    fn replies_carry_the_codes() {
        let policy = TrustPolicy::default();
        let reject = policy.decide(&verdict(
            AuthResult::Fail,
            AuthResult::Fail,
            DmarcPolicy::Reject,
        ));
        let reply = reject.reply().unwrap();
        assert_eq!(
            (reply.code, reply.enhanced.as_deref()),
            (550, Some("5.7.1"))
        );
        let temp = policy.decide(&verdict(
            AuthResult::TempError,
            AuthResult::None,
            DmarcPolicy::None,
        ));
        let reply = temp.reply().unwrap();
        assert_eq!(
            (reply.code, reply.enhanced.as_deref()),
            (451, Some("4.7.24"))
        );
        assert_eq!(Decision::Accept.reply(), None);
    }

    #[test]
    fn a_trusted_arc_sealer_overrides_a_dmarc_failure() {
        let mut v = verdict(AuthResult::Fail, AuthResult::Fail, DmarcPolicy::Reject);
        v.arc = ArcCheck {
            result: AuthResult::Pass,
            instances: 1,
            sealer: Some("lists.example".into()),
            reason: None,
        };
        let mut policy = TrustPolicy::default();
        assert_eq!(action(policy.decide(&v)), Action::Reject);
        policy.trusted_arc_sealers = vec!["Lists.Example".into()];
        assert_eq!(policy.decide(&v), Decision::Accept);
        v.arc.result = AuthResult::Fail;
        assert_eq!(action(policy.decide(&v)), Action::Reject);
    }

    #[test]
    fn per_domain_policies() {
        let mut policies = DomainPolicies::default();
        policies.per_domain.insert(
            "strict.example".into(),
            TrustPolicy {
                spf_fail: Action::Reject,
                ..TrustPolicy::default()
            },
        );
        assert_eq!(
            policies.for_domain("STRICT.example").spf_fail,
            Action::Reject
        );
        assert_eq!(policies.for_domain("other.example").spf_fail, Action::Mark);
    }

    #[test]
    fn the_strictest_recipient_domain_decides() {
        let mut policies = DomainPolicies::default();
        policies.per_domain.insert(
            "lenient.example".into(),
            TrustPolicy {
                spf_fail: Action::Accept,
                ..TrustPolicy::default()
            },
        );
        policies.per_domain.insert(
            "tagged.example".into(),
            TrustPolicy {
                subject_tag: Some("[SPAM]".into()),
                ..TrustPolicy::default()
            },
        );
        policies.per_domain.insert(
            "strict.example".into(),
            TrustPolicy {
                spf_fail: Action::Reject,
                ..TrustPolicy::default()
            },
        );
        let v = verdict(AuthResult::Fail, AuthResult::None, DmarcPolicy::None);
        let decide = |d: &[&str]| policies.decide_for(d.iter().copied(), &v);
        assert_eq!(decide(&["lenient.example"]), Decision::Accept);
        assert_eq!(action(decide(&["lenient.example", ""])), Action::Mark);
        assert!(matches!(
            decide(&["other.example", "tagged.example", "lenient.example"]),
            Decision::Mark {
                subject_tag: Some(_),
                ..
            }
        ));
        assert_eq!(
            action(decide(&["tagged.example", "strict.example"])),
            Action::Reject
        );
        assert_eq!(action(decide(&[])), Action::Mark);
    }
}
