//! A tiny authoritative DNS server for tests: UDP on 127.0.0.1, answers from
//! a table of records, follows CNAMEs within the table, NXDOMAIN for unknown
//! names, SERVFAIL for anything under `servfail.test`, silence for anything
//! under `slow.test`. Every question is logged so tests can check what was
//! (not) asked.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, SOA, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

fn name(s: &str) -> Name {
    let fq = if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    };
    Name::from_ascii(fq).expect("valid test name")
}

fn key(n: &Name) -> String {
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// The records the server knows.
#[derive(Default, Clone)]
pub struct Zone {
    records: Vec<(String, RData)>,
    silent: Vec<String>,
}

impl Zone {
    pub fn new() -> Self {
        Zone::default()
    }

    fn add(mut self, owner: &str, rdata: RData) -> Self {
        self.records.push((owner.to_ascii_lowercase(), rdata));
        self
    }

    pub fn mx(self, owner: &str, preference: u16, exchange: &str) -> Self {
        let exchange = if exchange == "." {
            Name::root()
        } else {
            name(exchange)
        };
        self.add(owner, RData::MX(MX::new(preference, exchange)))
    }

    pub fn a(self, owner: &str, ip: &str) -> Self {
        let ip: Ipv4Addr = ip.parse().expect("IPv4");
        self.add(owner, RData::A(A(ip)))
    }

    pub fn aaaa(self, owner: &str, ip: &str) -> Self {
        let ip: Ipv6Addr = ip.parse().expect("IPv6");
        self.add(owner, RData::AAAA(AAAA(ip)))
    }

    pub fn cname(self, owner: &str, target: &str) -> Self {
        self.add(owner, RData::CNAME(CNAME(name(target))))
    }

    /// A TXT record holding `text`, cut into character-strings of at most
    /// 255 bytes as a zone file would have to (long DKIM keys need several).
    pub fn txt(self, owner: &str, text: &str) -> Self {
        let strings: Vec<&[u8]> = text.as_bytes().chunks(255).collect();
        let strings = if strings.is_empty() {
            vec![&b""[..]]
        } else {
            strings
        };
        self.add(owner, RData::TXT(TXT::from_bytes(strings)))
    }

    /// A TXT record made of exactly these character-strings.
    pub fn txt_strings(self, owner: &str, strings: &[&str]) -> Self {
        let strings = strings.iter().map(|s| s.as_bytes()).collect();
        self.add(owner, RData::TXT(TXT::from_bytes(strings)))
    }

    /// Questions about exactly `owner` get no answer (a timeout), like
    /// everything under `slow.test`.
    pub fn silent(mut self, owner: &str) -> Self {
        self.silent.push(owner.to_ascii_lowercase());
        self
    }

    /// A PTR record (`owner` is the reverse name, e.g.
    /// `1.0.0.127.in-addr.arpa`).
    pub fn ptr(self, owner: &str, target: &str) -> Self {
        self.add(owner, RData::PTR(PTR(name(target))))
    }

    /// A name exists when it owns records or has a descendant that does
    /// (an "empty non-terminal" answers NODATA, not NXDOMAIN).
    fn exists(&self, owner: &str) -> bool {
        let suffix = format!(".{owner}");
        self.records
            .iter()
            .any(|(o, _)| o == owner || o.ends_with(&suffix))
    }

    fn find(&self, owner: &str, rtype: RecordType) -> Vec<RData> {
        self.records
            .iter()
            .filter(|(o, r)| o == owner && r.record_type() == rtype)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// The response to one query, or None to stay silent.
    fn answer(&self, request: &Message) -> Option<Message> {
        let mut response = Message::response(request.metadata.id, OpCode::Query);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.edns = request.edns.clone();
        let Some(query) = request.queries.first() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return Some(response);
        };
        response.add_query(query.clone());
        let qname = key(&query.name);
        let under = |zone: &str| qname == zone || qname.ends_with(&format!(".{zone}"));
        if under("slow.test") || self.silent.contains(&qname) {
            return None;
        }
        if under("servfail.test") {
            response.metadata.response_code = ResponseCode::ServFail;
            return Some(response);
        }

        // Follow CNAMEs, as an authoritative server does within its zone.
        let mut current = qname.clone();
        for _ in 0..8 {
            if query.query_type == RecordType::CNAME {
                break;
            }
            let Some(RData::CNAME(target)) = self.find(&current, RecordType::CNAME).pop() else {
                break;
            };
            response.add_answer(Record::from_rdata(
                name(&current),
                300,
                RData::CNAME(target.clone()),
            ));
            current = key(&target.0);
        }
        for rdata in self.find(&current, query.query_type) {
            response.add_answer(Record::from_rdata(name(&current), 300, rdata));
        }
        if response.answers.is_empty() || !self.exists(&current) {
            if !self.exists(&current) {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            let soa = SOA::new(
                name("ns.test"),
                name("hostmaster.test"),
                1,
                3600,
                600,
                86400,
                60,
            );
            response.add_authority(Record::from_rdata(name("test"), 60, RData::SOA(soa)));
        }
        Some(response)
    }
}

/// A running server; stops when dropped.
pub struct TestDns {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<(String, RecordType)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestDns {
    pub fn start(zone: Zone) -> TestDns {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("local addr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let log = Arc::clone(&log);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((len, peer)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(request) = Message::from_vec(&buf[..len]) else {
                        continue;
                    };
                    if let Some(q) = request.queries.first() {
                        log.lock().unwrap().push((key(&q.name), q.query_type));
                    }
                    if let Some(response) = zone.answer(&request) {
                        let bytes = response.to_vec().expect("encode response");
                        let _ = socket.send_to(&bytes, peer);
                    }
                }
            })
        };
        TestDns {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// Every (name, type) asked so far.
    pub fn queries(&self) -> Vec<(String, RecordType)> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
