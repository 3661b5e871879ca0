//! The embedded server, `mailtalk serve`, run as its own process on free loopback ports, with
//! clients nobody here wrote (swaks, curl, Python's smtplib, imaplib and poplib) and with
//! mailtalk itself. A client tool that is not installed skips its test with a message, and
//! fails it under MAILTALK_REQUIRE=1 (which `.ci/run` sets after installing them).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::support::{self, Output, NO_TIMEOUT, RUN_LIMIT};

const BIN: &str = env!("CARGO_BIN_EXE_mailtalk");

/// The client, with the long timeout of runs that are not about a timeout: a busy machine
/// never decides these tests.
pub fn mailtalk(args: &[&str], stdin: &[u8]) -> Output {
    let mut all = vec!["--timeout", NO_TIMEOUT];
    all.extend_from_slice(args);
    support::mailtalk(&all, stdin)
}

/// Whether a client tool is there; without it the test is skipped, or fails when everything
/// is required.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var_os("MAILTALK_REQUIRE").is_some_and(|v| v == "1") {
            panic!("{tool} is required (MAILTALK_REQUIRE=1) but not installed");
        }
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

type Lines = Arc<(Mutex<(Vec<String>, bool)>, Condvar)>;

/// A running `mailtalk serve` and what it logged so far.
pub struct Serve {
    child: Child,
    lines: Lines,
    ports: BTreeMap<String, u16>,
    pub cert: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Serve {
    /// Starts `mailtalk serve` with every listener on a free port and `args` after them.
    pub fn start(args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        Serve::start_in(dir, args)
    }

    /// Like [`Serve::start`], keeping files in `dir` (a Maildir that outlives one run).
    pub fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Serve {
        let mut all = Vec::new();
        for l in ["smtp", "imap", "pop3", "smtps", "imaps", "pop3s", "lmtp"] {
            all.push(format!("--{l}"));
            all.push("127.0.0.1:0".to_string());
        }
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        Serve::start_only(dir, &all)
    }

    /// `mailtalk serve ARGS` with only the listeners `args` name (the defaults unless `off`).
    pub fn start_only(dir: tempfile::TempDir, args: &[&str]) -> Serve {
        let cert = dir.path().join("cert.pem");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve");
        cmd.arg("--cert-out")
            .arg(&cert)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("NO_COLOR");
        let mut child = cmd.spawn().expect("start mailtalk serve");
        let lines: Lines = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let (m, cv) = &*lines;
                    m.lock().unwrap().0.push(line);
                    cv.notify_all();
                }
                let (m, cv) = &*lines;
                m.lock().unwrap().1 = true;
                cv.notify_all();
            });
        }
        let mut s = Serve {
            child,
            lines,
            ports: BTreeMap::new(),
            cert,
            dir,
        };
        s.wait_for("Ctrl-C stops the server");
        let re = regex::Regex::new(r"listening: (\w+)://127\.0\.0\.1:(\d+)").unwrap();
        for line in s.log_lines() {
            if let Some(c) = re.captures(&line) {
                s.ports.insert(c[1].to_string(), c[2].parse().unwrap());
            }
        }
        s
    }

    pub fn port(&self, scheme: &str) -> u16 {
        *self
            .ports
            .get(scheme)
            .unwrap_or_else(|| panic!("no {scheme} listener in {:?}", self.ports))
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port(scheme))
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.lines.0.lock().unwrap().0.clone()
    }

    pub fn log(&self) -> String {
        self.log_lines().join("\n")
    }

    /// Waits until `done` finds what it looks for in the log lines so far (the hang guard, or
    /// the server ending first, fails the test; `what` says what was awaited).
    fn wait_log<T>(&self, what: &str, mut done: impl FnMut(&[String]) -> Option<T>) -> T {
        let (m, cv) = &*self.lines;
        let start = Instant::now();
        let mut g = m.lock().unwrap();
        loop {
            if let Some(found) = done(&g.0) {
                return found;
            }
            assert!(!g.1, "the server ended before {what}:\n{}", g.0.join("\n"));
            assert!(
                start.elapsed() < RUN_LIMIT,
                "never {what}:\n{}",
                g.0.join("\n")
            );
            g = cv.wait_timeout(g, Duration::from_millis(200)).unwrap().0;
        }
    }

    /// Waits until a log line contains `needle`, and returns it.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_log(&format!("logging {needle:?}"), |lines| {
            lines.iter().find(|l| l.contains(needle)).cloned()
        })
    }

    /// Waits until `n` log lines contain `needle`, and returns them all; more than `n` fails.
    pub fn wait_count(&self, needle: &str, n: usize) -> Vec<String> {
        self.wait_log(&format!("logging {needle:?} {n} times"), |lines| {
            let found: Vec<String> = lines
                .iter()
                .filter(|l| l.contains(needle))
                .cloned()
                .collect();
            assert!(
                found.len() <= n,
                "{} log lines with {needle:?}, not {n}:\n{}",
                found.len(),
                lines.join("\n")
            );
            (found.len() == n).then_some(found)
        })
    }

    /// How many log lines contain `needle` now.
    pub fn count(&self, needle: &str) -> usize {
        self.log_lines()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Ctrl-C (SIGINT), then waits for the process: its exit status, the whole log, and the
    /// directory of its files (to start it again on the same Maildir).
    pub fn stop(mut self) -> (Option<i32>, String, tempfile::TempDir) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        // The hang guard: a server that does not stop fails the test.
        let start = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if start.elapsed() > RUN_LIMIT {
                let _ = self.child.kill();
                panic!("mailtalk serve did not stop after Ctrl-C:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (m, cv) = &*self.lines;
        let mut g = m.lock().unwrap();
        while !g.1 {
            g = cv.wait_timeout(g, Duration::from_millis(200)).unwrap().0;
        }
        let log = g.0.join("\n");
        drop(g);
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (status.code(), log, dir)
    }

    /// Peak resident memory of the server so far, in bytes.
    pub fn peak_memory(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap();
        kb * 1024
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw client connection with a hang guard on every read.
pub struct Raw {
    pub s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(RUN_LIMIT)).unwrap();
        Raw { s, buf: Vec::new() }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Sends what it can; false once the server stopped reading.
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.s.write_all(bytes).is_ok()
    }

    /// The next line (with its CRLF), or None at the end of the stream.
    pub fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let rest = self.buf.split_off(i + 1);
                let line = std::mem::replace(&mut self.buf, rest);
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads lines until one starts with `prefix` (an SMTP reply's last line: `250 `).
    pub fn until(&mut self, prefix: &str) -> Vec<String> {
        let mut got = Vec::new();
        loop {
            let Some(l) = self.line() else {
                panic!("closed before a line starting {prefix:?}; got {got:?}")
            };
            let done = l.starts_with(prefix);
            got.push(l);
            if done {
                return got;
            }
        }
    }

    /// Exactly `n` bytes (a literal's content).
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => panic!("closed with {} of {n} bytes", self.buf.len()),
                Ok(got) => self.buf.extend_from_slice(&chunk[..got]),
            }
        }
        let rest = self.buf.split_off(n);
        std::mem::replace(&mut self.buf, rest)
    }

    /// Everything until the server closes.
    pub fn rest(&mut self) -> String {
        let mut v = std::mem::take(&mut self.buf);
        let _ = self.s.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    }
}

