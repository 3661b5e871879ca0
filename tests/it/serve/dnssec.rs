//! A DNSSEC-signed zone on loopback and a validating resolver in front of it, for
//! `mailtalk check` and MX routing.
//!
//! The authoritative server here holds the zone `test.` and signs what it serves as it is asked
//! (Ed25519, RFC 8080): the zone's DNSKEY, an RRSIG over every RRset it is authoritative for,
//! and NSEC records (RFC 4034 §4, RFC 4035 §3.1.3) for every name or type that is not there.
//! Zones delegated from `test.` without a DS record are served unsigned: an insecure island, as
//! the parent's signed NSEC at the delegation proves. Names listed as bogus get signatures that
//! do not verify.
//!
//! The resolver is an `unbound` of the test's own, on its own loopback port, with the zone's key
//! as its only trust anchor and stub zones pointing at the server above. It validates the
//! answers and sets the AD bit itself: nothing in the server sets it. Without unbound the tests
//! that need it say they are skipped, and fail instead under `CI` or `MAILTALK_REQUIRE=1`.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, NS, NULL, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;

use crate::support::RUN_LIMIT;

/// The signed zone; every name the tests use is in it or in a zone delegated from it.
pub const APEX: &str = "test.";
/// The TTL of every record served.
const TTL: u32 = 60;
/// RRSIG validity, 2020-01-01 to 2080-01-01. The two are compared in serial number arithmetic
/// (RFC 4034 §3.1.5, RFC 1982), so they must lie less than 2^31 seconds (68 years) apart; the
/// resolver is also told to judge them as of 2030 (see `val-override-date`), so no clock
/// decides anything.
const INCEPTION: u32 = 1_577_836_800;
const EXPIRATION: u32 = 3_471_292_800;
/// DNSSEC algorithm 15, Ed25519 (RFC 8080).
const ED25519: u8 = 15;
/// The UDP payload the server answers within when a query does not say (RFC 1035).
const PLAIN_UDP: usize = 512;

/// The records the tests serve, as (owner name, data); they may change between runs (then
/// [`Unbound::flush`] makes the resolver forget what it learned).
pub type Records = Arc<Mutex<Vec<(String, RData)>>>;

/// The zone's one key (a combined signing key, flags 257) and its RDATA.
struct Key {
    pkey: PKey<Private>,
    dnskey: Vec<u8>,
    tag: u16,
}

impl Key {
    fn new() -> Key {
        let pkey = PKey::generate_ed25519().unwrap();
        // Flags 257: a zone key and a secure entry point; protocol 3 (RFC 4034 §2.1).
        let mut dnskey = vec![1, 1, 3, ED25519];
        dnskey.extend(pkey.raw_public_key().unwrap());
        let tag = key_tag(&dnskey);
        Key { pkey, dnskey, tag }
    }

    /// The trust anchor for unbound: the DNSKEY in presentation form.
    fn anchor(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.dnskey[4..]);
        format!("{APEX} DNSKEY 257 3 {ED25519} {b64}")
    }

    /// The RRSIG RDATA over the RRset (`owner`, `rtype`) with the RDATAs `rdatas` (RFC 4034
    /// §3.1.8.1: the RRSIG fields without the signature, then each RR in canonical form and
    /// order).
    fn rrsig(&self, owner: &str, rtype: RecordType, rdatas: &[Vec<u8>], broken: bool) -> Vec<u8> {
        let code = u16::from(rtype).to_be_bytes();
        let mut rdata = Vec::new();
        rdata.extend(code);
        rdata.push(ED25519);
        rdata.push(u8::try_from(labels(owner).len()).unwrap());
        rdata.extend(TTL.to_be_bytes());
        rdata.extend(EXPIRATION.to_be_bytes());
        rdata.extend(INCEPTION.to_be_bytes());
        rdata.extend(self.tag.to_be_bytes());
        rdata.extend(wire_name(APEX));
        let mut signed = rdata.clone();
        let mut sorted = rdatas.to_vec();
        sorted.sort();
        sorted.dedup();
        for rd in sorted {
            signed.extend(wire_name(owner));
            signed.extend(code);
            signed.extend(1u16.to_be_bytes());
            signed.extend(TTL.to_be_bytes());
            signed.extend(u16::try_from(rd.len()).unwrap().to_be_bytes());
            signed.extend(rd);
        }
        let mut signer = Signer::new_without_digest(&self.pkey).unwrap();
        let mut sig = signer.sign_oneshot_to_vec(&signed).unwrap();
        if broken {
            sig[10] ^= 0x55;
        }
        rdata.extend(sig);
        rdata
    }
}

