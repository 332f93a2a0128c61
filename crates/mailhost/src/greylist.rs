//! Greylisting at RCPT (optional, off by default): the first attempt of a
//! (client network, sender, recipient) triplet is refused for now, a retry
//! after the delay passes, and what passed is remembered in the store, so
//! every PostgreSQL node agrees. The timings and the rules are
//! [`praisani_store::greylist`]'s.

use std::net::IpAddr;

use praisani_smtp::Reply;
use praisani_store::greylist::{GreyOutcome, GreyRules};
use praisani_store::{Store, StoreError};

/// The client's network as greylisting sees it: IPv4 `/24`, IPv6 `/64`
/// (a sending farm retries from a neighbouring address).
pub fn client_network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The triplet's key: the network, the return path (empty for `<>`) and
/// the recipient, both already in their canonical form.
pub fn triplet(network: &str, sender: &str, recipient: &str) -> String {
    format!(
        "{network}|{}|{}",
        sender.to_lowercase(),
        recipient.to_lowercase()
    )
}

/// One RCPT's greylisting: `None` to go ahead, or the `451 4.7.1` that
/// asks the client to come back.
pub async fn check(
    store: &dyn Store,
    rules: &GreyRules,
    client: IpAddr,
    sender: &str,
    recipient: &str,
) -> Result<Option<Reply>, StoreError> {
    let network = client_network(client);
    let key = triplet(&network, sender, recipient);
    let now = chrono::Utc::now().timestamp();
    Ok(match store.greylist(&key, &network, now, rules).await? {
        GreyOutcome::Pass => None,
        GreyOutcome::Wait { retry_in } => {
            tracing::info!(%client, sender, recipient, retry_in, "greylisted");
            Some(Reply::new(
                451,
                "4.7.1",
                format!(
                    "Greylisted, please try again in {} seconds",
                    retry_in.max(1)
                ),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(
            client_network("192.0.2.77".parse().unwrap()),
            "192.0.2.0/24"
        );
        assert_eq!(
            client_network("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            triplet("192.0.2.0/24", "Anna@Sender.test", "B@example.test"),
            "192.0.2.0/24|anna@sender.test|b@example.test"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn first_attempts_get_451_and_retries_after_the_delay_pass() {
        let dir = tempfile::tempdir().unwrap();
        let store = praisani_store::EmbeddedStore::open(dir.path()).unwrap();
        let client: IpAddr = "192.0.2.9".parse().unwrap();
        let waiting = GreyRules::default();
        let r = check(&store, &waiting, client, "a@s.test", "b@example.test")
            .await
            .unwrap()
            .expect("first attempt refused");
        assert_eq!(r.code, 451);
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert!(
            text.contains("4.7.1 Greylisted, please try again in 300 seconds"),
            "{text}"
        );
        // A neighbour in the same /24 retrying is the same triplet.
        let neighbour: IpAddr = "192.0.2.10".parse().unwrap();
        assert!(
            check(&store, &waiting, neighbour, "A@s.test", "b@example.test")
                .await
                .unwrap()
                .is_some()
        );
        let no_delay = GreyRules {
            delay: 0,
            ..GreyRules::default()
        };
        assert_eq!(
            check(&store, &no_delay, neighbour, "a@s.test", "b@example.test")
                .await
                .unwrap(),
            None
        );
    }
}
