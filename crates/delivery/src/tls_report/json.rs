//! The JSON of TLS-RPT (RFC 8460 section 4): what the store keeps of each
//! result (the report's `policy` object and a failure's details, as JSON
//! texts, so equal ones are counted together) and one domain's day as a
//! report.

use super::{DAY, ReportSettings, TlsResult};
use praisani_store::tls_report::{TlsDay, TlsEvent};
use serde_json::{Map, Value, json};

/// The stored result of a successful session.
pub const SUCCESS: &str = "success";

/// The store's event for one result at `now` (Unix seconds): the policy
/// object of the report and the result (`success`, or the failure's
/// details without their count).
pub fn event(r: &TlsResult, now: i64) -> TlsEvent {
    let domain = r.policy_domain.trim_end_matches('.').to_ascii_lowercase();
    let mut policy = Map::new();
    policy.insert("policy-type".into(), r.policy_type.as_str().into());
    if !r.policy_string.is_empty() {
        policy.insert("policy-string".into(), json!(r.policy_string));
    }
    policy.insert("policy-domain".into(), domain.clone().into());
    if !r.mx_host.is_empty() {
        policy.insert("mx-host".into(), json!(r.mx_host));
    }
    let result = match r.failure {
        None => SUCCESS.to_string(),
        Some(f) => {
            let mut d = Map::new();
            d.insert("result-type".into(), f.as_str().into());
            if let Some(ip) = r.sending_ip {
                d.insert("sending-mta-ip".into(), ip.to_string().into());
            }
            if let Some(mx) = &r.receiving_mx {
                d.insert("receiving-mx-hostname".into(), mx.clone().into());
            }
            if let Some(ip) = r.receiving_ip {
                d.insert("receiving-ip".into(), ip.to_string().into());
            }
            Value::Object(d).to_string()
        }
    };
    TlsEvent {
        day: now.div_euclid(DAY),
        domain,
        policy: Value::Object(policy).to_string(),
        result,
        count: 1,
    }
}

/// The report of `day` with id `report_id`, and how many sessions it
/// counts. Stored rows that do not read back are left out (and logged).
pub fn report(settings: &ReportSettings, day: &TlsDay, report_id: &str) -> (Value, u64) {
    let start = day.day * DAY;
    let mut policies: Vec<Value> = Vec::new();
    let mut sessions = 0;
    let mut rows = day.rows.iter().peekable();
    while let Some((policy_text, _, _)) = rows.peek() {
        let policy_text = policy_text.clone();
        let mut ok = 0u64;
        let mut failed = 0u64;
        let mut details = Vec::new();
        while let Some((_, result, count)) = rows.next_if(|(p, _, _)| *p == policy_text) {
            if result == SUCCESS {
                ok += count;
            } else if let Ok(Value::Object(mut d)) = serde_json::from_str::<Value>(result) {
                failed += count;
                d.insert("failed-session-count".into(), (*count).into());
                details.push(Value::Object(d));
            } else {
                tracing::warn!(domain = %day.domain, "unreadable stored TLS-RPT result left out");
            }
        }
        let Ok(policy @ Value::Object(_)) = serde_json::from_str::<Value>(&policy_text) else {
            tracing::warn!(domain = %day.domain, "unreadable stored TLS-RPT policy left out");
            continue;
        };
        sessions += ok + failed;
        let mut entry = Map::new();
        entry.insert("policy".into(), policy);
        entry.insert(
            "summary".into(),
            json!({
                "total-successful-session-count": ok,
                "total-failure-session-count": failed,
            }),
        );
        if !details.is_empty() {
            entry.insert("failure-details".into(), Value::Array(details));
        }
        policies.push(Value::Object(entry));
    }
    if day.dropped > 0 {
        tracing::warn!(
            domain = %day.domain,
            sessions = day.dropped,
            "TLS-RPT report was full (tls_reports.max_records): sessions left out"
        );
    }
    let report = json!({
        "organization-name": settings.org_name,
        "date-range": {
            "start-datetime": datetime(start),
            "end-datetime": datetime(start + DAY - 1),
        },
        "contact-info": settings.contact,
        "report-id": report_id,
        "policies": policies,
    });
    (report, sessions)
}

/// RFC 3339 date-time in UTC.
fn datetime(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls_report::{PolicyType, ResultType};

    fn result(failure: Option<ResultType>) -> TlsResult {
        TlsResult {
            policy_type: PolicyType::Sts,
            policy_domain: "Remote.Test".into(),
            policy_string: vec!["version: STSv1".into(), "mode: enforce".into()],
            mx_host: vec!["*.remote.test".into()],
            sending_ip: Some("192.0.2.1".parse().unwrap()),
            receiving_mx: Some("mx1.remote.test".into()),
            receiving_ip: Some("192.0.2.9".parse().unwrap()),
            failure,
            detail: "whatever".into(),
        }
    }

    fn settings() -> ReportSettings {
        ReportSettings {
            org_name: "Example Hosting".into(),
            from: "tlsrpt@mail.example".into(),
            contact: "postmaster@mail.example".into(),
            max_rows: 10,
            max_domains: 10,
            send_delay: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn events_of_one_policy_share_its_text_and_successes_one_result() {
        let a = event(&result(None), 86_400 * 3 + 5);
        let b = event(&result(None), 86_400 * 3 + 99);
        assert_eq!(a, b);
        assert_eq!((a.day, a.domain.as_str()), (3, "remote.test"));
        assert_eq!(a.result, SUCCESS);
        let f = event(&result(Some(ResultType::CertificateHostMismatch)), 0);
        assert_eq!(f.policy, a.policy);
        assert!(
            f.result.contains("certificate-host-mismatch"),
            "{}",
            f.result
        );
    }

    #[test]
    fn a_day_becomes_a_report_with_summary_and_details() {
        let ok = event(&result(None), 0);
        let bad = event(&result(Some(ResultType::CertificateExpired)), 0);
        let day = TlsDay {
            domain: "remote.test".into(),
            day: 20_000,
            rows: vec![
                (ok.policy.clone(), bad.result.clone(), 2),
                (ok.policy.clone(), ok.result.clone(), 5),
                ("{broken".into(), SUCCESS.into(), 1),
            ],
            dropped: 0,
        };
        let (r, sessions) = report(&settings(), &day, "id-1");
        assert_eq!(sessions, 7);
        assert_eq!(r["organization-name"], "Example Hosting");
        assert_eq!(r["contact-info"], "postmaster@mail.example");
        assert_eq!(r["report-id"], "id-1");
        assert_eq!(r["date-range"]["start-datetime"], "2024-10-04T00:00:00Z");
        assert_eq!(r["date-range"]["end-datetime"], "2024-10-04T23:59:59Z");
        let p = &r["policies"];
        assert_eq!(p.as_array().unwrap().len(), 1);
        assert_eq!(p[0]["policy"]["policy-type"], "sts");
        assert_eq!(p[0]["policy"]["policy-domain"], "remote.test");
        assert_eq!(p[0]["policy"]["mx-host"][0], "*.remote.test");
        assert_eq!(p[0]["summary"]["total-successful-session-count"], 5);
        assert_eq!(p[0]["summary"]["total-failure-session-count"], 2);
        let d = &p[0]["failure-details"][0];
        assert_eq!(d["result-type"], "certificate-expired");
        assert_eq!(d["receiving-mx-hostname"], "mx1.remote.test");
        assert_eq!(d["receiving-ip"], "192.0.2.9");
        assert_eq!(d["sending-mta-ip"], "192.0.2.1");
        assert_eq!(d["failed-session-count"], 2);
    }
}