/// The key tag (RFC 4034 Appendix B).
fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i % 2 == 0 {
            u32::from(*b) << 8
        } else {
            u32::from(*b)
        };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

/// The labels of a lowercase absolute name, leftmost first (the root has none).
fn labels(name: &str) -> Vec<&str> {
    name.split('.').filter(|l| !l.is_empty()).collect()
}

/// A name in canonical wire form: lowercase, uncompressed (RFC 4034 §6.2).
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in labels(name) {
        out.push(u8::try_from(l.len()).unwrap());
        out.extend(l.to_ascii_lowercase().bytes());
    }
    out.push(0);
    out
}

/// The canonical order of names (RFC 4034 §6.1): label by label from the right, each as
/// lowercase octets, a name before its descendants.
fn canonical(name: &str) -> Vec<Vec<u8>> {
    labels(name)
        .iter()
        .rev()
        .map(|l| l.to_ascii_lowercase().into_bytes())
        .collect()
}

/// RDATA in canonical form (names lowercase and uncompressed).
fn rdata_wire(d: &RData) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut e = BinEncoder::new(&mut buf);
    e.set_canonical_names(true);
    d.emit(&mut e).unwrap();
    buf
}

/// A type bit map (RFC 4034 §4.1.2).
fn type_bitmap(types: &BTreeSet<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut windows: std::collections::BTreeMap<u8, Vec<u8>> = Default::default();
    for t in types {
        let [window, low] = t.to_be_bytes();
        let bits = windows.entry(window).or_default();
        let byte = usize::from(low / 8);
        if bits.len() <= byte {
            bits.resize(byte + 1, 0);
        }
        bits[byte] |= 0x80 >> (low % 8);
    }
    for (window, bits) in windows {
        out.push(window);
        out.push(u8::try_from(bits.len()).unwrap());
        out.extend(bits);
    }
    out
}

fn is_at_or_below(name: &str, apex: &str) -> bool {
    name == apex || apex == "." || name.ends_with(&format!(".{apex}"))
}

