//! The DNS records a hosted domain needs, pointing at this server: MX,
//! SPF, the DKIM keys' TXT records, DMARC, the service records of mail
//! programs (RFC 6186, RFC 8314) and the names they ask for their settings.
//!
//! Each record carries the note an administrator needs to publish it well;
//! the front ends render them (zone-file lines, JSON, a web page).

use super::AdminError;
use crate::dkim::{self, DkimError, KeyStore, Signer};
use praisani_mailaddr::Domain;
use praisani_mailhost::admin::domains;
use praisani_store::Store;

/// What this server tells the world about itself, from its configuration.
#[derive(Debug, Clone)]
pub struct ServerNames {
    /// The server's own name (`hostname`), where MX records point.
    pub hostname: String,
    /// The name mail programs connect to (A-label), which the TLS
    /// certificate covers.
    pub client_host: String,
    /// The smarthost outbound mail leaves through, if any.
    pub smarthost: Option<String>,
    /// Message submission with STARTTLS, as clients reach it.
    pub submission_port: u16,
    /// Message submission over implicit TLS.
    pub submissions_port: u16,
    /// POP3 with STLS.
    pub pop3_port: u16,
    /// POP3 over implicit TLS.
    pub pop3s_port: u16,
    /// HTTPS (Autodiscover).
    pub https_port: u16,
}

/// A record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    /// Mail exchanger: preference and host (no trailing dot).
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The host, A-labels.
        exchange: String,
    },
    /// Text, whole (split into character-strings only in zone files).
    Txt(String),
    /// Service location; a target of `"."` means "not offered".
    Srv {
        /// Lower is preferred.
        priority: u16,
        /// Share among equal priorities.
        weight: u16,
        /// The port.
        port: u16,
        /// The host, A-labels, no trailing dot; or ".".
        target: String,
    },
    /// Alias of another name (no trailing dot).
    Cname(String),
}

/// What a record is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Where mail for the domain goes.
    Mx,
    /// Which hosts may send the domain's mail.
    Spf,
    /// A DKIM public key.
    Dkim,
    /// The domain's DMARC policy.
    Dmarc,
    /// Where mail programs find submission, POP3 and IMAP.
    ClientService,
    /// Where mail programs find their settings.
    Autoconfig,
}

/// One DNS record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// Owner name, A-labels, no trailing dot.
    pub name: String,
    /// The data.
    pub data: RecordData,
    /// What it is for.
    pub purpose: Purpose,
    /// Advice for the administrator publishing it (for the first record of
    /// a group).
    pub note: Option<String>,
}

impl RecordData {
    /// The record type: "MX", "TXT", "SRV", "CNAME".
    pub fn rtype(&self) -> &'static str {
        match self {
            RecordData::Mx { .. } => "MX",
            RecordData::Txt(_) => "TXT",
            RecordData::Srv { .. } => "SRV",
            RecordData::Cname(_) => "CNAME",
        }
    }

    /// The data as one value: TXT unquoted and whole, host names without
    /// the trailing dot.
    pub fn value(&self) -> String {
        match self {
            RecordData::Mx {
                preference,
                exchange,
            } => format!("{preference} {exchange}"),
            RecordData::Txt(t) => t.clone(),
            RecordData::Srv {
                priority,
                weight,
                port,
                target,
            } => format!("{priority} {weight} {port} {target}"),
            RecordData::Cname(c) => c.clone(),
        }
    }

    /// The data as a zone file writes it: host names absolute (trailing
    /// dot), TXT as quoted character-strings of at most 255 octets.
    pub fn zone(&self) -> String {
        let absolute = |h: &str| {
            if h == "." {
                ".".to_string()
            } else {
                format!("{h}.")
            }
        };
        match self {
            RecordData::Mx {
                preference,
                exchange,
            } => format!("{preference} {}", absolute(exchange)),
            RecordData::Txt(t) => zone_txt(t),
            RecordData::Srv {
                priority,
                weight,
                port,
                target,
            } => format!("{priority} {weight} {port} {}", absolute(target)),
            RecordData::Cname(c) => absolute(c),
        }
    }
}

/// `"…" "…"`: a TXT value as zone-file character-strings of at most 255 octets.
pub fn zone_txt(value: &str) -> String {
    dkim::txt_strings(value)
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

impl DnsRecord {
    fn new(name: String, purpose: Purpose, data: RecordData) -> Self {
        DnsRecord {
            name,
            data,
            purpose,
            note: None,
        }
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// The TXT record publishing the public key of `signer`.
    pub fn dkim(signer: &Signer) -> Result<Self, DkimError> {
        Ok(DnsRecord::new(
            signer.dns_name()?,
            Purpose::Dkim,
            RecordData::Txt(signer.key.dns_txt()),
        ))
    }

    /// The record type.
    pub fn rtype(&self) -> &'static str {
        self.data.rtype()
    }

    /// The record as a zone-file line: `name. IN TYPE data`.
    pub fn zone_line(&self) -> String {
        format!("{}. IN {} {}", self.name, self.rtype(), self.data.zone())
    }
}

/// A reason to doubt the records before publishing them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsWarning {
    /// The server's name is not one the world can look up.
    #[error(
        "the server's hostname {0:?} is not a public DNS name: set `hostname` in the configuration first"
    )]
    HostnameNotPublic(String),
}

