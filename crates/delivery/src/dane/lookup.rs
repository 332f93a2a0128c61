//! A small DNS stub for DANE: one question to a validating resolver, the
//! answer with its AD bit.
//!
//! Why not the server's hickory resolver: it asks without the DO or AD
//! bit unless it validates itself, and its answers (cached, merged) do not
//! keep the resolver's AD bit. Here every query sets AD and DO (RFC 6840
//! §5.7, RFC 3225), so a validating resolver says whether it validated;
//! a truncated UDP answer is asked again over TCP. The AD bit is only as
//! trustworthy as the path to the resolver: the README asks for one on
//! loopback (or a trusted network).

use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// EDNS payload size asked for (the DNS flag day 2020 value: no IP
/// fragmentation).
const EDNS_PAYLOAD: u16 = 1232;
/// Each server is asked this many times (UDP may lose a datagram).
const ROUNDS: u32 = 2;
/// Shortest wait for one answer, however many servers share the timeout.
const MIN_ATTEMPT: Duration = Duration::from_millis(500);

/// One answer.
#[derive(Debug)]
pub(super) struct Answer {
    /// The resolver set AD: everything in the answer (and the proof of a
    /// negative answer) was validated.
    pub secure: bool,
    /// The response code.
    pub rcode: ResponseCode,
    /// The answer section.
    pub answers: Vec<Record>,
}

impl Answer {
    /// The data of the answer records of type `rtype` (any owner: a CNAME
    /// chain's target records come after the CNAMEs).
    pub fn records(&self, rtype: RecordType) -> impl Iterator<Item = &RData> {
        self.answers
            .iter()
            .filter(move |r| r.record_type() == rtype)
            .map(|r| &r.data)
    }

    /// Where `name`'s CNAME chain in this answer ends (`name` itself when
    /// there is none). Bounded by the answer's length, so a loop ends.
    pub fn cname_target(&self, name: &Name) -> Name {
        let mut current = name.clone();
        for _ in 0..self.answers.len() {
            let next = self.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(target) if r.name == current => Some(target.0.clone()),
                _ => None,
            });
            match next {
                Some(target) if target != current => current = target,
                _ => break,
            }
        }
        current
    }
}

/// The servers to ask, in order, and the bound on one lookup.
#[derive(Debug)]
pub(super) struct Stub {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl Stub {
    /// Asks `servers` in order, each lookup bounded by `timeout`.
    pub fn new(servers: Vec<SocketAddr>, timeout: Duration) -> Stub {
        Stub { servers, timeout }
    }

    /// Asks the servers one after another (twice round) until one answers
    /// NOERROR or NXDOMAIN; otherwise the last server's reply or error.
    pub async fn query(&self, name: &Name, rtype: RecordType) -> Result<Answer, String> {
        let deadline = Instant::now() + self.timeout;
        let attempts = (self.servers.len() as u32 * ROUNDS).max(1);
        let each = (self.timeout / attempts).max(MIN_ATTEMPT);
        let mut last: Option<Result<Answer, String>> = None;
        for _ in 0..ROUNDS {
            for server in &self.servers {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return last.unwrap_or_else(|| Err("timed out".into()));
                }
                let result =
                    match tokio::time::timeout(each.min(left), ask(*server, name, rtype)).await {
                        Ok(Ok(answer)) => Ok(answer),
                        Ok(Err(e)) => Err(format!("{server}: {e}")),
                        Err(_) => Err(format!("{server}: timed out")),
                    };
                match result {
                    Ok(a) if matches!(a.rcode, ResponseCode::NoError | ResponseCode::NXDomain) => {
                        return Ok(a);
                    }
                    // SERVFAIL, REFUSED...: another server may know better;
                    // remembered in case none does.
                    other => last = Some(other),
                }
            }
        }
        last.unwrap_or_else(|| Err("no nameserver configured".into()))
    }
}

/// The query message: RD, AD, EDNS with DO.
fn request(id: u16, name: &Name, rtype: RecordType) -> Message {
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.metadata.authentic_data = true;
    msg.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    edns.set_dnssec_ok(true);
    msg.set_edns(edns);
    msg
}