fn python(script: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A message with what breaks naive code: a leading dot, a line of dots, long lines, UTF-8.
fn tricky_message() -> Vec<u8> {
    let mut m = b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: round trip\r\nMessage-ID: <rt.1@example.test>\r\n\r\n".to_vec();
    m.extend_from_slice(b".a line that starts with a dot\r\n..\r\n.\r\nx\r\n");
    m.extend_from_slice("caf\u{e9} \u{2713}\r\n".as_bytes());
    m.extend_from_slice(&[b'y'; 900]);
    m.extend_from_slice(b"\r\nlast line\r\n");
    m
}

/// Message data as a client sends it after DATA: a leading dot doubled.
fn stuffed(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in msg.split_inclusive(|b| *b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// mailtalk itself

#[test]
fn mailtalk_sends_over_starttls_and_reads_back_over_imap_and_pop3() {
    let s = Serve::start(&["--catch-all"]);
    let ca = s.cert.to_str().unwrap().to_string();
    let msg = s.dir.path().join("m.eml");
    std::fs::write(&msg, tricky_message()).unwrap();
    let data = format!("@{}", msg.display());
    let out = mailtalk(
        &[
            &s.url("smtp"),
            "--starttls",
            "--ca-file",
            &ca,
            "--from",
            "alice@example.test",
            "--to",
            "bob@example.test",
            "--data",
            &data,
        ],
        b"",
    );
    assert_eq!(
        out.code,
        Some(0),
        "{}\n{}",
        out.stdout_str(),
        out.stderr_str()
    );
    assert!(
        out.stdout_str().contains("S# 250 2.0.0 Ok: queued as"),
        "{}",
        out.stdout_str()
    );
    s.wait_for("] message ");
    // IMAP over implicit TLS, verified against the server's certificate.
    let out = mailtalk(
        &[&s.url("imaps"), "--ca-file", &ca],
        b"a LOGIN bob@example.test secret\nb SELECT INBOX\nc FETCH 1 (BODY.PEEK[] RFC822.SIZE)\n",
    );
    assert_eq!(
        out.code,
        Some(0),
        "{}\n{}",
        out.stdout_str(),
        out.stderr_str()
    );
    let text = out.stdout_str();
    assert!(text.contains("S# * 1 EXISTS"), "{text}");
    assert!(text.contains(".a line that starts with a dot"), "{text}");
    assert!(text.contains("c OK"), "{text}");
    // POP3 with STLS.
    let out = mailtalk(
        &[&s.url("pop3"), "--starttls", "--ca-file", &ca],
        b"USER bob@example.test\nPASS secret\nSTAT\nRETR 1\n",
    );
    assert_eq!(
        out.code,
        Some(0),
        "{}\n{}",
        out.stdout_str(),
        out.stderr_str()
    );
    let text = out.stdout_str();
    assert!(text.contains("S# +OK 1 "), "{text}");
    assert!(text.contains("last line"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Python's smtplib, imaplib and poplib: byte for byte.

const PY_ROUND_TRIP: &str = r#"
import smtplib, imaplib, poplib, ssl, sys
smtp_port, imap_port, pop_port, ca, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
msg = open(path, "rb").read()
ctx = ssl.create_default_context(cafile=ca)
with smtplib.SMTP("127.0.0.1", smtp_port) as s:
    s.starttls(context=ctx)
    s.login("bob@example.test", "pw")
    refused = s.sendmail("alice@example.test", ["bob@example.test"], msg)
    assert refused == {}, refused
i = imaplib.IMAP4("127.0.0.1", imap_port)
i.starttls(ssl_context=ctx)
i.login("bob@example.test", "pw")
typ, data = i.select("INBOX")
assert typ == "OK", (typ, data)
typ, data = i.fetch("1", "(BODY.PEEK[])")
assert typ == "OK", (typ, data)
got = data[0][1]
assert got == msg, ("imap", got[:200], msg[:200])
typ, data = i.search(None, "SUBJECT", "round")
assert data[0] == b"1", data
i.logout()
p = poplib.POP3("127.0.0.1", pop_port)
p.stls(context=ctx)
p.user("bob@example.test")
p.pass_("pw")
resp, lines, octets = p.retr(1)
got = b"\r\n".join(lines) + b"\r\n"
assert got == msg, ("pop3", got[:200], msg[:200])
p.quit()
print("round trip ok")
"#;

#[test]
fn python_smtplib_imaplib_poplib_round_trip_byte_for_byte() {
    if !have("python3") {
        return;
    }
    let s = Serve::start(&[]);
    let msg = s.dir.path().join("m.eml");
    std::fs::write(&msg, tricky_message()).unwrap();
    let out = python(
        PY_ROUND_TRIP,
        &[
            &s.port("smtp").to_string(),
            &s.port("imap").to_string(),
            &s.port("pop3").to_string(),
            s.cert.to_str().unwrap(),
            msg.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("round trip ok"));
    // The log comes through a pipe: wait for the lines rather than look once.
    s.wait_for("] message ");
    s.wait_count("] login as bob@example.test", 3);
}

// ---------------------------------------------------------------------------------------------
// swaks

fn swaks(args: &[&str]) -> std::process::Output {
    Command::new("swaks")
        .args(["--to", "bob@example.test", "--from", "alice@example.test"])
        .args(["--helo", "client.test", "--timeout", "100"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn swaks_sends_plain_starttls_smtps_and_with_auth() {
    if !have("swaks") {
        return;
    }
    let s = Serve::start(&["--user", "bob@example.test:pw"]);
    let server = format!("127.0.0.1:{}", s.port("smtp"));
    let smtps = format!("127.0.0.1:{}", s.port("smtps"));
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("plain", vec!["--server", &server]),
        ("starttls", vec!["--server", &server, "--tls"]),
        ("smtps", vec!["--server", &smtps, "--tlsc"]),
        (
            "auth plain",
            vec![
                "--server",
                &server,
                "--tls",
                "--auth",
                "PLAIN",
                "--auth-user",
                "bob@example.test",
                "--auth-password",
                "pw",
            ],
        ),
        (
            "auth login",
            vec![
                "--server",
                &server,
                "--auth",
                "LOGIN",
                "--auth-user",
                "bob@example.test",
                "--auth-password",
                "pw",
            ],
        ),
        (
            "auth cram-md5",
            vec![
                "--server",
                &server,
                "--auth",
                "CRAM-MD5",
                "--auth-user",
                "bob@example.test",
                "--auth-password",
                "pw",
            ],
        ),
    ];
    for (n, (name, args)) in cases.iter().enumerate() {
        let out = swaks(args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("<-  250 2.0.0 Ok: queued as")
                || text.contains("<~  250 2.0.0 Ok: queued as"),
            "{name}: {text}"
        );
        s.wait_count("] message ", n + 1);
    }
    // A wrong password is refused with 535.
    let out = swaks(&[
        "--server",
        &server,
        "--auth",
        "PLAIN",
        "--auth-user",
        "bob@example.test",
        "--auth-password",
        "nope",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("535 5.7.8"), "{text}");
    // The log comes through a pipe: wait for the line, then look at everything before it.
    s.wait_for("failed login as bob@example.test");
    let log = s.log();
    assert!(!log.contains("nope"), "a password reached the log: {log}");
}

// ---------------------------------------------------------------------------------------------
// curl

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "100"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn curl_sends_and_reads_back_over_imap_and_pop3() {
    if !have("curl") {
        return;
    }
    let s = Serve::start(&["--user", "bob@example.test:pw"]);
    let ca = s.cert.to_str().unwrap();
    let msg = s.dir.path().join("m.eml");
    std::fs::write(&msg, tricky_message()).unwrap();
    let file = msg.to_str().unwrap();
    let sends = [
        vec![s.url("smtp")],
        vec![
            s.url("smtp"),
            "--ssl-reqd".into(),
            "--cacert".into(),
            ca.into(),
        ],
        vec![s.url("smtps"), "--cacert".into(), ca.into()],
        vec![
            s.url("smtp"),
            "--ssl-reqd".into(),
            "--cacert".into(),
            ca.into(),
            "-u".into(),
            "bob@example.test:pw".into(),
        ],
    ];
    for (n, args) in sends.iter().enumerate() {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend([
            "--mail-from",
            "alice@example.test",
            "--mail-rcpt",
            "bob@example.test",
            "-T",
            file,
        ]);
        let out = curl(&a);
        assert!(
            out.status.success(),
            "{a:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.wait_count("] message ", n + 1);
    }
    let want = tricky_message();
    let imap = format!("{}/INBOX;UID=1", s.url("imap"));
    let out = curl(&[
        &imap,
        "-u",
        "bob@example.test:pw",
        "--ssl-reqd",
        "--cacert",
        ca,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, want, "IMAP");
    let pop = format!("{}/4", s.url("pop3s"));
    let out = curl(&[&pop, "-u", "bob@example.test:pw", "--cacert", ca]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, want, "POP3");
    // A wrong password is refused over both.
    let out = curl(&[
        &imap,
        "-u",
        "bob@example.test:nope",
        "--ssl-reqd",
        "--cacert",
        ca,
    ]);
    assert!(!out.status.success());
}

// ---------------------------------------------------------------------------------------------
// Fault injection

fn smtp_session(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.until("220 ");
    c.send(b"EHLO client.test\r\n");
    c.until("250 ");
    c
}

#[test]
fn rejections_greylisting_and_tempfail_give_the_documented_replies() {
    let s = Serve::start(&[
        "--reject-rcpt",
        "^nobody@",
        "--reject-from",
        "spammer",
        "--greylist",
    ]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<spammer@evil.test>\r\n");
    assert!(c.line().unwrap().starts_with("550 5.1.0 "));
    c.send(b"MAIL FROM:<alice@example.test>\r\n");
    assert!(c.line().unwrap().starts_with("250 "));
    c.send(b"RCPT TO:<nobody@example.test>\r\n");
    assert!(c.line().unwrap().starts_with("550 5.1.1 "));
    c.send(b"RCPT TO:<bob@example.test>\r\n");
    assert!(
        c.line().unwrap().starts_with("451 4.7.1 "),
        "greylisted first"
    );
    c.send(b"RCPT TO:<bob@example.test>\r\n");
    assert!(c.line().unwrap().starts_with("250 "), "a retry passes");
    drop(c);

    let s = Serve::start(&["--tempfail-rate", "1", "--seed", "1"]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<alice@example.test>\r\n");
    let l = c.line().unwrap();
    assert!(
        l.starts_with("451 4.3.0 ") || l.starts_with("421 4.3.0 "),
        "{l}"
    );
    let s = Serve::start(&["--tempfail-rate", "0"]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<alice@example.test>\r\n");
    assert!(c.line().unwrap().starts_with("250 "));
}

#[test]
fn max_size_is_advertised_and_enforced() {
    let s = Serve::start(&["--max-size", "1000"]);
    let mut c = Raw::connect(s.port("smtp"));
    c.until("220 ");
    c.send(b"EHLO client.test\r\n");
    let ehlo = c.until("250 ").join("");
    assert!(ehlo.contains("250-SIZE 1000\r\n"), "{ehlo}");
    c.send(b"MAIL FROM:<a@example.test> SIZE=5000\r\n");
    assert!(c.line().unwrap().starts_with("552 5.3.4 "));
    c.send(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
    c.until("250 ");
    c.until("250 ");
    c.until("354 ");
    let mut body = Vec::new();
    for _ in 0..100 {
        body.extend_from_slice(&[b'z'; 50]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b".\r\n");
    c.send(&body);
    assert!(c.line().unwrap().starts_with("552 5.3.4 "));
    // The session goes on.
    c.send(b"NOOP\r\n");
    assert!(c.line().unwrap().starts_with("250 "));
}

#[test]
fn require_tls_and_require_auth() {
    let s = Serve::start(&["--require-tls", "--require-auth"]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<a@example.test>\r\n");
    assert!(c.line().unwrap().starts_with("530 5.7.0 "));
    let out = mailtalk(
        &[&s.url("smtps"), "--ca-file", s.cert.to_str().unwrap()],
        b"EHLO me.test\nMAIL FROM:<a@example.test>\n",
    );
    let text = out.stdout_str();
    assert!(text.contains("S# 530 5.7.0"), "{text}");
}

#[test]
fn drop_after_closes_at_each_phase() {
    let phases: [(&str, &[u8], &str); 6] = [
        ("greeting", b"", "220 "),
        ("ehlo", b"EHLO c.test\r\n", "250 "),
        (
            "mail",
            b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\n",
            "250 2.1.0",
        ),
        (
            "rcpt",
            b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<b@b.test>\r\n",
            "250 2.1.5",
        ),
        (
            "data",
            b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\n",
            "354 ",
        ),
        (
            "eod",
            b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\nhi\r\n.\r\n",
            "250 2.0.0",
        ),
    ];
    for (phase, input, last) in phases {
        let s = Serve::start(&["--drop-after", phase]);
        let mut c = Raw::connect(s.port("smtp"));
        c.send(input);
        let rest = c.rest();
        let last_line = rest.lines().last().unwrap_or("");
        assert!(last_line.starts_with(last), "{phase}: {rest:?}");
    }
    let s = Serve::start(&["--drop-after", "connect"]);
    let mut c = Raw::connect(s.port("smtp"));
    assert_eq!(c.rest(), "");
}

// ---------------------------------------------------------------------------------------------
// Hostile clients

#[test]
fn an_overlong_line_nul_bytes_and_garbage_end_that_session_only() {
    let s = Serve::start(&[]);
    let mut c = Raw::connect(s.port("smtp"));
    c.until("220 ");
    c.send(b"NOOP\x00x\r\n");
    assert!(c.line().unwrap().starts_with("500 5.5.2 "));
    c.send(b"\xff\xfe\x01garbage\r\n");
    assert!(c.line().unwrap().starts_with("500 "));
    // 100 MB without a line ending: refused, memory stays flat.
    let chunk = vec![b'A'; 1 << 20];
    let mut sent = 0;
    while sent < 100 && c.try_send(&chunk) {
        sent += 1;
    }
    let rest = c.rest();
    assert!(rest.contains("500 5.5.6 "), "{rest:?}");
    assert!(s.peak_memory() < 64 << 20, "{} bytes", s.peak_memory());
    // Everyone else is still served.
    let mut other = smtp_session(s.port("smtp"));
    other.send(b"QUIT\r\n");
    assert!(other.line().unwrap().starts_with("221 "));
    // IMAP: a literal larger than the limit is refused before it is read.
    let mut i = Raw::connect(s.port("imap"));
    i.line().unwrap();
    i.send(b"a LOGIN {99999999999}\r\n");
    let l = i.line().unwrap();
    assert!(
        l.starts_with("a NO") || l.starts_with("a BAD") || l.starts_with("* BAD"),
        "{l}"
    );
    // An early close in the middle of DATA leaves nothing stored.
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\nhalf a message\r\n");
    c.until("354 ");
    drop(c);
    s.wait_for("disconnected");
    assert_eq!(s.count("] message "), 0);
}

#[test]
fn a_gigabyte_message_gets_552_with_memory_flat() {
    let s = Serve::start(&["--max-size", "1000000"]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\n");
    c.until("250 ");
    c.until("250 ");
    c.until("354 ");
    let mut chunk = Vec::new();
    while chunk.len() < (1 << 20) {
        chunk.extend_from_slice(&[b'x'; 998]);
        chunk.extend_from_slice(b"\r\n");
    }
    let mut total = 0usize;
    while total < 1 << 30 {
        c.send(&chunk);
        total += chunk.len();
    }
    c.send(b".\r\n");
    let l = c.line().unwrap();
    assert!(l.starts_with("552 5.3.4 "), "{l}");
    assert!(s.peak_memory() < 64 << 20, "{} bytes", s.peak_memory());
}

#[test]
fn sessions_beyond_the_cap_get_421() {
    let s = Serve::start(&["--max-sessions", "2"]);
    let mut a = Raw::connect(s.port("smtp"));
    a.until("220 ");
    let mut b = Raw::connect(s.port("imap"));
    b.line().unwrap();
    let mut c = Raw::connect(s.port("smtp"));
    let l = c.line().unwrap();
    assert!(l.starts_with("421 4.7.0 "), "{l}");
    let mut d = Raw::connect(s.port("pop3"));
    assert!(d.line().unwrap().starts_with("-ERR [SYS/TEMP]"));
    a.send(b"QUIT\r\n");
    a.until("221 ");
}

#[test]
fn a_silent_or_dripping_client_is_cut_off_by_the_deadline() {
    let s = Serve::start(&["--command-timeout", "1", "--data-timeout", "1"]);
    let mut c = Raw::connect(s.port("smtp"));
    c.until("220 ");
    let rest = c.rest();
    assert!(rest.starts_with("421 4.4.2 "), "{rest:?}");
    // One byte at a time: the deadline is for the whole command, not for each byte.
    let mut c = Raw::connect(s.port("smtp"));
    c.until("220 ");
    let mut closed = false;
    for _ in 0..1000 {
        if !c.try_send(b"N") {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(closed || c.rest().contains("421 4.4.2 "));
    // IMAP literals one after another, each in time: the deadline is still for the whole
    // command. Without that the command would go on to its 64 literals and a BAD.
    let mut i = Raw::connect(s.port("imap"));
    i.line().unwrap();
    i.send(b"a SEARCH TEXT {1}\r\n");
    let mut cut = false;
    for _ in 0..64 {
        match i.line() {
            Some(l) if l.starts_with("+ ") => {}
            Some(l) if l.starts_with("* BYE") => {
                cut = true;
                break;
            }
            other => panic!("{other:?}"),
        }
        // The literal's byte and the rest of the line apart: data, then a command line.
        std::thread::sleep(Duration::from_millis(50));
        if !i.try_send(b"x") {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if !i.try_send(b" TEXT {1}\r\n") {
            cut = true;
            break;
        }
    }
    assert!(cut, "a command of literals outlived its deadline");
}

// ---------------------------------------------------------------------------------------------
// Stopping, Maildir, the log

#[test]
fn ctrl_c_tells_sessions_in_progress_and_maildir_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let md = maildir.to_str().unwrap().to_string();
    let s = Serve::start_in(dir, &["--maildir", &md]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<Bob@Example.test>\r\nDATA\r\n");
    c.until("250 ");
    c.until("250 ");
    c.until("354 ");
    c.send(&stuffed(&tricky_message()));
    c.send(b".\r\n");
    assert!(c.line().unwrap().starts_with("250 2.0.0 "));
    let mut i = Raw::connect(s.port("imap"));
    i.line().unwrap();
    let (code, log, dir) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopped"), "{log}");
    // The sessions in progress were told.
    let rest = c.rest();
    assert!(rest.starts_with("421 4.3.2 "), "{rest:?}\n{log}");
    assert!(i.rest().starts_with("* BYE"));
    // The files are there for other tools, and the next run serves them.
    let new: Vec<_> = std::fs::read_dir(maildir.join("bob@example.test/new"))
        .unwrap()
        .collect();
    assert_eq!(new.len(), 1);
    let s = Serve::start_in(dir, &["--maildir", &md]);
    let out = mailtalk(
        &[&s.url("imap")],
        b"a LOGIN bob@example.test x\nb SELECT INBOX\nc FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\n",
    );
    let text = out.stdout_str();
    assert!(text.contains("* 1 EXISTS"), "{text}");
    assert!(text.contains("Subject: round trip"), "{text}");
}

#[test]
fn stopping_ends_a_session_stuck_writing_to_a_client_that_does_not_read() {
    let s = Serve::start(&[]);
    let c = smtp_session(s.port("smtp"));
    // Many pipelined commands and no reading: the replies fill the socket buffers and the
    // session blocks writing them. The sender runs apart, since its writes block too.
    let mut w = c.s.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let noops = b"NOOP\r\n".repeat(100_000);
        let _ = w.write_all(&noops);
    });
    s.wait_for("smtp connection from");
    let (code, log, _) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopped"), "{log}");
    drop(c);
    let _ = sender.join();
}

#[test]
fn the_session_log_shows_each_line_flags_smuggling_bytes_and_redacts_secrets() {
    let s = Serve::start(&["--log-sessions"]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"AUTH PLAIN AGJvYgBodW50ZXIy\r\n");
    assert!(c.line().unwrap().starts_with("235 "));
    c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\n");
    c.until("354 ");
    c.send(b"Subject: x\r\n\r\nbare\nlf\r\n.unstuffed\r\n\x1b[31mred\r\n.\r\n");
    assert!(c.line().unwrap().starts_with("250 "));
    s.wait_for("] message ");
    let log = s.log();
    assert!(log.contains("C: AUTH PLAIN <redacted>"), "{log}");
    assert!(!log.contains("AGJvYgBodW50ZXIy"), "{log}");
    assert!(log.contains("bare LF"), "{log}");
    assert!(log.contains("single dot"), "{log}");
    assert!(log.contains("\\x1b[31mred"), "{log}");
    assert!(!log.contains('\x1b'), "{log}");
    assert!(log.contains("S: 354 "), "{log}");
}

#[test]
fn json_log_lines_parse() {
    let s = Serve::start(&["--json", "--log-sessions"]);
    let mut c = smtp_session(s.port("smtp"));
    c.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<b@b.test>\r\nDATA\r\nSubject: hi\r\n\r\nx\r\n.\r\n");
    c.until("354 ");
    c.until("250 ");
    s.wait_for("\"event\":\"message\"");
    for line in s.log_lines() {
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["event"] == "message" {
            assert_eq!(v["from"], "a@b.test");
            assert_eq!(v["to"][0], "b@b.test");
            assert_eq!(v["subject"], "hi");
        }
    }
}

#[test]
fn serve_refuses_bad_flags_before_listening() {
    let out = mailtalk(&["serve", "--smtp", "nowhere"], b"");
    assert_eq!(out.code, Some(2), "{}", out.stderr_str());
    let out = mailtalk(&["serve", "--reject-rcpt", "("], b"");
    assert_eq!(out.code, Some(2), "{}", out.stderr_str());
    assert!(out.stderr_str().contains("--reject-rcpt"));
    let _ = Path::new("");
}

mod auth;
mod big;
mod check;
mod content;
mod count;
mod demo;
mod discard;
mod dnssec;
mod faults;
mod hostile;
mod mailboxes;
mod smuggle;
