//! A DNS client for what mail routing and its checks need: MX, A and AAAA, TLSA, TXT. Messages
//! are encoded and decoded by hickory-proto; the I/O is here, over UDP with a deadline on every
//! read, and over TCP when an answer comes truncated. A reply counts only when its ID and its
//! question are the ones asked (anything else on the socket is dropped), and no answer is
//! read past 64 KiB.
//!
//! The resolver's AD bit is kept: whether it says it validated the answer with DNSSEC. Every
//! query sets AD and DO, which is how a stub asks a validating resolver for that bit (RFC 6840
//! §5.7). This client does not validate signatures itself; it reports what the resolver asserts, which is
//! what a sending MTA relies on (RFC 7672 §2.1: a validating resolver on a trusted path).
//!
//! Why not hickory-resolver: it runs on an async runtime this program has no other use for,
//! and its lookups hand back records without the header of the answer, where the AD bit is.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The largest answer read, over UDP or TCP.
const MAX_ANSWER: usize = 64 * 1024;
/// The UDP payload size announced with EDNS (what fits without fragmentation).
const UDP_PAYLOAD: u16 = 1232;

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("{0:?} is not a valid domain name")]
    Name(String),
    #[error("no DNS server: {0}")]
    NoServer(String),
    #[error("the DNS server {server} did not answer within {secs:.1} s")]
    Timeout { server: SocketAddr, secs: f64 },
    #[error("DNS over {server}: {why}")]
    Io { server: SocketAddr, why: String },
    #[error("the DNS server {server} sent a malformed answer: {why}")]
    Malformed { server: SocketAddr, why: String },
    /// SERVFAIL, REFUSED …: the name's answer is unknown (not the same as it not existing).
    #[error("the DNS server {server} answered {rcode} for {name} {rtype}")]
    Failed {
        server: SocketAddr,
        name: String,
        rtype: String,
        rcode: String,
    },
}

/// The records of one type for a name, and what the resolver said about them.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The name does not exist (NXDOMAIN); then `records` is empty.
    pub nxdomain: bool,
    /// The resolver says it validated the answer with DNSSEC (the AD bit).
    pub authentic: bool,
    /// The records of the type asked (CNAMEs on the way left out).
    pub records: Vec<Record>,
}

/// Where mail for a domain goes (RFC 5321 §5.1, RFC 7505).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxHosts {
    /// MX records: (preference, host), the best (lowest) first; equal preferences keep the
    /// order the server gave.
    Hosts(Vec<(u16, String)>),
    /// No MX record: the domain itself takes mail, if it has an address (implicit MX).
    Implicit,
    /// A single MX `0 .`: the domain accepts no mail (RFC 7505).
    Null,
    /// The domain does not exist.
    NoDomain,
}

/// A DNS server to ask, and how long to wait for it.
#[derive(Clone, Debug)]
pub struct Resolver {
    server: SocketAddr,
    timeout: Duration,
}

