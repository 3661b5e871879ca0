//! `mailtalk check DOMAIN`: what a sending MTA would find on the way to DOMAIN. The MX records
//! (implicit and null MX included), then for each MX: its addresses, and at each of them in
//! order (as a sender tries them, up to [`MAX_ADDRESSES`]) a connection to port 25, EHLO,
//! STARTTLS, the certificate checked for the MX name, its DANE TLSA records matched against
//! the chain it presented (with the resolver's DNSSEC word on them); the domain's
//! MTA-STS record and policy (fetched over verified HTTPS) with whether each MX is one it names,
//! and its TLS-RPT record. A table, or JSON; an exit status a monitoring job can use.
//!
//! The lookups go to `--resolver` (or the system's first name server); the judging is in
//! [`crate::check`].

pub mod smuggle;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use crate::check::{dane, mtasts, tlsrpt};
use crate::engine::{Options, Session, SessionError};
use crate::net::dns::{MxHosts, Resolver};
use crate::net::{Family, NetError, Step, TlsInfo, TlsOptions};
use crate::output::json::harden;
use crate::target::{self, TlsMode};

/// Every MX passed every check that applies.
pub const OK: i32 = 0;
/// At least one MX failed a check a sender would act on (no STARTTLS, a certificate that does
/// not verify where MTA-STS enforces, DANE records that do not match, an MX the policy does not
/// name), or the domain takes no mail.
pub const FAILED: i32 = 4;
/// The lookups themselves failed (no answer from the resolver, a SERVFAIL).
pub const LOOKUP: i32 = 5;

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The domain mail is sent to
    #[arg(value_name = "DOMAIN")]
    pub domain: String,
    /// DNS server to ask (IP or IP:PORT; default: the first nameserver of /etc/resolv.conf)
    #[arg(long, value_name = "ADDR")]
    pub resolver: Option<String>,
    /// Port the MX hosts are reached on (25; another one for tests)
    #[arg(long, default_value_t = 25)]
    pub port: u16,
    /// Port the MTA-STS policy is fetched from (443; another one for tests)
    #[arg(long, default_value_t = 443)]
    pub policy_port: u16,
    /// Extra trust anchors (PEM) for the MX certificates and the MTA-STS policy host
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Seconds allowed for each lookup, connection and reply
    #[arg(short = 't', long, default_value_t = 30.0)]
    pub timeout: f64,
    /// JSON instead of the table
    #[arg(long)]
    pub json: bool,
}

/// At most this many addresses of one MX are connected to; the others are listed as not
/// tried.
pub const MAX_ADDRESSES: usize = 8;

/// What was found for one MX.
#[derive(Debug)]
struct MxReport {
    preference: u16,
    host: String,
    /// Every address the MX name has, in the order of the answers.
    addresses: Vec<IpAddr>,
    /// The first [`MAX_ADDRESSES`] of them, in that order, each connected to.
    tried: Vec<AddrReport>,
    tlsa: Vec<dane::Tlsa>,
    tlsa_dnssec: bool,
    sts_allows: Option<bool>,
    /// What fails the MX whichever address is used (lookups, the MTA-STS policy).
    problems: Vec<String>,
}

/// What was found at one address of an MX.
#[derive(Debug)]
struct AddrReport {
    address: IpAddr,
    /// Whether a connection was made; why not (refused, timed out …).
    reached: Result<(), String>,
    starttls: Result<(), String>,
    tls: Option<TlsInfo>,
    dane: Option<dane::Verdict>,
    /// What fails delivery through this address once connected (STARTTLS, DANE, the
    /// certificate).
    problems: Vec<String>,
}

impl AddrReport {
    fn passed(&self) -> bool {
        self.reached.is_ok() && self.problems.is_empty()
    }
}

impl MxReport {
    /// The address a sender would deliver through: the first that passed every check, else
    /// the first that answered, else the first tried.
    fn chosen(&self) -> Option<&AddrReport> {
        self.tried
            .iter()
            .find(|a| a.passed())
            .or_else(|| self.tried.iter().find(|a| a.reached.is_ok()))
            .or_else(|| self.tried.first())
    }

    /// Whether one row says everything: a single address, tried.
    fn single(&self) -> bool {
        self.tried.len() <= 1 && self.addresses.len() <= 1
    }