fn dname(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

fn raw(rtype: RecordType, rdata: Vec<u8>) -> RData {
    RData::Unknown {
        code: rtype,
        rdata: NULL::with(rdata),
    }
}

/// What the authoritative server serves.
struct World {
    records: Records,
    /// Zones delegated from `test.` without a DS record, served unsigned.
    unsigned: Vec<String>,
    /// Owner names whose signatures are broken.
    bogus: Vec<String>,
    key: Key,
}

/// One zone's contents at the moment of a query.
struct ZoneData {
    apex: String,
    signed: bool,
    rrs: Vec<(String, RData)>,
}

impl ZoneData {
    fn owners(&self) -> Vec<String> {
        let mut v: Vec<String> = self.rrs.iter().map(|(n, _)| n.clone()).collect();
        v.sort_by_key(|n| canonical(n));
        v.dedup();
        v
    }

    /// Whether `name` exists: it owns records, or is an empty non-terminal above some.
    fn exists(&self, name: &str) -> bool {
        self.rrs.iter().any(|(n, _)| is_at_or_below(n, name))
    }

    /// Whether the RRset is one this zone is authoritative for (and so signs): not the NS
    /// records of a delegation.
    fn authoritative(&self, owner: &str, rtype: RecordType) -> bool {
        !(rtype == RecordType::NS && owner != self.apex)
    }

    fn rrset(&self, owner: &str, rtype: RecordType) -> Vec<RData> {
        self.rrs
            .iter()
            .filter(|(n, d)| n == owner && d.record_type() == rtype)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// The NSEC record at `owner` (one of the owners): the next owner, and the types there.
    fn nsec_at(&self, owner: &str) -> RData {
        let owners = self.owners();
        let i = owners.iter().position(|o| o == owner).unwrap();
        let next = &owners[(i + 1) % owners.len()];
        let mut types: BTreeSet<u16> = self
            .rrs
            .iter()
            .filter(|(n, _)| n == owner)
            .map(|(_, d)| u16::from(d.record_type()))
            .collect();
        types.insert(u16::from(RecordType::RRSIG));
        types.insert(u16::from(RecordType::NSEC));
        let mut rdata = wire_name(next);
        rdata.extend(type_bitmap(&types));
        raw(RecordType::NSEC, rdata)
    }

    /// The owner of the NSEC record that matches `name` or covers it (the last owner before it
    /// in canonical order).
    fn nsec_owner_for(&self, name: &str) -> String {
        let key = canonical(name);
        let owners = self.owners();
        owners
            .iter()
            .rev()
            .find(|o| canonical(o) <= key)
            .unwrap_or_else(|| owners.last().unwrap())
            .clone()
    }
}

impl World {
    /// The zone `name` is in: the deepest zone at or above it.
    fn zone_of(&self, name: &str) -> Option<&str> {
        self.unsigned
            .iter()
            .filter(|z| is_at_or_below(name, z))
            .max_by_key(|z| labels(z).len())
            .map(String::as_str)
            .or(is_at_or_below(name, APEX).then_some(APEX))
    }

    fn zone(&self, apex: &str) -> ZoneData {
        let signed = apex == APEX;
        let ns_host = format!("ns.{apex}");
        let mut rrs = vec![
            (
                apex.to_string(),
                RData::SOA(SOA::new(
                    dname(&ns_host),
                    dname(&format!("hostmaster.{apex}")),
                    1,
                    3600,
                    600,
                    86400,
                    TTL,
                )),
            ),
            (apex.to_string(), RData::NS(NS(dname(&ns_host)))),
            (ns_host.clone(), RData::A(A::new(127, 0, 0, 1))),
        ];
        if signed {
            rrs.push((
                apex.to_string(),
                raw(RecordType::DNSKEY, self.key.dnskey.clone()),
            ));
            // The delegations: their NS records, and no DS.
            for child in &self.unsigned {
                rrs.push((child.clone(), RData::NS(NS(dname(&format!("ns.{child}"))))));
            }
        }
        let records = self.records.lock().unwrap();
        rrs.extend(
            records
                .iter()
                .filter(|(n, _)| self.zone_of(n) == Some(apex))
                .cloned(),
        );
        ZoneData {
            apex: apex.to_string(),
            signed,
            rrs,
        }
    }

    /// The answer to `q`.
    fn answer(&self, q: &Message) -> Message {
        let mut m = Message::new();
        m.set_id(q.id())
            .set_message_type(MessageType::Response)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(q.recursion_desired());
        let dnssec_ok = q.extensions().as_ref().is_some_and(|e| e.flags().dnssec_ok);
        if q.extensions().is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(1232).set_dnssec_ok(dnssec_ok);
            m.set_edns(edns);
        }
        let [query] = q.queries() else {
            m.set_response_code(ResponseCode::FormErr);
            return m;
        };
        m.add_query(query.clone());
        let qname = query.name().to_ascii().to_ascii_lowercase();
        let qtype = query.query_type();
        let Some(mut apex) = self.zone_of(&qname) else {
            m.set_response_code(ResponseCode::Refused);
            return m;
        };
        // The DS records of a delegated zone are the parent's.
        if qtype == RecordType::DS && qname == apex && apex != APEX {
            apex = APEX;
        }
        let zone = self.zone(apex);
        m.set_authoritative(true);
        let sign = zone.signed && dnssec_ok;
        let with_sig = |owner: &str, rtype: RecordType, set: Vec<RData>| -> Vec<Record> {
            let mut out: Vec<Record> = set
                .iter()
                .map(|d| Record::from_rdata(dname(owner), TTL, d.clone()))
                .collect();
            if sign && zone.authoritative(owner, rtype) {
                let wires: Vec<Vec<u8>> = set.iter().map(rdata_wire).collect();
                let broken = self.bogus.iter().any(|b| b == owner);
                let sig = self.key.rrsig(owner, rtype, &wires, broken);
                out.push(Record::from_rdata(
                    dname(owner),
                    TTL,
                    raw(RecordType::RRSIG, sig),
                ));
            }
            out
        };
        let found = zone.rrset(&qname, qtype);
        if !found.is_empty() {
            m.add_answers(with_sig(&qname, qtype, found));
            return m;
        }
        let soa = zone.rrset(&zone.apex, RecordType::SOA);
        m.add_name_servers(with_sig(&zone.apex, RecordType::SOA, soa));
        // NODATA: the NSEC at the name (or, for an empty non-terminal, the one covering it)
        // lists no such type.
        let mut nsec_owners = vec![zone.nsec_owner_for(&qname)];
        if !zone.exists(&qname) {
            // NXDOMAIN: an NSEC covering the name, and one covering the wildcard at its closest
            // encloser (RFC 4035 §3.1.3.2). The apex exists, so the walk up ends there.
            m.set_response_code(ResponseCode::NXDomain);
            let mut encloser = qname.as_str();
            while !zone.exists(encloser) {
                encloser = encloser.split_once('.').map_or(APEX, |(_, rest)| rest);
            }
            nsec_owners.push(zone.nsec_owner_for(&format!("*.{encloser}")));
        }
        if sign {
            nsec_owners.dedup();
            for owner in nsec_owners {
                let nsec = zone.nsec_at(&owner);
                m.add_name_servers(with_sig(&owner, RecordType::NSEC, vec![nsec]));
            }
        }
        m
    }

    /// The answer to the query in `wire`. Over UDP (`udp`) one longer than the payload the
    /// query allows is cut to its header and question, with TC set (then it is asked over TCP).
    fn answer_wire(&self, wire: &[u8], udp: bool) -> Option<Vec<u8>> {
        let q = Message::from_vec(wire).ok()?;
        if q.message_type() != MessageType::Query {
            return None;
        }
        let m = self.answer(&q);
        let out = m.to_vec().unwrap();
        let limit = q
            .extensions()
            .as_ref()
            .map_or(PLAIN_UDP, |e| usize::from(e.max_payload()).max(PLAIN_UDP));
        if !udp || out.len() <= limit {
            return Some(out);
        }
        let mut cut = Message::new();
        cut.set_header(*m.header());
        cut.set_truncated(true);
        cut.add_queries(m.queries().to_vec());
        if let Some(e) = m.extensions() {
            cut.set_edns(e.clone());
        }
        Some(cut.to_vec().unwrap())
    }
}

/// The authoritative server, on a UDP and a TCP port of 127.0.0.1 (the same number).
pub struct Authority {
    pub port: u16,
    anchor: String,
    unsigned: Vec<String>,
}

impl Authority {
    /// Serves `records` in the signed zone `test.`, with `unsigned` (names of zones below
    /// `test.`) delegated without DS and served unsigned, and the RRsets at the names in
    /// `bogus` signed with signatures that do not verify.
    pub fn start(records: Records, unsigned: &[&str], bogus: &[&str]) -> Authority {
        let world = Arc::new(World {
            records,
            unsigned: unsigned.iter().map(|s| s.to_string()).collect(),
            bogus: bogus.iter().map(|s| s.to_string()).collect(),
            key: Key::new(),
        });
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
                break (udp, tcp);
            }
        };
        let port = udp.local_addr().unwrap().port();
        let w = world.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                if let Some(out) = w.answer_wire(&buf[..n], true) {
                    let _ = udp.send_to(&out, from);
                }
            }
        });
        let w = world.clone();
        std::thread::spawn(move || {
            for conn in tcp.incoming() {
                let Ok(conn) = conn else { break };
                let w = w.clone();
                std::thread::spawn(move || serve_tcp(&w, conn));
            }
        });
        Authority {
            port,
            anchor: world.key.anchor(),
            unsigned: world.unsigned.clone(),
        }
    }
}