impl Resolver {
    /// `server` (`--resolver`), or else the first `nameserver` of /etc/resolv.conf (port 53).
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Resolver, DnsError> {
        let server = match server {
            Some(s) => s,
            None => system_server()?,
        };
        Ok(Resolver { server, timeout })
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The records of `rtype` for `name`.
    pub fn query(&self, name: &str, rtype: RecordType) -> Result<Answer, DnsError> {
        let qname = Name::from_str(name)
            .ok()
            .and_then(|n| n.append_domain(&Name::root()).ok())
            .ok_or_else(|| DnsError::Name(name.to_string()))?;
        let id = query_id();
        let mut msg = Message::new();
        msg.set_id(id)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .set_authentic_data(true);
        msg.add_query(Query::query(qname.clone(), rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_PAYLOAD).set_dnssec_ok(true);
        msg.set_edns(edns);
        let wire = msg.to_vec().map_err(|e| self.malformed(e.to_string()))?;
        let deadline = Instant::now()
            .checked_add(self.timeout)
            .unwrap_or_else(Instant::now);
        let mut answer = self.udp(&wire, id, &qname, rtype, deadline)?;
        if answer.truncated() {
            answer = self.tcp(&wire, id, &qname, rtype, deadline)?;
        }
        let rcode = answer.response_code();
        if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
            return Err(DnsError::Failed {
                server: self.server,
                name: name.to_string(),
                rtype: rtype.to_string(),
                rcode: rcode.to_string(),
            });
        }
        Ok(Answer {
            nxdomain: rcode == ResponseCode::NXDomain,
            authentic: answer.authentic_data(),
            records: answer
                .answers()
                .iter()
                .filter(|r| r.record_type() == rtype)
                .cloned()
                .collect(),
        })
    }

    /// Where mail for `domain` goes.
    pub fn mx(&self, domain: &str) -> Result<(MxHosts, bool), DnsError> {
        let a = self.query(domain, RecordType::MX)?;
        if a.nxdomain {
            return Ok((MxHosts::NoDomain, a.authentic));
        }
        let mut hosts: Vec<(u16, String)> = a
            .records
            .iter()
            .filter_map(|r| match r.data() {
                RData::MX(mx) => Some((mx.preference(), mx.exchange().to_ascii())),
                _ => None,
            })
            .collect();
        if hosts.is_empty() {
            return Ok((MxHosts::Implicit, a.authentic));
        }
        if hosts.len() == 1 && hosts.iter().all(|(_, h)| h == ".") {
            return Ok((MxHosts::Null, a.authentic));
        }
        hosts.sort_by_key(|(p, _)| *p);
        for (_, h) in &mut hosts {
            if h.len() > 1 {
                h.truncate(h.trim_end_matches('.').len());
            }
        }
        Ok((MxHosts::Hosts(hosts), a.authentic))
    }

    /// The addresses of `host`: A records, then AAAA.
    pub fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let mut out = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            for r in self.query(host, rtype)?.records {
                match r.data() {
                    RData::A(a) => out.push(IpAddr::V4(a.0)),
                    RData::AAAA(a) => out.push(IpAddr::V6(a.0)),
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// The TLSA records of `_PORT._tcp.HOST`, as wire RDATA, and the AD bit.
    pub fn tlsa(&self, port: u16, host: &str) -> Result<(Vec<Vec<u8>>, bool), DnsError> {
        let a = self.query(&format!("_{port}._tcp.{host}"), RecordType::TLSA)?;
        let mut out = Vec::new();
        for r in &a.records {
            if let RData::TLSA(t) = r.data() {
                let mut rdata = vec![
                    u8::from(t.cert_usage()),
                    u8::from(t.selector()),
                    u8::from(t.matching()),
                ];
                rdata.extend_from_slice(t.cert_data());
                out.push(rdata);
            }
        }
        Ok((out, a.authentic))
    }

    /// The TXT records of `name`, each as its strings joined, and the AD bit.
    pub fn txt(&self, name: &str) -> Result<(Vec<String>, bool), DnsError> {
        let a = self.query(name, RecordType::TXT)?;
        let texts = a
            .records
            .iter()
            .filter_map(|r| match r.data() {
                RData::TXT(t) => Some(
                    t.txt_data()
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        Ok((texts, a.authentic))
    }

    fn malformed(&self, why: String) -> DnsError {
        DnsError::Malformed {
            server: self.server,
            why,
        }
    }

    fn io(&self, e: std::io::Error) -> DnsError {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            return self.timeout_error();
        }
        DnsError::Io {
            server: self.server,
            why: e.to_string(),
        }
    }

    fn timeout_error(&self) -> DnsError {
        DnsError::Timeout {
            server: self.server,
            secs: self.timeout.as_secs_f64(),
        }
    }

    fn left(&self, deadline: Instant) -> Result<Duration, DnsError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timeout_error());
        }
        Ok(left.max(Duration::from_millis(1)))
    }

    /// Whether `m` answers the query sent (ID, a response, the same question).
    fn answers(m: &Message, id: u16, qname: &Name, rtype: RecordType) -> bool {
        m.id() == id
            && m.message_type() == MessageType::Response
            && m.queries().len() == 1
            && m.queries()
                .iter()
                .all(|q| q.query_type() == rtype && q.name().to_lowercase() == qname.to_lowercase())
    }

    fn udp(
        &self,
        wire: &[u8],
        id: u16,
        qname: &Name,
        rtype: RecordType,
        deadline: Instant,
    ) -> Result<Message, DnsError> {
        let local: SocketAddr = match self.server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let sock = UdpSocket::bind(local).map_err(|e| self.io(e))?;
        sock.connect(self.server).map_err(|e| self.io(e))?;
        sock.send(wire).map_err(|e| self.io(e))?;
        let mut buf = vec![0u8; MAX_ANSWER];
        loop {
            sock.set_read_timeout(Some(self.left(deadline)?))
                .map_err(|e| self.io(e))?;
            let n = sock.recv(&mut buf).map_err(|e| self.io(e))?;
            // What does not decode or does not answer this query is dropped, not believed.
            if let Ok(m) = Message::from_vec(buf.get(..n).unwrap_or(&[])) {
                if Self::answers(&m, id, qname, rtype) {
                    return Ok(m);
                }
            }
        }
    }

    fn tcp(
        &self,
        wire: &[u8],
        id: u16,
        qname: &Name,
        rtype: RecordType,
        deadline: Instant,
    ) -> Result<Message, DnsError> {
        let mut s = TcpStream::connect_timeout(&self.server, self.left(deadline)?)
            .map_err(|e| self.io(e))?;
        let len = u16::try_from(wire.len()).map_err(|_| self.malformed("query too long".into()))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(wire);
        s.set_write_timeout(Some(self.left(deadline)?))
            .map_err(|e| self.io(e))?;
        s.write_all(&framed).map_err(|e| self.io(e))?;
        let mut read_exact = |buf: &mut [u8]| -> Result<(), DnsError> {
            let mut got = 0usize;
            while got < buf.len() {
                s.set_read_timeout(Some(self.left(deadline)?))
                    .map_err(|e| self.io(e))?;
                match s.read(buf.get_mut(got..).unwrap_or(&mut [])) {
                    Ok(0) => return Err(self.malformed("the connection closed early".into())),
                    Ok(n) => got = got.saturating_add(n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(self.io(e)),
                }
            }
            Ok(())
        };
        let mut len = [0u8; 2];
        read_exact(&mut len)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        read_exact(&mut body)?;
        let m = Message::from_vec(&body).map_err(|e| self.malformed(e.to_string()))?;
        if !Self::answers(&m, id, qname, rtype) {
            return Err(self.malformed("the answer is not for the question asked".into()));
        }
        Ok(m)
    }
}

/// The first `nameserver` of /etc/resolv.conf.
fn system_server() -> Result<SocketAddr, DnsError> {
    let text = std::fs::read("/etc/resolv.conf")
        .map_err(|e| DnsError::NoServer(format!("/etc/resolv.conf: {e}")))?;
    let conf = resolv_conf::Config::parse(&text)
        .map_err(|e| DnsError::NoServer(format!("/etc/resolv.conf: {e}")))?;
    conf.nameservers
        .first()
        .map(|ns| SocketAddr::new(IpAddr::from(ns.clone()), 53))
        .ok_or_else(|| DnsError::NoServer("/etc/resolv.conf names no nameserver".into()))
}

/// A random query ID (RFC 5452: not guessable).
fn query_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = rustix::rand::getrandom(&mut b[..], rustix::rand::GetRandomFlags::empty());
    u16::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{tlsa, MX, TLSA, TXT};
    use hickory_proto::rr::rdata::{A, AAAA};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A DNS server on loopback answering from `answer`; counts the queries it got.
    fn server(
        answer: impl Fn(&Message) -> Vec<Message> + Send + 'static,
    ) -> (SocketAddr, Arc<AtomicUsize>) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                seen.fetch_add(1, Ordering::SeqCst);
                let q = Message::from_vec(&buf[..n]).unwrap();
                for reply in answer(&q) {
                    let _ = sock.send_to(&reply.to_vec().unwrap(), from);
                }
            }
        });
        (addr, count)
    }

    fn reply(q: &Message, records: Vec<Record>, ad: bool) -> Message {
        let mut m = Message::new();
        m.set_id(q.id())
            .set_message_type(MessageType::Response)
            .set_op_code(OpCode::Query)
            .set_authentic_data(ad);
        m.add_queries(q.queries().to_vec());
        m.add_answers(records);
        m
    }

    fn name(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn resolver(addr: SocketAddr) -> Resolver {
        Resolver::new(Some(addr), Duration::from_secs(100)).unwrap()
    }

    #[test]
    fn mx_hosts_best_first_with_addresses_and_the_ad_bit() {
        let (addr, _) = server(|q| {
            let qn = q.queries()[0].name().clone();
            let records = match q.queries()[0].query_type() {
                RecordType::MX => vec![
                    Record::from_rdata(
                        qn.clone(),
                        300,
                        RData::MX(MX::new(20, name("mx2.example.test."))),
                    ),
                    Record::from_rdata(
                        qn.clone(),
                        300,
                        RData::MX(MX::new(10, name("mx1.example.test."))),
                    ),
                ],
                RecordType::A => vec![Record::from_rdata(qn, 300, RData::A(A::new(127, 0, 0, 7)))],
                RecordType::AAAA => vec![Record::from_rdata(
                    qn,
                    300,
                    RData::AAAA(AAAA::new(0, 0, 0, 0, 0, 0, 0, 1)),
                )],
                _ => vec![],
            };
            vec![reply(q, records, true)]
        });
        let r = resolver(addr);
        let (mx, ad) = r.mx("example.test").unwrap();
        assert!(ad);
        assert_eq!(
            mx,
            MxHosts::Hosts(vec![
                (10, "mx1.example.test".into()),
                (20, "mx2.example.test".into())
            ])
        );
        assert_eq!(
            r.addresses("mx1.example.test").unwrap(),
            vec![
                "127.0.0.7".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
    }

    /// A validating resolver sets AD in its answer only for a query that asks for it, with AD
    /// or DO set (RFC 6840 §5.7, RFC 4035 §3.2.3): every query sets both, and RD.
    #[test]
    fn queries_ask_for_recursion_and_the_ad_bit() {
        let flags = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = flags.clone();
        let (addr, _) = server(move |q| {
            let dnssec_ok = q.extensions().as_ref().map(|e| e.flags().dnssec_ok);
            seen.lock().unwrap().push((
                q.recursion_desired(),
                q.authentic_data(),
                q.checking_disabled(),
                dnssec_ok,
            ));
            vec![reply(q, vec![], true)]
        });
        let r = resolver(addr);
        r.mx("example.test").unwrap();
        r.tlsa(25, "mx.example.test").unwrap();
        r.txt("_mta-sts.example.test").unwrap();
        r.addresses("mx.example.test").unwrap();
        let flags = flags.lock().unwrap();
        assert_eq!(flags.len(), 5);
        for f in flags.iter() {
            // (RD, AD, CD, DO): recursion, the AD bit asked for, validation not turned off.
            assert_eq!(*f, (true, true, false, Some(true)));
        }
    }

    #[test]
    fn implicit_null_and_missing_domains() {
        let (addr, _) = server(|q| {
            let qn = q.queries()[0].name().clone();
            let text = qn.to_ascii();
            if text.starts_with("null.") {
                vec![reply(
                    q,
                    vec![Record::from_rdata(
                        qn,
                        300,
                        RData::MX(MX::new(0, Name::root())),
                    )],
                    false,
                )]
            } else if text.starts_with("gone.") {
                let mut m = reply(q, vec![], false);
                m.set_response_code(ResponseCode::NXDomain);
                vec![m]
            } else if text.starts_with("broken.") {
                let mut m = reply(q, vec![], false);
                m.set_response_code(ResponseCode::ServFail);
                vec![m]
            } else {
                vec![reply(q, vec![], false)]
            }
        });
        let r = resolver(addr);
        assert_eq!(r.mx("null.test").unwrap(), (MxHosts::Null, false));
        assert_eq!(r.mx("gone.test").unwrap(), (MxHosts::NoDomain, false));
        assert_eq!(r.mx("plain.test").unwrap(), (MxHosts::Implicit, false));
        let e = r.mx("broken.test").unwrap_err().to_string();
        assert!(
            e.contains("SERVFAIL") || e.contains("Server Failure"),
            "{e}"
        );
    }

    #[test]
    fn answers_to_other_questions_are_dropped_and_the_real_one_taken() {
        let (addr, _) = server(|q| {
            let qn = q.queries()[0].name().clone();
            // A spoofed answer with a wrong ID, one for another name, then the real one.
            let mut wrong_id = reply(q, vec![], false);
            wrong_id.set_id(q.id().wrapping_add(1));
            let mut other = reply(q, vec![], false);
            other.queries_mut()[0].set_name(name("other.test."));
            let txt = Record::from_rdata(
                qn,
                60,
                RData::TXT(TXT::new(vec!["v=STSv1; ".into(), "id=abc".into()])),
            );
            vec![wrong_id, other, reply(q, vec![txt], false)]
        });
        let (texts, ad) = resolver(addr).txt("_mta-sts.example.test").unwrap();
        assert_eq!(texts, vec!["v=STSv1; id=abc"]);
        assert!(!ad);
    }

    #[test]
    fn tlsa_records_come_as_rdata() {
        let (addr, _) = server(|q| {
            let qn = q.queries()[0].name().clone();
            assert_eq!(qn.to_ascii(), "_25._tcp.mx.example.test.");
            let t = TLSA::new(
                tlsa::CertUsage::DaneEe,
                tlsa::Selector::Spki,
                tlsa::Matching::Sha256,
                vec![0xab; 32],
            );
            vec![reply(
                q,
                vec![Record::from_rdata(qn, 60, RData::TLSA(t))],
                true,
            )]
        });
        let (records, ad) = resolver(addr).tlsa(25, "mx.example.test").unwrap();
        assert!(ad);
        let mut want = vec![3, 1, 1];
        want.extend([0xab; 32]);
        assert_eq!(records, vec![want]);
    }

    #[test]
    fn a_truncated_answer_is_asked_again_over_tcp() {
        let (addr, udp_queries) = server(|q| {
            let mut m = reply(q, vec![], false);
            m.set_truncated(true);
            vec![m]
        });
        let tcp = std::net::TcpListener::bind(addr).unwrap();
        std::thread::spawn(move || {
            let (mut c, _) = tcp.accept().unwrap();
            let mut len = [0u8; 2];
            c.read_exact(&mut len).unwrap();
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
            c.read_exact(&mut body).unwrap();
            let q = Message::from_vec(&body).unwrap();
            let qn = q.queries()[0].name().clone();
            let many: Vec<Record> = (0..40)
                .map(|i| {
                    Record::from_rdata(
                        qn.clone(),
                        60,
                        RData::MX(MX::new(i, name(&format!("mx{i}.example.test.")))),
                    )
                })
                .collect();
            let wire = reply(&q, many, true).to_vec().unwrap();
            c.write_all(&(wire.len() as u16).to_be_bytes()).unwrap();
            c.write_all(&wire).unwrap();
        });
        let (mx, ad) = resolver(addr).mx("big.example.test").unwrap();
        assert!(ad);
        assert_eq!(udp_queries.load(Ordering::SeqCst), 1);
        let MxHosts::Hosts(hosts) = mx else {
            panic!("{mx:?}")
        };
        assert_eq!(hosts.len(), 40);
        assert_eq!(hosts[0], (0, "mx0.example.test".to_string()));
    }

    #[test]
    fn a_silent_server_times_out() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let r = Resolver::new(Some(sock.local_addr().unwrap()), Duration::from_millis(50)).unwrap();
        assert!(matches!(r.mx("x.test"), Err(DnsError::Timeout { .. })));
        assert!(matches!(
            r.query("bad..name", RecordType::MX),
            Err(DnsError::Name(_))
        ));
    }
}