    /// What fails the MX: its own problems, those of every address that answered (a sender
    /// may be given any of them), and the addresses that did not answer when none passed.
    fn failures(&self) -> Vec<String> {
        let mut out = self.problems.clone();
        let several = !self.single();
        for a in self.tried.iter().filter(|a| a.reached.is_ok()) {
            for p in &a.problems {
                out.push(if several {
                    format!("{}: {p}", a.address)
                } else {
                    p.clone()
                });
            }
        }
        if !self.tried.iter().any(AddrReport::passed) {
            out.extend(self.unreached());
        }
        out
    }

    /// What does not fail the MX but is worth saying: addresses that did not answer while
    /// another passed, addresses beyond the bound.
    fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.tried.iter().any(AddrReport::passed) {
            out.extend(self.unreached());
        }
        let rest = self.addresses.len().saturating_sub(self.tried.len());
        if rest > 0 && !self.tried.is_empty() {
            out.push(format!(
                "{rest} more address{} not tried (at most {MAX_ADDRESSES} per MX)",
                if rest == 1 { "" } else { "es" }
            ));
        }
        out
    }

    fn unreached(&self) -> Vec<String> {
        self.tried
            .iter()
            .filter_map(|a| {
                a.reached
                    .as_ref()
                    .err()
                    .map(|why| format!("cannot connect to {}: {why}", a.address))
            })
            .collect()
    }

    fn ok(&self) -> bool {
        self.failures().is_empty()
    }
}

/// The MTA-STS state of the domain.
#[derive(Debug)]
enum Sts {
    None,
    Policy { id: String, policy: mtasts::Policy },
    Broken(String),
}

fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    s.parse::<SocketAddr>()
        .map_err(|_| format!("--resolver {s:?} is not an IP address or IP:PORT"))
}

/// Runs the check; returns the exit status.
pub fn run(args: &CheckArgs) -> i32 {
    match check(args) {
        Ok(code) => code,
        Err((code, e)) => {
            eprintln!(
                "mailtalk check: {}",
                crate::render::escape::visible_string(e.as_bytes())
            );
            code
        }
    }
}

fn check(args: &CheckArgs) -> Result<i32, (i32, String)> {
    let usage = |e: String| (2, e);
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
        return Err(usage(
            "--timeout must be a number of seconds above 0".into(),
        ));
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let server = args
        .resolver
        .as_deref()
        .map(parse_resolver)
        .transpose()
        .map_err(usage)?;
    let domain = args.domain.trim_end_matches('.').to_ascii_lowercase();
    let dns = Resolver::new(server, timeout).map_err(|e| (LOOKUP, e.to_string()))?;
    let lookup = |e: crate::net::dns::DnsError| (LOOKUP, e.to_string());
    let (mx, mx_dnssec) = dns.mx(&domain).map_err(lookup)?;
    let hosts: Vec<(u16, String)> = match mx {
        MxHosts::Hosts(h) => h,
        MxHosts::Implicit => vec![(0, domain.clone())],
        MxHosts::Null => {
            return Ok(say(
                args,
                &domain,
                "null MX (RFC 7505): the domain says it accepts no mail",
                mx_dnssec,
            ))
        }
        MxHosts::NoDomain => {
            return Ok(say(
                args,
                &domain,
                "the domain does not exist (NXDOMAIN)",
                mx_dnssec,
            ))
        }
    };
    let implicit = hosts.len() == 1 && hosts.iter().all(|(_, h)| h == &domain);
    let sts = mta_sts(args, &dns, &domain, timeout);
    let rpt = match dns.txt(&format!("_smtp._tls.{domain}")) {
        Ok((txts, _)) => tlsrpt::record(&txts),
        Err(e) => Err(e.to_string()),
    };
    let mut reports = Vec::new();
    for (preference, host) in hosts {
        reports.push(check_mx(args, &dns, preference, &host, &sts, timeout));
    }
    let failed = reports.iter().any(|r| !r.ok());
    if args.json {
        print_json(&domain, implicit, mx_dnssec, &sts, &rpt, &reports);
    } else {
        print_table(&domain, implicit, mx_dnssec, &sts, &rpt, &reports);
    }
    Ok(if failed { FAILED } else { OK })
}