fn serve_tcp(w: &World, mut conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(RUN_LIMIT));
    loop {
        let mut len = [0u8; 2];
        if conn.read_exact(&mut len).is_err() {
            return;
        }
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if conn.read_exact(&mut q).is_err() {
            return;
        }
        let Some(out) = w.answer_wire(&q, false) else {
            return;
        };
        let mut framed = u16::try_from(out.len()).unwrap().to_be_bytes().to_vec();
        framed.extend(out);
        if conn.write_all(&framed).is_err() {
            return;
        }
    }
}

/// Whether this run must have everything a test needs (CI, or MAILTALK_REQUIRE=1).
fn required() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    ci || std::env::var("MAILTALK_REQUIRE").is_ok_and(|v| v == "1")
}

/// Where to look for unbound instead of PATH and the sbin directories.
pub const UNBOUND_DIR: &str = "MAILTALK_UNBOUND_DIR";

/// `tool` in the directory MAILTALK_UNBOUND_DIR names, or else on PATH or in the sbin
/// directories (where Debian puts unbound).
fn find(tool: &str) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = match std::env::var_os(UNBOUND_DIR) {
        Some(dir) => vec![PathBuf::from(dir)],
        None => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
                .collect()
        }
    };
    dirs.iter().map(|d| d.join(tool)).find(|p| p.is_file())
}