/// The records of one domain.
#[derive(Debug, Clone)]
pub struct DomainRecords {
    /// The domain.
    pub domain: Domain,
    /// Its records, in the order to publish them.
    pub records: Vec<DnsRecord>,
    /// How many DKIM keys it has (none: no DKIM record, make a key first).
    pub dkim_keys: usize,
    /// What to fix first.
    pub warnings: Vec<DnsWarning>,
}

impl DomainRecords {
    /// The records as zone-file lines with comments: the A-label of an
    /// IDN, the warnings, why each record is there, and where the DKIM
    /// record goes while there is no key (`praisani dns DOMAIN` and the
    /// admin API's zone text).
    pub fn zone_text(&self) -> String {
        let dom = self.domain.ascii();
        let mut out = vec![format!("; DNS records for {dom}")];
        if self.domain.is_idn() {
            out.push(format!(
                "; {dom} is the A-label of {}",
                self.domain.unicode()
            ));
        }
        for w in &self.warnings {
            out.push(format!("; WARNING: {w}"));
        }
        for r in &self.records {
            if r.purpose == Purpose::Dmarc && self.dkim_keys == 0 {
                out.push(format!(
                    "; DKIM: no key yet; make one with: praisani dkim generate {dom} (then run praisani dns {dom} again)"
                ));
            }
            if let Some(n) = &r.note {
                out.push(format!("; {n}"));
            }
            out.push(r.zone_line());
        }
        out.join("\n")
    }
}

/// Every record the hosted `domain` needs ([`records`]); a domain that is
/// not hosted is refused.
pub async fn for_hosted_domain(
    store: &dyn Store,
    domain: &Domain,
    server: &ServerNames,
    keys: &KeyStore,
) -> Result<DomainRecords, AdminError> {
    domains::ensure_hosted(store, domain).await?;
    Ok(records(domain, server, keys)?)
}