/// A domain with no MX to check: said, and the exit status for it.
fn say(args: &CheckArgs, domain: &str, what: &str, dnssec: bool) -> i32 {
    if args.json {
        let v = json!({ "domain": domain, "mx": [], "dnssec": dnssec, "verdict": what });
        println!("{}", harden(v.to_string()));
    } else {
        println!("{domain}: {what}");
    }
    FAILED
}

fn mta_sts(args: &CheckArgs, dns: &Resolver, domain: &str, timeout: Duration) -> Sts {
    let record = match dns.txt(&format!("_mta-sts.{domain}")) {
        Ok((txts, _)) => mtasts::record(&txts),
        Err(e) => return Sts::Broken(e.to_string()),
    };
    let id = match record {
        Ok(None) => return Sts::None,
        Ok(Some(r)) => r.id,
        Err(e) => return Sts::Broken(e),
    };
    let host = format!("mta-sts.{domain}");
    let addr = match dns.addresses(&host) {
        Ok(a) => match a.first() {
            Some(ip) => SocketAddr::new(*ip, args.policy_port),
            None => return Sts::Broken(format!("{host} has no address")),
        },
        Err(e) => return Sts::Broken(e.to_string()),
    };
    let got = crate::net::https::get(
        &host,
        addr,
        "/.well-known/mta-sts.txt",
        mtasts::MAX_POLICY,
        timeout,
        args.ca_file.clone(),
    );
    let r = match got {
        Ok(r) => r,
        Err(e) => return Sts::Broken(format!("fetching the policy: {e}")),
    };
    if r.status != 200 {
        return Sts::Broken(format!("the policy URL answered HTTP {}", r.status));
    }
    let plain = r.content_type.as_deref().is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/plain"))
    });
    if !plain {
        return Sts::Broken(format!(
            "the policy's Content-Type is {:?}, not text/plain (RFC 8461 §3.3)",
            r.content_type.unwrap_or_default()
        ));
    }
    match mtasts::policy(&r.body) {
        Ok(policy) => Sts::Policy { id, policy },
        Err(e) => Sts::Broken(e),
    }
}

fn check_mx(
    args: &CheckArgs,
    dns: &Resolver,
    preference: u16,
    host: &str,
    sts: &Sts,
    timeout: Duration,
) -> MxReport {
    let mut r = MxReport {
        preference,
        host: host.to_string(),
        addresses: Vec::new(),
        tried: Vec::new(),
        tlsa: Vec::new(),
        tlsa_dnssec: false,
        sts_allows: None,
        problems: Vec::new(),
    };
    let enforce = matches!(sts, Sts::Policy { policy, .. } if policy.mode == mtasts::Mode::Enforce);
    if let Sts::Policy { policy, .. } = sts {
        let allows = policy.allows(host);
        r.sts_allows = Some(allows);
        if !allows && policy.mode != mtasts::Mode::None {
            r.problems.push(format!(
                "not an MX the MTA-STS policy names ({})",
                policy.mode.name()
            ));
        }
    }
    match dns.tlsa(args.port, host) {
        Ok((records, dnssec)) => {
            r.tlsa = records
                .iter()
                .filter_map(|d| dane::Tlsa::from_rdata(d))
                .collect();
            r.tlsa_dnssec = dnssec;
        }
        Err(e) => r.problems.push(format!("TLSA lookup: {e}")),
    }
    match dns.addresses(host) {
        Ok(a) => {
            // In the order of the answers (A before AAAA), each once.
            for ip in a {
                if !r.addresses.contains(&ip) {
                    r.addresses.push(ip);
                }
            }
        }
        Err(e) => {
            r.problems.push(format!("address lookup: {e}"));
            return r;
        }
    }
    if r.addresses.is_empty() {
        r.problems.push("no address".into());
        return r;
    }
    // A sending MTA tries the addresses in order until one answers, and would use any that
    // does: each is connected to, up to a bound, and what each presented is judged alone.
    let mut tried = Vec::new();
    for ip in r.addresses.iter().take(MAX_ADDRESSES) {
        tried.push(check_address(args, &r, *ip, enforce, timeout));
    }
    r.tried = tried;
    r
}