/// What a test without unbound says.
pub const SKIPPED: &str =
    "skipped: unbound is not installed (the validating resolver these tests use)";

/// Where unbound and unbound-control are.
pub struct Tools {
    unbound: PathBuf,
    control: PathBuf,
}

/// unbound and unbound-control, or `None` after saying the test is skipped; a panic when they
/// are required.
pub fn unbound_tools() -> Option<Tools> {
    match (find("unbound"), find("unbound-control")) {
        (Some(unbound), Some(control)) => Some(Tools { unbound, control }),
        _ if required() => {
            panic!("unbound is required (CI or MAILTALK_REQUIRE=1) but not installed")
        }
        _ => {
            println!("{SKIPPED}");
            None
        }
    }
}

/// A child process killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running unbound, validating with the zone's key, asking the authoritative server; killed
/// and reaped when dropped.
pub struct Unbound {
    _child: Reaped,
    pub port: u16,
    dir: tempfile::TempDir,
    control: PathBuf,
}

impl Unbound {
    /// Starts unbound in front of `auth`, waits until it answers, and checks that it answers
    /// with a validated SOA for `test.`.
    pub fn start(tools: &Tools, auth: &Authority) -> Unbound {
        let dir = tempfile::tempdir().unwrap();
        let guard = Instant::now() + RUN_LIMIT;
        loop {
            let port = free_port();
            let conf = dir.path().join("unbound.conf");
            std::fs::write(&conf, config(dir.path(), port, auth)).unwrap();
            let _ = std::fs::remove_file(dir.path().join("unbound.log"));
            let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
            let mut child = Reaped(
                Command::new(&tools.unbound)
                    .arg("-d")
                    .arg("-c")
                    .arg(&conf)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(stderr)
                    .spawn()
                    .expect("start unbound"),
            );
            match wait_ready(&mut child.0, port, dir.path(), guard) {
                Ok(()) => {}
                // Another program took the port between choosing it and unbound binding it.
                Err(why) if why.contains("ddress already in use") => continue,
                Err(why) => panic!("unbound did not start: {why}"),
            }
            let u = Unbound {
                _child: child,
                port,
                dir,
                control: tools.control.clone(),
            };
            u.check_validates();
            return u;
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What unbound logged (for a failure's message).
    pub fn log(&self) -> String {
        log(self.dir.path())
    }

    /// Makes unbound forget what it learned about `test.` and below (after the records
    /// changed).
    pub fn flush(&self) {
        for args in [
            vec!["flush_zone", APEX],
            vec!["flush_bogus"],
            vec!["flush_negative"],
        ] {
            let out = Command::new(&self.control)
                .arg("-c")
                .arg(self.dir.path().join("unbound.conf"))
                .args(&args)
                .output()
                .expect("run unbound-control");
            assert!(
                out.status.success(),
                "unbound-control {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// The zone's apex must come back validated: else the setup, not mailtalk, is wrong.
    fn check_validates(&self) {
        let m = query(self.port, APEX, RecordType::SOA, RUN_LIMIT)
            .unwrap_or_else(|| panic!("unbound stopped answering: {}", self.log()));
        assert!(
            m.response_code() == ResponseCode::NoError && m.authentic_data(),
            "unbound does not validate the test zone ({}, AD {}): {}",
            m.response_code(),
            m.authentic_data(),
            self.log()
        );
    }
}

fn log(dir: &Path) -> String {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    format!("{}{}", read("stderr"), read("unbound.log"))
}

/// Polls with a query until unbound answers; its exit or the hang guard is an error.
fn wait_ready(child: &mut Child, port: u16, dir: &Path, guard: Instant) -> Result<(), String> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("unbound exited ({status}): {}", log(dir)));
        }
        if query(port, APEX, RecordType::SOA, Duration::from_millis(200)).is_some() {
            return Ok(());
        }
        if Instant::now() > guard {
            return Err(format!("no answer within {RUN_LIMIT:?}: {}", log(dir)));
        }
        // Refused at once while nothing listens yet: the next try a little later.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A port free on 127.0.0.1 for UDP and TCP at the moment.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// One query to 127.0.0.1:`port` with RD and DO set; the answer, or `None` when none came
/// within `wait`.
pub fn query(port: u16, name: &str, rtype: RecordType, wait: Duration) -> Option<Message> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    let id: u16 = rand_id();
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true);
    m.add_query(Query::query(dname(name), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232).set_dnssec_ok(true);
    m.set_edns(edns);
    // A refused send (nothing listening yet) is the same as no answer.
    sock.send(&m.to_vec().unwrap()).ok()?;
    let until = Instant::now() + wait;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left)).unwrap();
        let n = sock.recv(&mut buf).ok()?;
        if let Ok(a) = Message::from_vec(&buf[..n]) {
            if a.id() == id && a.message_type() == MessageType::Response {
                return Some(a);
            }
        }
    }
}