/// Is `resp` the answer to our question `id`?
fn answers(resp: &Message, id: u16, name: &Name, rtype: RecordType) -> bool {
    resp.metadata.id == id
        && resp.metadata.message_type == MessageType::Response
        && resp
            .queries
            .first()
            .is_some_and(|q| q.name() == name && q.query_type() == rtype)
}

/// One question to one server: UDP, then TCP when truncated.
async fn ask(server: SocketAddr, name: &Name, rtype: RecordType) -> Result<Answer, String> {
    let id: u16 = rand::random();
    let bytes = request(id, name, rtype)
        .to_vec()
        .map_err(|e| format!("encoding the query: {e}"))?;
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    sock.connect(server).await.map_err(|e| e.to_string())?;
    sock.send(&bytes).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65535];
    let resp = loop {
        let n = sock.recv(&mut buf).await.map_err(|e| e.to_string())?;
        // Anything that does not parse or answers another question is
        // not ours (a late answer, a spoofing attempt): keep waiting.
        match Message::from_vec(&buf[..n]) {
            Ok(m) if answers(&m, id, name, rtype) => break m,
            _ => continue,
        }
    };
    let resp = if resp.metadata.truncation {
        ask_tcp(server, &bytes, id, name, rtype).await?
    } else {
        resp
    };
    Ok(Answer {
        secure: resp.metadata.authentic_data,
        rcode: resp.metadata.response_code,
        answers: resp.answers,
    })
}

/// The same question over TCP (two-byte length prefix, RFC 1035 §4.2.2).
async fn ask_tcp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
) -> Result<Message, String> {
    let mut tcp = TcpStream::connect(server)
        .await
        .map_err(|e| format!("TCP: {e}"))?;
    let len = u16::try_from(query.len()).map_err(|_| "query too long".to_string())?;
    let mut out = Vec::with_capacity(query.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(query);
    tcp.write_all(&out).await.map_err(|e| format!("TCP: {e}"))?;
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len)
        .await
        .map_err(|e| format!("TCP: {e}"))?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    tcp.read_exact(&mut buf)
        .await
        .map_err(|e| format!("TCP: {e}"))?;
    let resp = Message::from_vec(&buf).map_err(|e| format!("TCP answer: {e}"))?;
    if !answers(&resp, id, name, rtype) {
        return Err("TCP answer to another question".into());
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_asks_for_validation() {
        let name = Name::from_ascii("_25._tcp.mx.example.").unwrap();
        let bytes = request(7, &name, RecordType::TLSA).to_vec().unwrap();
        let back = Message::from_vec(&bytes).unwrap();
        assert!(back.metadata.authentic_data);
        assert!(back.metadata.recursion_desired);
        let edns = back.edns.expect("EDNS");
        assert!(edns.flags().dnssec_ok);
        assert_eq!(edns.max_payload(), EDNS_PAYLOAD);
        assert_eq!(back.queries[0].query_type(), RecordType::TLSA);
    }

    #[test]
    fn cname_chains_are_followed_and_loops_end() {
        use hickory_resolver::proto::rr::rdata::{A, CNAME};
        let n = |s: &str| Name::from_ascii(s).unwrap();
        let answer = Answer {
            secure: true,
            rcode: ResponseCode::NoError,
            answers: vec![
                Record::from_rdata(n("mx.a."), 60, RData::CNAME(CNAME(n("mx.b.")))),
                Record::from_rdata(n("mx.b."), 60, RData::CNAME(CNAME(n("mx.c.")))),
                Record::from_rdata(n("mx.c."), 60, RData::A(A::new(192, 0, 2, 1))),
            ],
        };
        assert_eq!(answer.cname_target(&n("mx.a.")), n("mx.c."));
        assert_eq!(answer.cname_target(&n("other.")), n("other."));
        let looping = Answer {
            secure: true,
            rcode: ResponseCode::NoError,
            answers: vec![
                Record::from_rdata(n("x."), 60, RData::CNAME(CNAME(n("y.")))),
                Record::from_rdata(n("y."), 60, RData::CNAME(CNAME(n("x.")))),
            ],
        };
        let end = looping.cname_target(&n("x."));
        assert!(end == n("x.") || end == n("y."));
    }
}