/// Connects to one address of an MX: STARTTLS, the chain against the TLSA records, the
/// certificate against the MX name where MTA-STS enforces.
fn check_address(
    args: &CheckArgs,
    mx: &MxReport,
    ip: IpAddr,
    enforce: bool,
    timeout: Duration,
) -> AddrReport {
    let host = mx.host.as_str();
    let mut a = AddrReport {
        address: ip,
        reached: Ok(()),
        starttls: Err("not tried".into()),
        tls: None,
        dane: None,
        problems: Vec::new(),
    };
    let url = match ip {
        IpAddr::V4(v4) => format!("smtp://{v4}:{}", args.port),
        IpAddr::V6(v6) => format!("smtp://[{v6}]:{}", args.port),
    };
    let target = match target::parse(&url, None, false) {
        Ok(mut t) => {
            t.tls = TlsMode::StartTls;
            t
        }
        Err(e) => {
            a.problems.push(e.to_string());
            return a;
        }
    };
    let opts = Options {
        target,
        tls: TlsOptions {
            // The chain is wanted also when it does not verify (DANE-EE needs no PKIX);
            // whether it verified is judged below.
            insecure: true,
            ca_file: args.ca_file.clone(),
            sni: Some(host.to_string()),
            ..TlsOptions::default()
        },
        timeout,
        family: Family::Any,
        ehlo: crate::message::local_hostname(),
        timing: false,
        allow_plaintext_auth: false,
        route: crate::net::Route::default(),
    };
    match Session::connect(opts, &mut |_| {}) {
        Ok(mut s) => {
            a.starttls = Ok(());
            a.tls = s.tls_info().cloned();
            let _ = s.quit(&mut |_| {});
        }
        Err(e) => {
            if let Some(why) = unreachable(&e) {
                a.reached = Err(why.clone());
                a.starttls = Err(why);
                return a;
            }
            a.starttls = Err(e.to_string());
            a.problems.push(format!("STARTTLS: {e}"));
        }
    }
    if let Some(tls) = &a.tls {
        let chain: Vec<openssl::x509::X509> = tls
            .chain
            .iter()
            .filter_map(|c| openssl::x509::X509::from_der(&c.der).ok())
            .collect();
        let verdict = dane::check(&mx.tlsa, &chain);
        let dane_applies = mx.tlsa_dnssec && verdict != dane::Verdict::NoUsableRecords;
        if dane_applies && verdict == dane::Verdict::NoMatch {
            a.problems
                .push("DANE: no usable TLSA record matches the chain".into());
        }
        if !dane_applies && !cert_valid(tls) && enforce {
            a.problems.push(format!(
                "the certificate does not verify for {host} and MTA-STS enforces: {}",
                tls.verify_error.as_deref().unwrap_or("")
            ));
        }
        a.dane = Some(verdict);
    }
    a
}