fn rand_id() -> u16 {
    let mut b = [0u8; 2];
    openssl::rand::rand_bytes(&mut b).unwrap();
    u16::from_be_bytes(b)
}

/// unbound's configuration: no daemon, no privileges dropped, loopback only, the zone's key as
/// the one trust anchor, the zones asked of the authoritative server.
fn config(dir: &Path, port: u16, auth: &Authority) -> String {
    let d = dir.display();
    let mut c = format!(
        r#"server:
    verbosity: 1
    num-threads: 1
    interface: 127.0.0.1
    port: {port}
    outgoing-interface: 127.0.0.1
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    so-reuseport: no
    outgoing-range: 64
    num-queries-per-thread: 32
    msg-cache-size: 1m
    rrset-cache-size: 1m
    key-cache-size: 1m
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    logfile: "{d}/unbound.log"
    use-syslog: no
    log-servfail: yes
    val-log-level: 2
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    infra-keep-probing: yes
    # unbound's own waits for the authoritative server (first try and every retry) as long as
    # the hang guard allows: on a busy machine a slow answer is late, never a SERVFAIL.
    unknown-server-time-limit: 30000
    infra-cache-min-rtt: 30000
    qname-minimisation: no
    module-config: "validator iterator"
    trust-anchor-signaling: no
    root-key-sentinel: no
    # test. is one of unbound's built-in local zones (RFC 6761); here it is asked for real.
    local-zone: "{APEX}" nodefault
    # Signature dates are judged as of 2030, inside the zone's window, whatever the clock says.
    val-override-date: "20300101000000"
    trust-anchor: "{anchor}"
stub-zone:
    name: "{APEX}"
    stub-addr: 127.0.0.1@{auth_port}
"#,
        anchor = auth.anchor,
        auth_port = auth.port,
    );
    for zone in &auth.unsigned {
        c.push_str(&format!(
            "stub-zone:\n    name: \"{zone}\"\n    stub-addr: 127.0.0.1@{}\n",
            auth.port
        ));
    }
    c.push_str(&format!(
        "remote-control:\n    control-enable: yes\n    control-interface: \"{d}/control.sock\"\n    control-use-cert: no\n"
    ));
    c
}