/// Every record `domain` needs, pointing at `server`, with a TXT record
/// for each of its keys in `keys`.
pub fn records(
    domain: &Domain,
    server: &ServerNames,
    keys: &KeyStore,
) -> Result<DomainRecords, DkimError> {
    let dom = domain.ascii();
    let host = Domain::parse(&server.hostname)
        .map(|h| h.ascii().to_string())
        .unwrap_or_else(|_| server.hostname.to_ascii_lowercase());
    let mut warnings = Vec::new();
    if !host.contains('.') || host == "localhost" || host.ends_with(".localhost") {
        warnings.push(DnsWarning::HostnameNotPublic(host.clone()));
    }
    let txt = |name: String, purpose: Purpose, value: String| {
        DnsRecord::new(name, purpose, RecordData::Txt(value))
    };

    let mut records = vec![
        DnsRecord::new(
            dom.to_string(),
            Purpose::Mx,
            RecordData::Mx {
                preference: 10,
                exchange: host.clone(),
            },
        )
        .note(format!(
            "Mail for {dom} comes to this server; {host} needs A/AAAA records with its public addresses."
        )),
    ];
    let spf_note = match &server.smarthost {
        None => "SPF: mail from this domain leaves only through its MX hosts.".to_string(),
        Some(smarthost) => format!(
            "SPF: mail leaves through the smarthost {smarthost}: add what its operator asks for (e.g. include:...) before -all."
        ),
    };
    records.push(txt(dom.to_string(), Purpose::Spf, "v=spf1 mx -all".into()).note(spf_note));

    let signers = keys.keys(dom)?;
    let mut dkim_note = Some(format!(
        "DKIM: the public key of each signing key ({} key(s) in {}).",
        signers.len(),
        keys.dir().display()
    ));
    for signer in &signers {
        let mut r = DnsRecord::dkim(signer)?;
        if let Some(n) = dkim_note.take() {
            r = r.note(n);
        }
        records.push(r);
    }

    records.push(
        txt(
            format!("_dmarc.{dom}"),
            Purpose::Dmarc,
            format!("v=DMARC1; p=quarantine; rua=mailto:postmaster@{dom}"),
        )
        .note("DMARC: if unsure, start with p=none and read the reports before tightening to quarantine."),
    );

    // What mail programs are told: the same host and ports as in the
    // auto-configuration documents.
    let client = &server.client_host;
    let srv = |service: &str, port: u16, target: &str| {
        DnsRecord::new(
            format!("{service}._tcp.{dom}"),
            Purpose::ClientService,
            RecordData::Srv {
                priority: 0,
                weight: if target == "." { 0 } else { 1 },
                port,
                target: target.to_string(),
            },
        )
    };
    records.push(
        srv("_submission", server.submission_port, client)
            .note("Service records for mail programs (RFC 6186, RFC 8314): submission and POP3."),
    );
    records.push(srv("_submissions", server.submissions_port, client));
    records.push(srv("_pop3", server.pop3_port, client));
    records.push(srv("_pop3s", server.pop3s_port, client));
    records.push(srv("_imap", 0, ".").note("IMAP is not offered (RFC 6186 §4: target \".\")."));
    records.push(srv("_imaps", 0, "."));
    let cname = |name: &str| {
        DnsRecord::new(
            format!("{name}.{dom}"),
            Purpose::Autoconfig,
            RecordData::Cname(client.clone()),
        )
    };
    records.push(cname("autoconfig").note(
        "Names mail programs ask for their settings (Thunderbird autoconfig, Outlook Autodiscover): \
         this server's listen.http / listen.https; for HTTPS the certificate must cover them, \
         else Outlook uses the SRV record below.",
    ));
    records.push(cname("autodiscover"));
    let mut autodiscover = srv("_autodiscover", server.https_port, client).note(
        "Outlook's Autodiscover over HTTPS at this server's own name (one certificate for every domain).",
    );
    autodiscover.purpose = Purpose::Autoconfig;
    records.push(autodiscover);

    Ok(DomainRecords {
        domain: domain.clone(),
        records,
        dkim_keys: signers.len(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(hostname: &str, smarthost: Option<&str>) -> ServerNames {
        ServerNames {
            hostname: hostname.into(),
            client_host: "mail.example.net".into(),
            smarthost: smarthost.map(str::to_string),
            submission_port: 587,
            submissions_port: 465,
            pop3_port: 110,
            pop3s_port: 995,
            https_port: 443,
        }
    }

    #[test]
    fn zone_and_value_forms() {
        let mx = RecordData::Mx {
            preference: 10,
            exchange: "mx.example.net".into(),
        };
        assert_eq!(
            (mx.value(), mx.zone()),
            ("10 mx.example.net".into(), "10 mx.example.net.".into())
        );
        let none = RecordData::Srv {
            priority: 0,
            weight: 0,
            port: 0,
            target: ".".into(),
        };
        assert_eq!(
            (none.value(), none.zone()),
            ("0 0 0 .".into(), "0 0 0 .".into())
        );
        let long = "a".repeat(300);
        let txt = RecordData::Txt(long.clone());
        assert_eq!(txt.value(), long);
        assert_eq!(
            txt.zone(),
            format!("\"{}\" \"{}\"", "a".repeat(255), "a".repeat(45))
        );
        assert_eq!(RecordData::Cname("h.example".into()).zone(), "h.example.");
    }

    #[test]
    fn a_domain_without_keys() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyStore::new(dir.path());
        let d = Domain::parse("ตัวอย่าง.ไทย").unwrap();
        let r = records(
            &d,
            &server("Mail.Example.NET", Some("relay.isp.test:587")),
            &keys,
        )
        .unwrap();
        assert!(r.warnings.is_empty());
        assert_eq!(r.dkim_keys, 0);
        let dom = d.ascii();
        assert_eq!(
            r.records[0].zone_line(),
            format!("{dom}. IN MX 10 mail.example.net.")
        );
        assert!(
            r.records[1]
                .note
                .as_deref()
                .unwrap()
                .contains("smarthost relay.isp.test:587")
        );
        assert_eq!(r.records[2].purpose, Purpose::Dmarc);
        let imap = r
            .records
            .iter()
            .find(|x| x.name.starts_with("_imap."))
            .unwrap();
        assert_eq!(
            imap.zone_line(),
            format!("_imap._tcp.{dom}. IN SRV 0 0 0 .")
        );
        let ad = r.records.last().unwrap();
        assert_eq!(
            ad.zone_line(),
            format!("_autodiscover._tcp.{dom}. IN SRV 0 1 443 mail.example.net.")
        );
    }

    #[test]
    fn keys_and_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyStore::new(dir.path());
        let d = Domain::parse("example.test").unwrap();
        keys.create("example.test", dkim::Algorithm::Ed25519Sha256, Some("one"))
            .unwrap();
        let r = records(&d, &server("localhost", None), &keys).unwrap();
        assert_eq!(
            r.warnings,
            vec![DnsWarning::HostnameNotPublic("localhost".into())]
        );
        assert_eq!(r.dkim_keys, 1);
        let k = &r.records[2];
        assert_eq!(
            (k.purpose, k.name.as_str()),
            (Purpose::Dkim, "one._domainkey.example.test")
        );
        assert!(
            k.note
                .as_deref()
                .unwrap()
                .starts_with("DKIM: the public key of each signing key (1 key(s) in ")
        );
        assert!(k.data.value().starts_with("v=DKIM1; k=ed25519; p="));
    }
}