/// Why no connection was made, when it was not (refused, unreachable, timed out): a sender
/// would try the next address.
fn unreachable(e: &SessionError) -> Option<String> {
    match e {
        SessionError::Net(NetError::Connect(attempts)) => Some(
            attempts
                .iter()
                .map(|a| crate::net::attempt_text(&a.error))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        SessionError::Net(NetError::Timeout(Step::Connect(_))) => {
            Some("connection timed out".into())
        }
        _ => None,
    }
}

/// Whether the chain and the MX name verified. The session ran without stopping on a failure
/// (the chain is wanted anyway), so every failure was noted: none means it verified.
fn cert_valid(tls: &TlsInfo) -> bool {
    tls.verify_error.is_none()
}

fn dane_text(r: &MxReport, a: Option<&AddrReport>) -> String {
    match (a.and_then(|a| a.dane.as_ref()), r.tlsa.is_empty()) {
        (_, true) => "no TLSA".into(),
        (None, false) => format!("{} TLSA, not tried", r.tlsa.len()),
        (Some(dane::Verdict::NoUsableRecords), false) => "TLSA unusable".into(),
        (Some(dane::Verdict::Matched { record, position }), false) => format!(
            "match: {} at depth {position}{}",
            r.tlsa
                .get(*record)
                .map(|t| t.to_string().chars().take(16).collect::<String>())
                .unwrap_or_default(),
            if r.tlsa_dnssec {
                ""
            } else {
                " (not DNSSEC: ignored)"
            }
        ),
        (Some(dane::Verdict::NoMatch), false) => format!(
            "NO MATCH{}",
            if r.tlsa_dnssec {
                ""
            } else {
                " (not DNSSEC: ignored)"
            }
        ),
    }
}

/// The verdict of the MX as a whole: `ok`, with how the other addresses fared, or `FAIL:`
/// and why.
fn mx_verdict(r: &MxReport) -> String {
    let failures = r.failures();
    let warnings = r.warnings();
    let mut text = if failures.is_empty() {
        if r.single() {
            "ok".to_string()
        } else {
            let passed: Vec<String> = r
                .tried
                .iter()
                .filter(|a| a.passed())
                .map(|a| a.address.to_string())
                .collect();
            format!("ok via {}", passed.join(", "))
        }
    } else {
        format!("FAIL: {}", failures.join("; "))
    };
    if !warnings.is_empty() {
        text.push_str("; ");
        text.push_str(&warnings.join("; "));
    }
    text
}

/// The verdict of one address of an MX with several: delivery through it.
fn address_verdict(r: &MxReport, a: &AddrReport) -> String {
    if let Err(why) = &a.reached {
        return format!("unreachable: {why}");
    }
    let problems: Vec<&str> = r
        .problems
        .iter()
        .chain(&a.problems)
        .map(String::as_str)
        .collect();
    if problems.is_empty() {
        "ok".into()
    } else {
        format!("FAIL: {}", problems.join("; "))
    }
}

fn print_table(
    domain: &str,
    implicit: bool,
    mx_dnssec: bool,
    sts: &Sts,
    rpt: &Result<Option<tlsrpt::Record>, String>,
    reports: &[MxReport],
) {
    let v = |s: &str| crate::render::escape::visible_string(s.as_bytes());
    println!(
        "{domain}: {} MX{} (DNSSEC {})",
        reports.len(),
        if implicit {
            " (implicit: the domain itself)"
        } else {
            ""
        },
        if mx_dnssec {
            "validated by the resolver"
        } else {
            "not validated"
        }
    );
    match sts {
        Sts::None => println!("MTA-STS: no record"),
        Sts::Policy { id, policy } => println!(
            "MTA-STS: id {}, mode {}, max_age {}, mx {}",
            v(id),
            policy.mode.name(),
            policy.max_age,
            v(&policy.mx.join(" "))
        ),
        Sts::Broken(e) => println!("MTA-STS: broken: {}", v(e)),
    }
    match rpt {
        Ok(Some(r)) => println!("TLS-RPT: {}", v(&r.rua.join(", "))),
        Ok(None) => println!("TLS-RPT: no record"),
        Err(e) => println!("TLS-RPT: broken: {}", v(e)),
    }
    println!(
        "{:>4}  {:<28} {:<16} {:<9} {:<24} {:<34} {:<9} verdict",
        "pref", "MX", "address", "STARTTLS", "certificate", "DANE", "MTA-STS"
    );
    for r in reports {
        let listed = match r.sts_allows {
            None => "-",
            Some(true) => "listed",
            Some(false) => "NOT LISTED",
        };
        let row = |a: Option<&AddrReport>, verdict: String| {
            let cert = match a.and_then(|a| a.tls.as_ref()) {
                None => "-".to_string(),
                Some(t) if cert_valid(t) => format!("valid ({})", t.version),
                Some(t) => format!(
                    "INVALID: {}",
                    short_reason(t.verify_error.as_deref().unwrap_or("?"))
                ),
            };
            println!(
                "{:>4}  {:<28} {:<16} {:<9} {:<24} {:<34} {:<9} {}",
                r.preference,
                v(&r.host),
                a.map(|a| a.address.to_string())
                    .unwrap_or_else(|| "-".into()),
                match a {
                    None => "-",
                    Some(a) if a.reached.is_err() => "-",
                    Some(a) if a.starttls.is_ok() => "yes",
                    Some(_) => "NO",
                },
                // The reason may quote the certificate's names: the server's bytes.
                v(&cert),
                dane_text(r, a),
                listed,
                v(&verdict)
            );
        };
        if r.single() {
            row(r.tried.first(), mx_verdict(r));
            continue;
        }
        // One row per address tried, then the verdict of the MX.
        for a in &r.tried {
            row(Some(a), address_verdict(r, a));
        }
        println!(
            "{:>4}  {:<28} MX verdict: {}",
            r.preference,
            v(&r.host),
            v(&mx_verdict(r))
        );
    }
}

/// Why a certificate does not verify, in the 15 characters the table has for it (the whole
/// reason is in the verdict and the JSON).
fn short_reason(error: &str) -> String {
    let e = error.to_ascii_lowercase();
    let known = [
        ("host name mismatch", "name mismatch"),
        ("not yet valid", "not yet valid"),
        ("expired", "expired"),
        ("self-signed", "self-signed"),
        ("self signed", "self-signed"),
        ("issuer", "unknown issuer"),
        ("revoked", "revoked"),
    ];
    if let Some((_, short)) = known.iter().find(|(k, _)| e.contains(k)) {
        return (*short).to_string();
    }
    if error.chars().count() <= 15 {
        return error.to_string();
    }
    let mut cut: String = error.chars().take(14).collect();
    cut.push('…');
    cut
}

fn print_json(
    domain: &str,
    implicit: bool,
    mx_dnssec: bool,
    sts: &Sts,
    rpt: &Result<Option<tlsrpt::Record>, String>,
    reports: &[MxReport],
) {
    let mx: Vec<_> = reports
        .iter()
        .map(|r| {
            let tried: Vec<_> = r.tried.iter().map(address_json).collect();
            let chosen = r.chosen();
            let tls = chosen.and_then(|a| a.tls.as_ref());
            json!({
                "preference": r.preference,
                "host": r.host,
                "addresses": r.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "tried": tried,
                "not_tried": r.addresses.iter().skip(r.tried.len()).map(|a| a.to_string())
                    .collect::<Vec<_>>(),
                // The address a sender would use (the first that passed every check, else the
                // first that answered) and what it presented; every address is in "tried".
                "address": chosen.map(|a| a.address.to_string()),
                "starttls": chosen.is_some_and(|a| a.starttls.is_ok()),
                "starttls_error": chosen.and_then(|a| a.starttls.as_ref().err()),
                "tls_version": tls.map(|t| t.version.clone()),
                "certificate_valid": tls.map(cert_valid),
                "certificate_error": tls.and_then(|t| t.verify_error.clone()),
                "tlsa": r.tlsa.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                "tlsa_dnssec": r.tlsa_dnssec,
                "dane": dane_json(chosen.and_then(|a| a.dane.as_ref())),
                "mta_sts_listed": r.sts_allows,
                "problems": r.failures(),
                "warnings": r.warnings(),
                "ok": r.ok(),
            })
        })
        .collect();
    let sts = match sts {
        Sts::None => json!(null),
        Sts::Policy { id, policy } => json!({
            "id": id, "mode": policy.mode.name(), "mx": policy.mx, "max_age": policy.max_age,
        }),
        Sts::Broken(e) => json!({ "error": e }),
    };
    let rpt = match rpt {
        Ok(Some(r)) => json!({ "rua": r.rua }),
        Ok(None) => json!(null),
        Err(e) => json!({ "error": e }),
    };
    let v = json!({
        "domain": domain, "implicit_mx": implicit, "dnssec": mx_dnssec,
        "mta_sts": sts, "tls_rpt": rpt, "mx": mx,
        "ok": reports.iter().all(MxReport::ok),
    });
    // What came from DNS, the policy or a certificate may hold characters a terminal acts on.
    println!("{}", harden(v.to_string()));
}

fn dane_json(verdict: Option<&dane::Verdict>) -> serde_json::Value {
    match verdict {
        None => json!(null),
        Some(dane::Verdict::NoUsableRecords) => json!("no-usable-records"),
        Some(dane::Verdict::NoMatch) => json!("no-match"),
        Some(dane::Verdict::Matched { record, position }) => {
            json!({ "matched": record, "depth": position })
        }
    }
}

/// One address of an MX: whether it answered, and what it presented.
fn address_json(a: &AddrReport) -> serde_json::Value {
    json!({
        "address": a.address.to_string(),
        "connected": a.reached.is_ok(),
        "connect_error": a.reached.as_ref().err(),
        "starttls": a.starttls.is_ok(),
        "starttls_error": if a.reached.is_ok() { a.starttls.as_ref().err() } else { None },
        // The session ran with verification noted, not enforced: "verified" says whether it
        // passed, as "certificate_valid" does.
        "tls": a.tls.as_ref().map(|t| crate::output::json::tls_json(&TlsInfo {
            verified: cert_valid(t),
            ..t.clone()
        })),
        "certificate_valid": a.tls.as_ref().map(cert_valid),
        "certificate_error": a.tls.as_ref().and_then(|t| t.verify_error.clone()),
        "dane": dane_json(a.dane.as_ref()),
        "problems": a.problems,
        "ok": a.passed(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn certificate_reasons_fit_their_column() {
        use super::short_reason;
        assert_eq!(
            short_reason("host name mismatch: certificate is for a, not b"),
            "name mismatch"
        );
        assert_eq!(
            short_reason("unable to get local issuer certificate"),
            "unknown issuer"
        );
        assert_eq!(short_reason("certificate has expired"), "expired");
        assert_eq!(short_reason("odd"), "odd");
        assert_eq!(
            short_reason("something else entirely long"),
            "something else…"
        );
        for r in ["host name mismatch", "a very very long reason indeed"] {
            assert!(short_reason(r).chars().count() <= 15);
        }
    }

    use super::*;

    fn mx(addresses: usize, tried: Vec<AddrReport>) -> MxReport {
        MxReport {
            preference: 10,
            host: "mx.example.test".into(),
            addresses: (1..=addresses)
                .map(|i| IpAddr::from([192, 0, 2, u8::try_from(i).unwrap_or(255)]))
                .collect(),
            tried,
            tlsa: Vec::new(),
            tlsa_dnssec: false,
            sts_allows: None,
            problems: Vec::new(),
        }
    }

    fn at(i: u8, reached: Result<(), &str>, problems: &[&str]) -> AddrReport {
        AddrReport {
            address: IpAddr::from([192, 0, 2, i]),
            reached: reached.map_err(String::from),
            starttls: Ok(()),
            tls: None,
            dane: None,
            problems: problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn an_address_that_does_not_answer_is_a_warning_when_another_passes() {
        let r = mx(
            2,
            vec![at(1, Err("connection refused"), &[]), at(2, Ok(()), &[])],
        );
        assert!(r.ok());
        assert!(!r.single());
        assert_eq!(
            r.warnings(),
            ["cannot connect to 192.0.2.1: connection refused"]
        );
        assert_eq!(
            r.chosen().map(|a| a.address.to_string()).as_deref(),
            Some("192.0.2.2")
        );
        assert_eq!(
            mx_verdict(&r),
            "ok via 192.0.2.2; cannot connect to 192.0.2.1: connection refused"
        );
        assert_eq!(
            address_verdict(&r, &r.tried[0]),
            "unreachable: connection refused"
        );
    }

    #[test]
    fn no_address_answering_fails_the_mx() {
        let r = mx(1, vec![at(1, Err("connection timed out"), &[])]);
        assert!(!r.ok());
        assert!(r.single());
        assert_eq!(
            mx_verdict(&r),
            "FAIL: cannot connect to 192.0.2.1: connection timed out"
        );
    }

    #[test]
    fn an_answering_address_that_fails_a_check_fails_the_mx() {
        let r = mx(
            2,
            vec![at(1, Ok(()), &[]), at(2, Ok(()), &["DANE: no match"])],
        );
        assert!(!r.ok());
        assert_eq!(r.failures(), ["192.0.2.2: DANE: no match"]);
        assert_eq!(
            r.chosen().map(|a| a.address.to_string()).as_deref(),
            Some("192.0.2.1")
        );
    }

    #[test]
    fn addresses_beyond_the_bound_are_said() {
        let tried = (1..=8).map(|i| at(i, Ok(()), &[])).collect();
        let r = mx(10, tried);
        assert!(r.ok());
        assert_eq!(
            r.warnings(),
            ["2 more addresses not tried (at most 8 per MX)"]
        );
    }
}
