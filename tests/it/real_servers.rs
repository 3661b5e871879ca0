//! The built binary against a real Postfix and Dovecot on 127.0.0.1, started by
//! `tests/servers/start.sh` (or all in one go: `tests/servers/run-tests.sh`).
//!
//! The servers are described by the variables of start.sh's env file (MAILTALK_SMTP_PORT,
//! MAILTALK_CA, MAILTALK_USER, MAILTALK_TEST_PASSWORD, ...). Without them every test prints that
//! it was skipped and passes, unless MAILTALK_REQUIRE=1 (set by `.ci/run`: nothing a test needs
//! may be missing there): then it fails. The binary
//! gets the password in MAILTALK_PASSWORD only where a test means to give it.
//!
//! Every test stands alone: messages carry a unique Message-ID and are found by it, and a
//! delivery is polled for.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::Value;

const SKIPPED: &str =
    "skipped: no Postfix/Dovecot (run tests/servers/start.sh and source its env file)";
const REQUIRE: &str = "MAILTALK_REQUIRE";

const EXIT_OK: i32 = 0;
const EXIT_EXPECTATION: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_TLS: i32 = 4;
const EXIT_AUTH_FAILED: i32 = 9;

/// The hang guard: a run still going after this is killed and its test fails. No correct run
/// comes near it, however busy the machine.
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// A password the servers do not accept.
const WRONG_PASSWORD: &str = "not-the-password-3141";

// ---------------------------------------------------------------------------------------------
// The servers.

/// The running servers, as start.sh's env file describes them.
struct Servers {
    host: String,
    tls_name: String,
    ca: PathBuf,
    smtp: u16,
    smtps: u16,
    submission: u16,
    lmtp: u16,
    imap: u16,
    imaps: u16,
    pop3: u16,
    pop3s: u16,
    user: String,
    password: String,
    maildir: Option<PathBuf>,
    /// Postfix's configuration directory, for `postqueue -c DIR -j`: delivery is waited for
    /// by the state of Postfix's queue, not by a clock.
    postfix_config: PathBuf,
}

const PORT_VARS: [&str; 8] = [
    "MAILTALK_SMTP_PORT",
    "MAILTALK_SMTPS_PORT",
    "MAILTALK_SUBMISSION_PORT",
    "MAILTALK_LMTP_PORT",
    "MAILTALK_IMAP_PORT",
    "MAILTALK_IMAPS_PORT",
    "MAILTALK_POP3_PORT",
    "MAILTALK_POP3S_PORT",
];

fn var(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("{name} is not set")),
    }
}

fn port(name: &str) -> Result<u16, String> {
    let v = var(name)?;
    v.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{name}={v:?} is not a port number"))
}

impl Servers {
    fn from_env() -> Result<Servers, String> {
        let ca = PathBuf::from(var("MAILTALK_CA")?);
        if !ca.is_file() {
            return Err(format!("MAILTALK_CA={}: no such file", ca.display()));
        }
        let host = var("MAILTALK_HOST").unwrap_or_else(|_| "127.0.0.1".into());
        if host != "127.0.0.1" && host != "::1" {
            return Err(format!("MAILTALK_HOST={host:?}: only loopback is used"));
        }
        Ok(Servers {
            host,
            tls_name: var("MAILTALK_TLS_NAME").unwrap_or_else(|_| "localhost".into()),
            ca,
            smtp: port("MAILTALK_SMTP_PORT")?,
            smtps: port("MAILTALK_SMTPS_PORT")?,
            submission: port("MAILTALK_SUBMISSION_PORT")?,
            lmtp: port("MAILTALK_LMTP_PORT")?,
            imap: port("MAILTALK_IMAP_PORT")?,
            imaps: port("MAILTALK_IMAPS_PORT")?,
            pop3: port("MAILTALK_POP3_PORT")?,
            pop3s: port("MAILTALK_POP3S_PORT")?,
            user: var("MAILTALK_USER")?,
            // Older env files named it MAILTALK_PASSWORD.
            password: var("MAILTALK_TEST_PASSWORD")
                .or_else(|e| var("MAILTALK_PASSWORD").map_err(|_| e))?,
            maildir: std::env::var_os("MAILTALK_MAILDIR").map(PathBuf::from),
            postfix_config: PathBuf::from(var("MAILTALK_POSTFIX_CONFIG")?),
        })
    }

    /// `SCHEME://HOST:PORT`.
    fn url(&self, scheme: &str, port: u16) -> String {
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{port}", self.host)
        } else {
            format!("{scheme}://{}:{port}", self.host)
        }
    }

    /// What verifies the servers' certificate: the test CA and the name in the certificate.
    fn trust(&self) -> Vec<String> {
        vec![
            "--ca-file".into(),
            self.ca.display().to_string(),
            "--sni".into(),
            self.tls_name.clone(),
        ]
    }
}

/// The servers, or `None` (after saying so) when the environment does not describe any.
/// With MAILTALK_REQUIRE=1 a missing or incomplete description fails the test.
fn servers() -> Option<Servers> {
    let required = std::env::var(REQUIRE).is_ok_and(|v| v == "1");
    let any_set = PORT_VARS.iter().any(|v| std::env::var_os(v).is_some());
    match Servers::from_env() {
        Ok(s) => Some(s),
        Err(e) if required => panic!("{REQUIRE}=1 but the servers are not usable: {e}"),
        Err(e) if any_set => panic!("the Postfix/Dovecot environment is incomplete: {e}"),
        Err(_) => {
            println!("{SKIPPED}");
            None
        }
    }
}

macro_rules! servers_or_skip {
    () => {
        match servers() {
            Some(s) => s,
            None => return,
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Running the binary.

/// The outcome of one run of the binary.
struct Run {
    args: Vec<String>,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "mailtalk {}\nexit status {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            code,
            "expected exit status {code}\n{}",
            self.show()
        );
        self
    }

    fn has(&self, needle: &str) -> &Run {
        assert!(
            self.stdout.contains(needle),
            "expected {needle:?} in the output\n{}",
            self.show()
        );
        self
    }

    fn lacks(&self, needle: &str) -> &Run {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "did not expect {needle:?} in the output\n{}",
            self.show()
        );
        self
    }

    /// A line of the output that starts with `prefix`.
    fn has_line(&self, prefix: &str) -> &Run {
        assert!(
            self.stdout.lines().any(|l| l.starts_with(prefix)),
            "expected a line starting with {prefix:?}\n{}",
            self.show()
        );
        self
    }

    /// Nothing but the greeting and the STARTTLS exchange travelled in plaintext (`implicit`:
    /// nothing at all), TLS was verified, and everything after the handshake is marked `C#`/`S#`.
    fn verified_tls(&self, implicit: bool) -> &Run {
        let mut tls = false;
        let mut saw_tls_line = false;
        for line in self.stdout.lines() {
            if line.starts_with("** TLS established:") {
                assert!(
                    line.contains("certificate verified for"),
                    "TLS not verified: {line}\n{}",
                    self.show()
                );
                tls = true;
                continue;
            }
            let plain = line.starts_with("C: ") || line.starts_with("S: ");
            let unverified = line.starts_with("C! ") || line.starts_with("S! ");
            assert!(!unverified, "unverified TLS line {line:?}\n{}", self.show());
            if plain {
                assert!(
                    !tls && !implicit,
                    "plaintext line {line:?} where TLS was expected\n{}",
                    self.show()
                );
            }
            if line.starts_with("C# ") || line.starts_with("S# ") {
                assert!(tls, "{line:?} before TLS\n{}", self.show());
                saw_tls_line = true;
            }
        }
        assert!(
            tls && saw_tls_line,
            "no verified TLS session\n{}",
            self.show()
        );
        self
    }

    /// Plaintext only.
    fn plaintext(&self) -> &Run {
        for line in self.stdout.lines() {
            assert!(
                !(line.starts_with("C# ")
                    || line.starts_with("S# ")
                    || line.starts_with("C! ")
                    || line.starts_with("S! ")),
                "TLS line {line:?} in a plaintext session\n{}",
                self.show()
            );
        }
        self.has_line("S: ")
    }

    /// The JSON events of a `--json` run.
    fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}\n{}", self.show()))
            })
            .collect()
    }
}

/// Runs the binary with `args` (`--color never` and a timeout are added), `stdin` as its input
/// and `password` (or none) in MAILTALK_PASSWORD.
fn mailtalk(args: &[String], stdin: &[u8], password: Option<&str>) -> Run {
    // No test here is about a timeout: a busy server gets as long as the hang guard allows.
    let mut full: Vec<String> = vec!["--color".into(), "never".into(), "--timeout".into()];
    full.push("100".into());
    full.extend(args.iter().cloned());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailtalk"));
    cmd.args(&full)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("MAILTALK_PASSWORD")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    if let Some(p) = password {
        cmd.env("MAILTALK_PASSWORD", p);
    }
    let mut child = cmd.spawn().expect("cannot start mailtalk");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let run = Run {
        args: full,
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    };
    assert!(
        status.is_some(),
        "mailtalk ran for more than {RUN_LIMIT:?}\n{}",
        run.show()
    );
    run
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A token no other test (or earlier run) uses.
fn unique(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{label}.{}.{nanos}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Bare LF (and only bare LF) becomes CRLF.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn show_bytes(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .replace('\r', "\\r")
        .replace('\n', "\\n\n")
}

// ---------------------------------------------------------------------------------------------
// Reading a delivered message back.

fn decode_raw(ev: &Value) -> Vec<u8> {
    let raw = ev["raw_base64"]
        .as_str()
        .expect("received event without raw_base64");
    base64::engine::general_purpose::STANDARD
        .decode(raw)
        .expect("raw_base64 is not base64")
}

fn ending(ev: &Value) -> &'static [u8] {
    match ev["ending"].as_str() {
        Some("crlf") => b"\r\n",
        Some("lf") => b"\n",
        _ => b"",
    }
}

/// The literal of `* N FETCH (BODY[] {SIZE}` in a `--json` IMAP run, put back together from
/// the `received` events of its lines; its length must be the announced SIZE.
fn imap_body_literal(run: &Run) -> Option<Vec<u8>> {
    let events = run.events();
    let received: Vec<&Value> = events.iter().filter(|e| e["event"] == "received").collect();
    let start = received.iter().position(|e| {
        e["kind"] == "status" && {
            let raw = decode_raw(e);
            raw.starts_with(b"* ") && String::from_utf8_lossy(&raw).contains(" FETCH (BODY[] {")
        }
    })?;
    let head = String::from_utf8_lossy(&decode_raw(received[start])).into_owned();
    let size: usize = head
        .rsplit_once('{')
        .and_then(|(_, s)| s.strip_suffix('}'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected FETCH line {head:?}\n{}", run.show()));
    let mut literal = Vec::new();
    for ev in &received[start + 1..] {
        if ev["kind"] != "data" {
            break;
        }
        literal.extend_from_slice(&decode_raw(ev));
        literal.extend_from_slice(ending(ev));
    }
    assert_eq!(
        literal.len(),
        size,
        "the literal's lines do not add up to {{{size}}}\n{}",
        run.show()
    );
    Some(literal)
}

/// What Postfix's queue holds now (`postqueue -j`, one JSON object per message): the messages
/// still on their way, and the reason of any that was deferred.
fn postfix_queue(s: &Servers) -> (usize, Vec<String>) {
    let out = Command::new("postqueue")
        .arg("-c")
        .arg(&s.postfix_config)
        .arg("-j")
        .output()
        .unwrap_or_else(|e| panic!("cannot run postqueue: {e}"));
    assert!(
        out.status.success(),
        "postqueue -j failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pending = 0;
    let mut deferred = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        pending += 1;
        if v["queue_name"] == "deferred" || v["queue_name"] == "hold" {
            deferred.push(v.to_string());
        }
    }
    (pending, deferred)
}

/// Fetches the message with `message_id` from INBOX over IMAPS (SEARCHRES: `SEARCH RETURN
/// (SAVE)` then `FETCH $`), waiting for it to be delivered. The wait ends by Postfix's state,
/// never by a clock: a deferred message fails at once, and a message that is in neither the
/// queue nor INBOX fails.
fn imap_fetch(s: &Servers, message_id: &str) -> Vec<u8> {
    let script = format!(
        "EXAMINE INBOX\n\
         :expect OK\n\
         SEARCH RETURN (SAVE) HEADER Message-ID \"{message_id}\"\n\
         :expect OK\n\
         FETCH $ (BODY.PEEK[])\n\
         :expect OK\n"
    );
    let mut a = vec![s.url("imaps", s.imaps)];
    a.extend(s.trust());
    a.extend(args(&["--json", "--auth=PLAIN", "--user", &s.user]));
    let fetch = || {
        let run = mailtalk(&a, script.as_bytes(), Some(&s.password));
        run.expect_code(EXIT_OK);
        (imap_body_literal(&run), run)
    };
    loop {
        // The queue is looked at first: when it is empty, every message sent before has been
        // delivered (or bounced), so the fetch that follows is final.
        let (pending, deferred) = postfix_queue(s);
        assert!(
            deferred.is_empty(),
            "Postfix deferred a message instead of delivering it: {deferred:?}"
        );
        let (body, run) = fetch();
        if let Some(body) = body {
            return body;
        }
        assert!(
            pending > 0,
            "message {message_id} is neither in Postfix's queue nor in INBOX\n{}",
            run.show()
        );
        // Pacing only: the next look at the queue decides.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The messages a `--json` POP3 run retrieved with RETR, put back together from the data lines
/// between each `+OK` and the final `.`. mailtalk reports multi-line data dot-unstuffed (the
/// server's `..x` as `.x`), so the result is the message itself.
fn pop3_retrieved(run: &Run) -> Vec<Vec<u8>> {
    let events = run.events();
    let mut messages = Vec::new();
    let mut retr = false;
    let mut current: Option<Vec<u8>> = None;
    for ev in &events {
        match ev["event"].as_str() {
            Some("sent") => {
                retr = ev["text"].as_str().is_some_and(|t| t.starts_with("RETR "));
            }
            Some("received") if retr => {
                let raw = decode_raw(ev);
                match (ev["kind"].as_str(), current.as_mut()) {
                    (Some("data"), Some(m)) => {
                        m.extend_from_slice(&raw);
                        m.extend_from_slice(ending(ev));
                    }
                    (Some("status"), None) if raw.starts_with(b"+OK") => {
                        current = Some(Vec::new());
                    }
                    (Some("status"), Some(_)) if raw == b"." => {
                        messages.extend(current.take());
                        retr = false;
                    }
                    _ => panic!("unexpected line in a RETR reply: {ev}\n{}", run.show()),
                }
            }
            _ => {}
        }
    }
    messages
}

/// The number of messages POP3 STAT reports.
fn pop3_count(s: &Servers) -> usize {
    let mut a = vec![s.url("pop3s", s.pop3s)];
    a.extend(s.trust());
    a.extend(args(&["--json", "--auth=USER", "--user", &s.user]));
    let run = mailtalk(&a, b"STAT\n:expect +OK\n", Some(&s.password));
    run.expect_code(EXIT_OK);
    let events = run.events();
    let stat = events
        .iter()
        .filter(|e| e["event"] == "received")
        .map(decode_raw)
        .find_map(|raw| {
            let text = String::from_utf8_lossy(&raw).into_owned();
            text.strip_prefix("+OK ")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|_| text.split(' ').count() == 3)
        });
    stat.unwrap_or_else(|| panic!("no STAT reply\n{}", run.show()))
}

/// Retrieves the message with `message_id` over POP3S (RETR of the newest messages).
fn pop3_fetch(s: &Servers, message_id: &str) -> Vec<u8> {
    let count = pop3_count(s);
    assert!(count > 0, "POP3 sees an empty mailbox");
    let first = count.saturating_sub(49).max(1);
    let mut script = String::new();
    for n in (first..=count).rev() {
        script.push_str(&format!("RETR {n}\n:expect +OK\n"));
    }
    let mut a = vec![s.url("pop3s", s.pop3s)];
    a.extend(s.trust());
    a.extend(args(&["--json", "--auth=PLAIN", "--user", &s.user]));
    let run = mailtalk(&a, script.as_bytes(), Some(&s.password));
    run.expect_code(EXIT_OK);
    let messages = pop3_retrieved(&run);
    assert_eq!(messages.len(), count - first + 1, "\n{}", run.show());
    let needle = format!("\r\nMessage-ID: {message_id}\r\n");
    messages
        .into_iter()
        .find(|m| m.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .unwrap_or_else(|| panic!("message {message_id} not found over POP3"))
}

/// The file of the message in the Maildir, with LF turned into CRLF, when the Maildir is
/// readable (it belongs to the servers' mail user).
fn maildir_file(s: &Servers, message_id: &str) -> Option<Vec<u8>> {
    let maildir = s.maildir.as_ref()?;
    let needle = format!("\nMessage-ID: {message_id}\n");
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    return Some(crlf(&bytes));
                }
            }
        }
    }
    None
}

/// `delivered` is `sent` with only trace headers (Return-Path, Delivered-To, Received) on top.
fn assert_delivered_as_sent(delivered: &[u8], sent: &[u8], how: &str) {
    assert!(
        delivered.ends_with(sent),
        "{how}: the delivered message does not end with the message sent\n--- sent ---\n{}\n--- delivered ---\n{}",
        show_bytes(sent),
        show_bytes(delivered)
    );
    let trace = &delivered[..delivered.len() - sent.len()];
    let trace = String::from_utf8_lossy(trace);
    assert!(
        trace.contains("Received: "),
        "{how}: no Received header added\n{trace}"
    );
    for line in trace.split_terminator("\r\n") {
        let ok = line.starts_with("Return-Path: ")
            || line.starts_with("Delivered-To: ")
            || line.starts_with("Received: ")
            || line.starts_with(' ')
            || line.starts_with('\t');
        assert!(
            ok,
            "{how}: unexpected header {line:?} added on delivery\n{trace}"
        );
    }
}

/// Reads the message back over IMAP and POP3 (and from the Maildir where readable) and checks
/// each against what was sent.
fn assert_round_trip(s: &Servers, message_id: &str, sent: &[u8]) {
    let imap = imap_fetch(s, message_id);
    assert_delivered_as_sent(&imap, sent, "IMAP FETCH BODY[]");
    let pop3 = pop3_fetch(s, message_id);
    assert_eq!(
        show_bytes(&pop3),
        show_bytes(&imap),
        "POP3 RETR and IMAP FETCH differ"
    );
    if let Some(file) = maildir_file(s, message_id) {
        assert_eq!(
            show_bytes(&file),
            show_bytes(&imap),
            "the Maildir file and IMAP FETCH differ"
        );
    } else {
        println!("note: Maildir not readable here; compared over IMAP and POP3 only");
    }
}

/// A message whose body needs dot-stuffing and CRLF normalisation: lines starting with "." and
/// "..", lone "." lines (ending in CRLF and in a bare LF), bare LF lines, a line of 998
/// characters (the longest SMTP allows). `last` is its final line, written without a newline
/// when `final_newline` is false.
fn tricky_message(token: &str, message_id: &str, last: &str, final_newline: bool) -> Vec<u8> {
    let long: String = (0..998)
        .map(|i| char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[i % 36]))
        .collect();
    let mut m = format!(
        "From: Mailtalk Test <sender@example.test>\n\
         To: alice@example.test\n\
         Subject: mailtalk real-server test {token}\n\
         Message-ID: {message_id}\n\
         Date: Fri, 28 Nov 2025 12:00:00 +0000\n\
         MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=us-ascii\n\
         \n\
         This line ends in CRLF.\r\n\
         .a line starting with one dot\r\n\
         ..a line starting with two dots\r\n\
         .\r\n\
         the line above is a lone dot ending in CRLF\n\
         .\n\
         the line above is a lone dot ending in a bare LF\n\
         ...\n\
         a bare LF line\n\
         \n\
         trailing spaces   \n\
         \ta tab-indented line\n\
         {long}\n\
         . a dot and a space\r\n"
    )
    .into_bytes();
    m.extend_from_slice(last.as_bytes());
    if final_newline {
        m.push(b'\n');
    }
    m
}

/// What the server must have received for `file`: CRLF line endings, and a final CRLF.
fn as_sent(file: &[u8]) -> Vec<u8> {
    let mut m = crlf(file);
    if !m.ends_with(b"\r\n") {
        m.extend_from_slice(b"\r\n");
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Every protocol over every transport.

#[test]
fn smtp_plain() {
    let s = servers_or_skip!();
    let run = mailtalk(
        &[s.url("smtp", s.smtp)],
        b"EHLO mailtalk.test\nNOOP\n",
        None,
    );
    run.expect_code(EXIT_OK)
        .plaintext()
        .has_line("S: 220 ")
        .has("C: EHLO mailtalk.test\n")
        .has("S: 250-STARTTLS\n")
        .has("C: NOOP\n")
        .has("S: 250 2.0.0 Ok\n")
        .has("C: QUIT\n")
        .has_line("S: 221 2.0.0");
}

#[test]
fn smtp_starttls() {
    let s = servers_or_skip!();
    let mut a = args(&["--starttls", "--ehlo", "mailtalk.test"]);
    a.push(s.url("smtp", s.smtp));
    a.extend(s.trust());
    let run = mailtalk(&a, b"NOOP\n", None);
    run.expect_code(EXIT_OK)
        .verified_tls(false)
        .has("C: EHLO mailtalk.test\n")
        .has("C: STARTTLS\n")
        .has_line("S: 220 2.0.0")
        .has("C# EHLO mailtalk.test\n")
        .has("removed STARTTLS")
        .has("C# NOOP\n")
        .has("S# 250 2.0.0 Ok\n")
        .has_line("S# 221 ");
}

#[test]
fn smtps() {
    let s = servers_or_skip!();
    let mut a = vec![s.url("smtps", s.smtps)];
    a.extend(s.trust());
    let run = mailtalk(&a, b"EHLO mailtalk.test\n", None);
    run.expect_code(EXIT_OK)
        .verified_tls(true)
        .has_line("S# 220 ")
        .has("C# EHLO mailtalk.test\n")
        .has("S# 250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256\n")
        .lacks("STARTTLS")
        .has_line("S# 221 ");
}

#[test]
fn submission_requires_starttls() {
    let s = servers_or_skip!();
    let mut a = vec![s.url("submission", s.submission)];
    a.extend(s.trust());
    let run = mailtalk(&a, b"NOOP\n", None);
    run.expect_code(EXIT_OK)
        .verified_tls(false)
        .has("C: STARTTLS\n")
        .has("S# 250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256\n")
        .has("C# NOOP\n")
        .has_line("S# 221 ");
    // Postfix offers AUTH on submission only inside TLS.
    let before_tls = run.stdout.split("** TLS established").next().unwrap();
    assert!(!before_tls.contains("AUTH"), "\n{}", run.show());
}

#[test]
fn lmtp_delivers_to_dovecot() {
    let s = servers_or_skip!();
    let token = unique("lmtp");
    let message_id = format!("<{token}@mailtalk.test>");
    let body = [
        "From: LMTP Test <lmtp@example.test>".to_string(),
        "To: alice@example.test".to_string(),
        format!("Subject: mailtalk LMTP test {token}"),
        format!("Message-ID: {message_id}"),
        "Date: Fri, 28 Nov 2025 12:00:00 +0000".to_string(),
        String::new(),
        ".a line starting with a dot".to_string(),
        "..two dots".to_string(),
        "the end".to_string(),
    ];
    let mut input = format!(
        "LHLO mailtalk.test\n\
         MAIL FROM:<lmtp-{token}@example.test>\n\
         RCPT TO:<{}>\n\
         DATA\n",
        s.user
    );
    for line in &body {
        input.push_str(line);
        input.push('\n');
    }
    input.push_str(".\n");
    let run = mailtalk(&[s.url("lmtp", s.lmtp)], input.as_bytes(), None);
    run.expect_code(EXIT_OK)
        .plaintext()
        .has_line("S: 220 ")
        .has("C: LHLO mailtalk.test\n")
        .has("S: 250-PIPELINING\n")
        .has_line("S: 250 2.1.0")
        .has_line("S: 250 2.1.5")
        .has_line("S: 354 ")
        .has(&format!("S: 250 2.0.0 <{}> ", s.user))
        .has_line("S: 221 ");
    let mut sent = body.join("\r\n").into_bytes();
    sent.extend_from_slice(b"\r\n");
    let delivered = imap_fetch(&s, &message_id);
    assert_delivered_as_sent(&delivered, &sent, "LMTP then IMAP FETCH");
}

#[test]
fn lmtp_starttls() {
    let s = servers_or_skip!();
    let mut a = args(&["--starttls", "--ehlo", "mailtalk.test"]);
    a.push(s.url("lmtp", s.lmtp));
    a.extend(s.trust());
    let run = mailtalk(&a, b"NOOP\n", None);
    run.expect_code(EXIT_OK)
        .verified_tls(false)
        .has("C: LHLO mailtalk.test\n")
        .has("C: STARTTLS\n")
        .has("C# LHLO mailtalk.test\n")
        .has("C# NOOP\n")
        .has_line("S# 250 ")
        .has_line("S# 221 ");
}

#[test]
fn imap_plain() {
    let s = servers_or_skip!();
    let run = mailtalk(&[s.url("imap", s.imap)], b"CAPABILITY\nNOOP\n", None);
    run.expect_code(EXIT_OK)
        .plaintext()
        .has_line("S: * OK [CAPABILITY IMAP4rev1")
        .has("C: A001 CAPABILITY\n")
        .has_line("S: * CAPABILITY IMAP4rev1")
        .has_line("S: A001 OK ")
        .has("C: A002 NOOP\n")
        .has_line("S: A002 OK ")
        .has("C: A003 LOGOUT\n")
        .has_line("S: * BYE ")
        .has_line("S: A003 OK ");
}

#[test]
fn imap_starttls() {
    let s = servers_or_skip!();
    let mut a = args(&["--starttls"]);
    a.push(s.url("imap", s.imap));
    a.extend(s.trust());
    let run = mailtalk(&a, b"NOOP\n", None);
    run.expect_code(EXIT_OK)
        .verified_tls(false)
        .has("C: A001 STARTTLS\n")
        .has_line("S: A001 OK ")
        .has("C# A002 CAPABILITY\n")
        .has("removed STARTTLS")
        .has("C# A003 NOOP\n")
        .has_line("S# A003 OK ")
        .has("C# A004 LOGOUT\n");
}

#[test]
fn imaps() {
    let s = servers_or_skip!();
    let mut a = vec![s.url("imaps", s.imaps)];
    a.extend(s.trust());
    let run = mailtalk(&a, b"NOOP\n", None);
    run.expect_code(EXIT_OK)
        .verified_tls(true)
        .has_line("S# * OK [CAPABILITY IMAP4rev1")
        .has("C# A001 NOOP\n")
        .has_line("S# A001 OK ")
        .has("C# A002 LOGOUT\n")
        .has_line("S# A002 OK ");
}

#[test]
fn pop3_plain() {
    let s = servers_or_skip!();
    let run = mailtalk(&[s.url("pop3", s.pop3)], b"CAPA\n", None);
    run.expect_code(EXIT_OK)
        .plaintext()
        .has("S: +OK Dovecot")
        .has("C: CAPA\n")
        .has("S: STLS\n")
        .has("S: SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256\n")
        .has("S: .\n")
        .has("C: QUIT\n")
        .has_line("S: +OK Logging out");
}

#[test]
fn pop3_starttls() {
    let s = servers_or_skip!();
    let mut a = args(&["--starttls"]);
    a.push(s.url("pop3", s.pop3));
    a.extend(s.trust());
    let run = mailtalk(&a, b"CAPA\n", None);
    run.expect_code(EXIT_OK)
        .verified_tls(false)
        .has("C: STLS\n")
        .has_line("S: +OK Begin TLS")
        .has("C# CAPA\n")
        .has("S# SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256\n")
        .has("removed STLS")
        .has("C# QUIT\n");
}

#[test]
fn pop3s() {
    let s = servers_or_skip!();
    let mut a = vec![s.url("pop3s", s.pop3s)];
    a.extend(s.trust());
    let run = mailtalk(&a, b"CAPA\n", None);
    run.expect_code(EXIT_OK)
        .verified_tls(true)
        .has("S# +OK Dovecot")
        .has("C# CAPA\n")
        .has("S# USER\n")
        .has("S# .\n")
        .has("C# QUIT\n")
        .lacks("STLS");
}

// ---------------------------------------------------------------------------------------------
// Certificates.

/// (scheme, port, whether --starttls is needed) for every TLS transport.
fn tls_transports(s: &Servers) -> Vec<(&'static str, u16, bool)> {
    vec![
        ("smtp", s.smtp, true),
        ("submission", s.submission, false),
        ("smtps", s.smtps, false),
        ("lmtp", s.lmtp, true),
        ("imap", s.imap, true),
        ("imaps", s.imaps, false),
        ("pop3", s.pop3, true),
        ("pop3s", s.pop3s, false),
    ]
}

/// The test CA is in no system trust store: without --ca-file every TLS transport stops with
/// status 4, before anything is sent inside TLS.
#[test]
fn certificate_refused_without_ca_file() {
    let s = servers_or_skip!();
    let mut failures = Vec::new();
    for (scheme, port, starttls) in tls_transports(&s) {
        let mut a = Vec::new();
        if starttls {
            a.push("--starttls".to_string());
        }
        a.push(s.url(scheme, port));
        a.extend(args(&["--sni", &s.tls_name]));
        let run = mailtalk(&a, b"NOOP\n", None);
        let ok = run.code == EXIT_TLS
            && run.stdout.contains("certificate verification failed")
            && !run.stdout.contains("C# ")
            && !run.stdout.contains("C! ")
            && !run.stdout.contains("NOOP");
        if !ok {
            failures.push(run.show());
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn certificate_verified_for_every_tls_transport() {
    let s = servers_or_skip!();
    let mut failures = Vec::new();
    for (scheme, port, starttls) in tls_transports(&s) {
        let mut a = Vec::new();
        if starttls {
            a.push("--starttls".to_string());
        }
        a.push(s.url(scheme, port));
        a.extend(s.trust());
        let run = mailtalk(&a, b"", None);
        let ok = run.code == EXIT_OK
            && run
                .stdout
                .contains(&format!("certificate verified for {}", s.tls_name))
            && run.stdout.lines().any(|l| l.starts_with("S# "));
        if !ok {
            failures.push(run.show());
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The certificate also names IP:127.0.0.1: without --sni the address itself is verified.
#[test]
fn certificate_verified_for_the_address() {
    let s = servers_or_skip!();
    let run = mailtalk(
        &[
            s.url("imaps", s.imaps),
            "--ca-file".into(),
            s.ca.display().to_string(),
        ],
        b"",
        None,
    );
    run.expect_code(EXIT_OK)
        .verified_tls(true)
        .has(&format!("certificate verified for {}", s.host));
}

#[test]
fn certificate_for_another_name_refused() {
    let s = servers_or_skip!();
    let mut failures = Vec::new();
    for (scheme, port, starttls) in [("smtps", s.smtps, false), ("imap", s.imap, true)] {
        let mut a = Vec::new();
        if starttls {
            a.push("--starttls".to_string());
        }
        a.push(s.url(scheme, port));
        a.extend(args(&[
            "--ca-file",
            &s.ca.display().to_string(),
            "--sni",
            "other.example.test",
        ]));
        let run = mailtalk(&a, b"NOOP\n", None);
        if run.code != EXIT_TLS || run.stdout.contains("NOOP") {
            failures.push(run.show());
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Authentication.

/// The password (and the PLAIN payload that carries it) never shows.
fn assert_no_secret(run: &Run, s: &Servers, password: &str) {
    run.lacks(password);
    let plain = base64::engine::general_purpose::STANDARD
        .encode(format!("\0{}\0{password}", s.user).as_bytes());
    run.lacks(&plain);
    run.lacks(&base64::engine::general_purpose::STANDARD.encode(password.as_bytes()));
}

fn submission_auth(mech: &str) {
    let s = servers_or_skip!();
    let mut a = vec![s.url("submission", s.submission)];
    a.extend(s.trust());
    a.extend(args(&[&format!("--auth={mech}"), "--user", &s.user]));
    let run = mailtalk(&a, b"NOOP\n", Some(&s.password));
    run.expect_code(EXIT_OK)
        .verified_tls(false)
        .has_line(&format!("C# AUTH {mech}"))
        .has("S# 235 2.7.0 Authentication successful\n")
        .has(&format!("** authenticated as {}\n", s.user))
        .has("C# NOOP\n");
    assert_no_secret(&run, &s, &s.password);
}

#[test]
fn submission_auth_plain() {
    submission_auth("PLAIN");
}

#[test]
fn submission_auth_login() {
    submission_auth("LOGIN");
}

#[test]
fn submission_auth_cram_md5() {
    submission_auth("CRAM-MD5");
}

#[test]
fn submission_auth_scram_sha_1() {
    submission_auth("SCRAM-SHA-1");
}

#[test]
fn submission_auth_scram_sha_256() {
    submission_auth("SCRAM-SHA-256");
}

/// `--auth` without a mechanism takes the strongest the server offers.
#[test]
fn smtps_auth_strongest() {
    let s = servers_or_skip!();
    let mut a = vec![s.url("smtps", s.smtps)];
    a.extend(s.trust());
    a.extend(args(&["--user", &s.user]));
    let run = mailtalk(&a, b"", Some(&s.password));
    run.expect_code(EXIT_OK)
        .verified_tls(true)
        .has_line("C# AUTH SCRAM-SHA-256")
        .has_line("S# 235 ");
    assert_no_secret(&run, &s, &s.password);
}

#[test]
fn submission_wrong_password() {
    let s = servers_or_skip!();
    for mech in ["PLAIN", "SCRAM-SHA-256"] {
        let mut a = vec![s.url("submission", s.submission)];
        a.extend(s.trust());
        a.extend(args(&[&format!("--auth={mech}"), "--user", &s.user]));
        let run = mailtalk(&a, b"NOOP\n", Some(WRONG_PASSWORD));
        run.expect_code(EXIT_AUTH_FAILED)
            .has_line("S# 535 5.7.8")
            .has("authentication as")
            .lacks("C# NOOP");
        assert_no_secret(&run, &s, WRONG_PASSWORD);
    }
}

fn imap_auth(mech: &str) {
    let s = servers_or_skip!();
    let mut a = vec![s.url("imaps", s.imaps)];
    a.extend(s.trust());
    a.extend(args(&[&format!("--auth={mech}"), "--user", &s.user]));
    let run = mailtalk(&a, b"SELECT INBOX\n:expect OK\n", Some(&s.password));
    let command = if mech == "IMAP-LOGIN" {
        format!("C# A001 LOGIN \"{}\" <redacted>\n", s.user)
    } else {
        format!("C# A001 AUTHENTICATE {mech}")
    };
    run.expect_code(EXIT_OK)
        .verified_tls(true)
        .has(&command)
        .has_line("S# A001 OK ")
        .has(&format!("** authenticated as {}\n", s.user))
        .has("C# A002 SELECT INBOX\n")
        .has_line("S# A002 OK ");
    assert_no_secret(&run, &s, &s.password);
}

#[test]
fn imap_auth_plain() {
    imap_auth("PLAIN");
}

#[test]
fn imap_auth_login() {
    imap_auth("LOGIN");
}

#[test]
fn imap_auth_cram_md5() {
    imap_auth("CRAM-MD5");
}

#[test]
fn imap_auth_scram_sha_1() {
    imap_auth("SCRAM-SHA-1");
}

#[test]
fn imap_auth_scram_sha_256() {
    imap_auth("SCRAM-SHA-256");
}

#[test]
fn imap_auth_imap_login() {
    imap_auth("IMAP-LOGIN");
}

/// Plaintext IMAP on loopback: mailtalk allows the password, Dovecot accepts it (same IP).
#[test]
fn imap_plain_auth_on_loopback() {
    let s = servers_or_skip!();
    let a = vec![
        s.url("imap", s.imap),
        "--auth=PLAIN".into(),
        "--user".into(),
        s.user.clone(),
    ];
    let run = mailtalk(&a, b"NOOP\n", Some(&s.password));
    run.expect_code(EXIT_OK)
        .plaintext()
        .has_line("C: A001 AUTHENTICATE PLAIN")
        .has_line("S: A001 OK ")
        .has_line("S: A002 OK ");
    assert_no_secret(&run, &s, &s.password);
}

#[test]
fn imap_starttls_auth_scram() {
    let s = servers_or_skip!();
    let mut a = args(&["--starttls"]);
    a.push(s.url("imap", s.imap));
    a.extend(s.trust());
    a.extend(args(&["--auth=SCRAM-SHA-256", "--user", &s.user]));
    let run = mailtalk(&a, b"NOOP\n", Some(&s.password));
    run.expect_code(EXIT_OK)
        .verified_tls(false)
        .has_line("C# A003 AUTHENTICATE SCRAM-SHA-256")
        .has_line("S# A003 OK ")
        .has_line("S# A004 OK ");
    assert_no_secret(&run, &s, &s.password);
}

#[test]
fn imap_wrong_password() {
    let s = servers_or_skip!();
    for mech in ["PLAIN", "IMAP-LOGIN"] {
        let mut a = vec![s.url("imaps", s.imaps)];
        a.extend(s.trust());
        a.extend(args(&[&format!("--auth={mech}"), "--user", &s.user]));
        let run = mailtalk(&a, b"SELECT INBOX\n", Some(WRONG_PASSWORD));
        run.expect_code(EXIT_AUTH_FAILED)
            .has_line("S# A001 NO [AUTHENTICATIONFAILED]")
            .has("authentication as")
            .lacks("SELECT");
        assert_no_secret(&run, &s, WRONG_PASSWORD);
    }
}

fn pop3_auth(mech: &str) {
    let s = servers_or_skip!();
    let mut a = vec![s.url("pop3s", s.pop3s)];
    a.extend(s.trust());
    a.extend(args(&[&format!("--auth={mech}"), "--user", &s.user]));
    let run = mailtalk(&a, b"STAT\n:expect +OK\n", Some(&s.password));
    let command = if mech == "USER" {
        format!("C# USER {}\n", s.user)
    } else {
        format!("C# AUTH {mech}")
    };
    run.expect_code(EXIT_OK)
        .verified_tls(true)
        .has(&command)
        .has(&format!("** authenticated as {}\n", s.user))
        .has("C# STAT\n")
        .has_line("S# +OK ");
    if mech == "USER" {
        run.has("C# PASS <redacted>\n");
    }
    assert_no_secret(&run, &s, &s.password);
}

#[test]
fn pop3_auth_plain() {
    pop3_auth("PLAIN");
}

#[test]
fn pop3_auth_login() {
    pop3_auth("LOGIN");
}

#[test]
fn pop3_auth_cram_md5() {
    pop3_auth("CRAM-MD5");
}

#[test]
fn pop3_auth_scram_sha_1() {
    pop3_auth("SCRAM-SHA-1");
}

#[test]
fn pop3_auth_scram_sha_256() {
    pop3_auth("SCRAM-SHA-256");
}

#[test]
fn pop3_auth_user_pass() {
    pop3_auth("USER");
}

/// Plaintext POP3 on loopback with USER/PASS, and STLS with SCRAM.
#[test]
fn pop3_auth_plain_and_stls_transports() {
    let s = servers_or_skip!();
    let a = vec![
        s.url("pop3", s.pop3),
        "--auth=USER".into(),
        "--user".into(),
        s.user.clone(),
    ];
    let run = mailtalk(&a, b"STAT\n", Some(&s.password));
    run.expect_code(EXIT_OK)
        .plaintext()
        .has("C: PASS <redacted>\n")
        .has_line("S: +OK Logged in");
    assert_no_secret(&run, &s, &s.password);

    let mut a = args(&["--starttls"]);
    a.push(s.url("pop3", s.pop3));
    a.extend(s.trust());
    a.extend(args(&["--auth=SCRAM-SHA-1", "--user", &s.user]));
    let run = mailtalk(&a, b"STAT\n", Some(&s.password));
    run.expect_code(EXIT_OK)
        .verified_tls(false)
        .has_line("C# AUTH SCRAM-SHA-1")
        .has_line("S# +OK Logged in");
    assert_no_secret(&run, &s, &s.password);
}

#[test]
fn pop3_wrong_password() {
    let s = servers_or_skip!();
    for mech in ["USER", "CRAM-MD5"] {
        let mut a = vec![s.url("pop3s", s.pop3s)];
        a.extend(s.trust());
        a.extend(args(&[&format!("--auth={mech}"), "--user", &s.user]));
        let run = mailtalk(&a, b"STAT\n", Some(WRONG_PASSWORD));
        run.expect_code(EXIT_AUTH_FAILED)
            .has_line("S# -ERR [AUTH] ")
            .has("authentication as")
            .lacks("STAT");
        assert_no_secret(&run, &s, WRONG_PASSWORD);
    }
}

/// APOP needs a `<timestamp>` in the greeting. Dovecot sends one only when configured to; if it
/// does not, mailtalk must refuse APOP before sending anything.
#[test]
fn pop3_apop() {
    let s = servers_or_skip!();
    let mut a = vec![s.url("pop3s", s.pop3s)];
    a.extend(s.trust());
    a.extend(args(&["--auth=APOP", "--user", &s.user]));
    let run = mailtalk(&a, b"STAT\n", Some(&s.password));
    let greeting = run
        .stdout
        .lines()
        .find(|l| l.starts_with("S# +OK"))
        .unwrap_or_else(|| panic!("no greeting\n{}", run.show()))
        .to_string();
    let has_timestamp = greeting
        .find('<')
        .is_some_and(|i| greeting[i..].contains('@') && greeting[i..].contains('>'));
    if has_timestamp {
        run.expect_code(EXIT_OK)
            .has_line("C# APOP ")
            .has_line("S# +OK ")
            .has("C# STAT\n");
        assert_no_secret(&run, &s, &s.password);
    } else {
        println!("note: APOP not tested: Dovecot's greeting has no <timestamp> ({greeting})");
        run.expect_code(EXIT_USAGE)
            .has("APOP is not possible")
            .lacks("C# APOP")
            .lacks("STAT");
    }
}

// ---------------------------------------------------------------------------------------------
// Sending: Postfix takes the message, delivers it over LMTP into Dovecot, read back over IMAP
// and POP3.

#[test]
fn one_shot_send_round_trip() {
    let s = servers_or_skip!();
    let token = unique("oneshot");
    let message_id = format!("<{token}@mailtalk.test>");
    // The body ends with a lone "." line.
    let file = tricky_message(&token, &message_id, ".", true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message.eml");
    std::fs::write(&path, &file).unwrap();
    let mut a = vec![s.url("submission", s.submission)];
    a.extend(s.trust());
    a.extend(args(&[
        "--auth",
        "--user",
        &s.user,
        "--from",
        "sender@example.test",
        "--to",
        "alice@example.test",
        "--data",
        &format!("@{}", path.display()),
    ]));
    let run = mailtalk(&a, b"", Some(&s.password));
    run.expect_code(EXIT_OK)
        .verified_tls(false)
        .has_line("S# 235 ")
        .has("C# MAIL FROM:<sender@example.test>")
        .has("C# RCPT TO:<alice@example.test>")
        .has("C# DATA\n")
        .has_line("S# 354 ")
        .has_line("S# 250 2.0.0 Ok: queued as ")
        .has_line("S# 221 ");
    assert_no_secret(&run, &s, &s.password);
    assert_round_trip(&s, &message_id, &as_sent(&file));
}

#[test]
fn script_send_round_trip() {
    let s = servers_or_skip!();
    let token = unique("script");
    let message_id = format!("<{token}@mailtalk.test>");
    // The file ends without a newline: mailtalk adds the final CRLF.
    let file = tricky_message(&token, &message_id, "no newline after this line", false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message.eml");
    std::fs::write(&path, &file).unwrap();
    let script = format!(
        "EHLO mailtalk.test\n\
         :expect 250 /AUTH .*SCRAM-SHA-256/\n\
         :auth CRAM-MD5 {user}\n\
         :expect 235 2.7.0\n\
         :send --from sender@example.test --to alice@example.test --data @{path}\n\
         :expect 250 2.0.0 /queued as/\n\
         NOOP\n\
         :expect 250\n",
        user = s.user,
        path = path.display()
    );
    let script_path = dir.path().join("send.mts");
    std::fs::write(&script_path, script).unwrap();
    let mut a = vec![s.url("smtps", s.smtps)];
    a.extend(s.trust());
    a.extend(args(&["--script", &script_path.display().to_string()]));
    let run = mailtalk(&a, b"", Some(&s.password));
    run.expect_code(EXIT_OK)
        .verified_tls(true)
        .has_line("C# AUTH CRAM-MD5")
        .has("C# MAIL FROM:<sender@example.test>")
        .has_line("S# 250 2.0.0 Ok: queued as ")
        .has("C# NOOP\n")
        .lacks("expectation failed");
    assert_no_secret(&run, &s, &s.password);
    assert_round_trip(&s, &message_id, &as_sent(&file));
}

// ---------------------------------------------------------------------------------------------
// Scripts with expectations.

#[test]
fn script_expectations_pass() {
    let s = servers_or_skip!();
    let token = unique("expect");
    let script = format!(
        "EHLO mailtalk.test\n\
         :expect 250 /STARTTLS/\n\
         MAIL FROM:<{token}@example.test>\n\
         :expect 250 2.1.0\n\
         RCPT TO:<nobody@example.test>\n\
         :expect 550 5.1.1 /User unknown/\n\
         :expect 5xx\n\
         :expect fail\n\
         RCPT TO:<alice@example.test>\n\
         :expect 2xx\n\
         RSET\n\
         :expect ok\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pass.mts");
    std::fs::write(&path, script).unwrap();
    let run = mailtalk(
        &[
            s.url("smtp", s.smtp),
            "--script".into(),
            path.display().to_string(),
        ],
        b"",
        None,
    );
    run.expect_code(EXIT_OK)
        .plaintext()
        .has_line("S: 550 5.1.1 <nobody@example.test>")
        .has("C: RSET\n")
        .has_line("S: 221 ")
        .lacks("expectation failed");
}

#[test]
fn script_expectation_fails() {
    let s = servers_or_skip!();
    let token = unique("expect-fail");
    let script = format!(
        "EHLO mailtalk.test\n\
         :expect 250\n\
         MAIL FROM:<{token}@example.test>\n\
         :expect 250\n\
         RCPT TO:<nobody@example.test>\n\
         :expect 250\n\
         NOOP\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fail.mts");
    std::fs::write(&path, script).unwrap();
    let run = mailtalk(
        &[
            s.url("smtp", s.smtp),
            "--script".into(),
            path.display().to_string(),
        ],
        b"",
        None,
    );
    run.expect_code(EXIT_EXPECTATION)
        .has_line("S: 550 5.1.1 <nobody@example.test>")
        .has("expectation failed")
        .has("fail.mts:6")
        .lacks("C: NOOP");
}

#[test]
fn imap_and_pop3_script_expectations() {
    let s = servers_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let imap = dir.path().join("imap.mts");
    std::fs::write(
        &imap,
        format!(
            "CAPABILITY\n\
             :expect OK\n\
             :auth SCRAM-SHA-1 {}\n\
             :expect OK\n\
             SELECT INBOX\n\
             :expect OK /READ-WRITE/\n\
             SELECT No-Such-Mailbox-{}\n\
             :expect NO\n\
             :expect fail\n",
            s.user,
            std::process::id()
        ),
    )
    .unwrap();
    let mut a = vec![s.url("imaps", s.imaps)];
    a.extend(s.trust());
    a.extend(args(&["--script", &imap.display().to_string()]));
    let run = mailtalk(&a, b"", Some(&s.password));
    run.expect_code(EXIT_OK)
        .verified_tls(true)
        .has_line("S# A003 OK [READ-WRITE]")
        .has_line("S# A004 NO ")
        .lacks("expectation failed");
    assert_no_secret(&run, &s, &s.password);

    let pop3 = dir.path().join("pop3.mts");
    std::fs::write(
        &pop3,
        format!(
            ":auth USER {}\n\
             :expect +OK\n\
             STAT\n\
             :expect +OK\n\
             RETR 999999\n\
             :expect -ERR\n\
             :expect +OK\n",
            s.user
        ),
    )
    .unwrap();
    let mut a = vec![s.url("pop3s", s.pop3s)];
    a.extend(s.trust());
    a.extend(args(&["--script", &pop3.display().to_string()]));
    let run = mailtalk(&a, b"", Some(&s.password));
    run.expect_code(EXIT_EXPECTATION)
        .has_line("S# -ERR ")
        .has("expectation failed")
        .has("pop3.mts:7");
}

/// The require switch: without the servers a test skips (and says so), but with
/// MAILTALK_REQUIRE=1 the same test fails. Runs this test binary on one real-server test with
/// the servers' environment taken away.
#[test]
fn without_the_servers_a_test_skips_but_fails_when_required() {
    let run = |require: bool| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "real_servers::smtp_plain", "--nocapture"]);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("MAILTALK_") {
                cmd.env_remove(k);
            }
        }
        if require {
            cmd.env("MAILTALK_REQUIRE", "1");
        }
        cmd.output().unwrap()
    };
    let skipped = run(false);
    let text = String::from_utf8_lossy(&skipped.stdout).into_owned();
    assert!(skipped.status.success(), "{text}");
    assert!(text.contains(SKIPPED), "{text}");
    assert!(text.contains("1 passed"), "{text}");
    let required = run(true);
    let text = String::from_utf8_lossy(&required.stdout).into_owned()
        + &String::from_utf8_lossy(&required.stderr);
    assert!(!required.status.success(), "{text}");
    assert!(
        text.contains("MAILTALK_REQUIRE=1 but the servers are not usable"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Postfix as a client of the embedded server.

/// A real MTA sends to `mailtalk serve`: Postfix relays mail for relay.test to
/// MAILTALK_RELAY_PORT (start.sh), where the embedded server runs with the test CA's
/// certificate and TLS required; Postfix verifies that certificate (`secure`). The wait is by
/// Postfix's queue: a deferred message fails at once.
/// `mailtalk serve` where Postfix relays relay.test (port `relay`), with the servers'
/// certificate (which Postfix verifies), no POP3, and `more` arguments.
fn serve_on_relay_port(s: &Servers, relay: u16, more: &[&str]) -> crate::serve::Serve {
    let tls = s.ca.parent().unwrap();
    let cert = tls.join("server.crt");
    let key = tls.join("server.key");
    let listen = format!("{}:{relay}", s.host);
    let mut a = vec![
        "--smtp",
        &listen,
        "--pop3",
        "off",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    a.extend_from_slice(more);
    crate::serve::Serve::start_only(tempfile::tempdir().unwrap(), &a)
}

/// The tests that run `mailtalk serve` on MAILTALK_RELAY_PORT take turns.
static RELAY_PORT_IN_USE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn postfix_relays_into_mailtalk_serve_over_verified_tls() {
    let s = servers_or_skip!();
    let _turn = RELAY_PORT_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    let relay = match port("MAILTALK_RELAY_PORT") {
        Ok(p) => p,
        Err(e) if std::env::var(REQUIRE).is_ok_and(|v| v == "1") => {
            panic!("{REQUIRE}=1 but {e} (an env file from an older start.sh?)")
        }
        Err(e) => {
            println!("skipped: {e}");
            return;
        }
    };
    let serve = serve_on_relay_port(
        &s,
        relay,
        &["--imap", "off", "--require-tls", "--log-sessions"],
    );
    let token = unique("relay");
    let header = format!("Message-ID: <{token}@example.test>");
    let send = mailtalk(
        &args(&[
            &s.url("smtp", s.smtp),
            "--from",
            &s.user,
            "--to",
            "bob@relay.test",
            "--subject",
            &token,
            "--header",
            &header,
        ]),
        b"",
        None,
    );
    send.expect_code(EXIT_OK);
    loop {
        let (pending, deferred) = postfix_queue(&s);
        assert!(
            deferred.is_empty(),
            "Postfix deferred the relayed message: {deferred:?}\n{}",
            serve.log()
        );
        if pending == 0 {
            break;
        }
        // Pacing only: the next look at the queue decides.
        std::thread::sleep(Duration::from_millis(50));
    }
    let delivered = serve.wait_for(&format!("subject \"{token}\""));
    assert!(delivered.contains("to <bob@relay.test>"), "{delivered}");
    assert!(delivered.contains(", TLS,"), "{delivered}");
    let log = serve.log();
    assert!(log.contains("TLS up: TLSv1."), "{log}");
    assert!(log.contains(&format!("C# MAIL FROM:<{}>", s.user)), "{log}");
    assert!(log.contains("C# RCPT TO:<bob@relay.test>"), "{log}");
    // Postfix said nothing before TLS but EHLO and STARTTLS.
    let plain: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("] C: "))
        .map(|l| l.split("] C: ").nth(1).unwrap_or(""))
        .collect();
    assert!(
        plain
            .iter()
            .all(|c| c.starts_with("EHLO ") || *c == "STARTTLS"),
        "{plain:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The PROXY protocol: Postfix's listener with smtpd_upstream_proxy_protocol = haproxy
// (MAILTALK_PROXY_PORT, from tests/servers/start.sh) takes the claimed source for the client.

#[test]
fn postfix_takes_the_client_address_from_the_proxy_header() {
    let s = servers_or_skip!();
    let Ok(proxy_port) = port("MAILTALK_PROXY_PORT") else {
        println!("MAILTALK_PROXY_PORT is not set (an older env file): skipped");
        return;
    };
    for (version, source) in [("v1", "192.0.2.7:4242"), ("v2", "198.51.100.9:40000")] {
        let message_id = format!("<{}@mailtalk.test>", unique("proxied"));
        let input = format!(
            "EHLO mailtalk.test\nMAIL FROM:<bob@example.test>\nRCPT TO:<{}>\nDATA\n\
             Subject: proxied\nMessage-ID: {message_id}\n\nhi\n.\n",
            s.user
        );
        let a = args(&[
            "--proxy-protocol",
            version,
            "--proxy-source",
            source,
            &s.url("smtp", proxy_port),
        ]);
        mailtalk(&a, input.as_bytes(), None)
            .expect_code(EXIT_OK)
            .has_line("S: 250 2.0.0 Ok: queued as ");
        let delivered = imap_fetch(&s, &message_id);
        let ip = source.rsplit_once(':').unwrap().0;
        let needle = format!("Received: from mailtalk.test (unknown [{ip}])");
        assert!(
            delivered
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "{version}: no {needle:?} in\n{}",
            show_bytes(&delivered)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// SMTP smuggling: `mailtalk smuggle-test` against Postfix's three listeners that differ only
// in smtpd_forbid_bare_newline (MAILTALK_BARE_{NO,NORMALIZE,REJECT}_PORT, from
// tests/servers/start.sh), with the verdicts read back from Dovecot over IMAP.

/// Runs the whole test against one listener; returns the exit status and each variant's
/// verdict by name.
fn smuggle_test(s: &Servers, var_name: &str) -> (i32, Vec<(String, String)>) {
    let listener = port(var_name).unwrap_or_else(|e| {
        panic!("{e}: tests/servers/start.sh writes it; restart the servers with it")
    });
    let a = args(&[
        "smuggle-test",
        &s.url("smtp", listener),
        "--from",
        "mallory@example.org",
        "--to",
        &s.user,
        "--check",
        &s.url("imap", s.imap),
        // The hang guards: the verdicts are decided by what arrives, long before these.
        "--wait",
        "100",
        "--timeout",
        "100",
        "--json",
    ]);
    let run = mailtalk(&a, b"", Some(&s.password));
    let v: Value =
        serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{}", run.show()));
    let verdicts = v["variants"]
        .as_array()
        .unwrap_or_else(|| panic!("no variants\n{}", run.show()))
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap_or("").to_string(),
                x["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    (run.code, verdicts)
}

fn verdict<'a>(all: &'a [(String, String)], name: &str) -> &'a str {
    all.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no variant {name} in {all:?}"))
}

#[test]
fn smuggle_test_tells_postfix_with_and_without_smtpd_forbid_bare_newline_apart() {
    let s = servers_or_skip!();
    let (no_code, no) = smuggle_test(&s, "MAILTALK_BARE_NO_PORT");
    let (norm_code, normalize) = smuggle_test(&s, "MAILTALK_BARE_NORMALIZE_PORT");
    let (rej_code, reject) = smuggle_test(&s, "MAILTALK_BARE_REJECT_PORT");
    let all = format!("no: {no:?}\nnormalize: {normalize:?}\nreject: {reject:?}");

    // The control delivers both messages everywhere: a second message can be seen at all.
    for v in [&no, &normalize, &reject] {
        assert_eq!(verdict(v, "control"), "ok", "{all}");
        assert_eq!(v.len(), 13, "{all}");
    }
    // smtpd_forbid_bare_newline = no: a bare LF ends a line, so <LF>.<LF> and <LF>.<CR><LF>
    // end the data, and the second message is delivered on its own.
    for name in ["lf-lf", "lf-crlf", "crlf-lf"] {
        assert_eq!(verdict(&no, name), "SMUGGLED", "{name}\n{all}");
        // normalize: kept as data; the second message arrives inside the first.
        assert_eq!(verdict(&normalize, name), "data", "{name}\n{all}");
        // reject: the message is refused (550 ... bare <LF> received).
        assert_eq!(verdict(&reject, name), "refused", "{name}\n{all}");
    }
    assert_eq!(no_code, 4, "{all}");
    // With the setting on, nothing gets through, and every verdict was reached.
    for (code, v) in [(norm_code, &normalize), (rej_code, &reject)] {
        assert_eq!(code, 0, "{all}");
        for (name, verdict) in v.iter().filter(|(n, _)| n != "control") {
            assert!(
                verdict == "data" || verdict == "refused",
                "{name}: {verdict}\n{all}"
            );
        }
    }
    // Bare CRs are content for Postfix in every mode.
    for v in [&no, &normalize, &reject] {
        assert_eq!(verdict(v, "cr-cr"), "data", "{all}");
    }
}

/// The embedded server as the far end: Postfix (smtpd_forbid_bare_newline = no) relays
/// relay.test to `mailtalk serve`, and smuggle-test reads the verdicts back from the embedded
/// server's IMAP side. What Postfix split on arrival reaches it as two messages; what it kept
/// as data, as one.
#[test]
fn smuggle_test_reads_the_verdicts_back_from_the_embedded_server_as_the_far_end() {
    let s = servers_or_skip!();
    let _turn = RELAY_PORT_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    let relay = port("MAILTALK_RELAY_PORT").unwrap_or_else(|e| panic!("{e}"));
    let listener = port("MAILTALK_BARE_NO_PORT").unwrap_or_else(|e| panic!("{e}"));
    let imap = format!("{}:0", s.host);
    let serve = serve_on_relay_port(&s, relay, &["--imap", &imap]);
    let a = args(&[
        "smuggle-test",
        &s.url("smtp", listener),
        "--from",
        "mallory@example.org",
        "--to",
        "bob@relay.test",
        "--check",
        &s.url("imap", serve.port("imap")),
        "--variant",
        "lf-lf",
        "--variant",
        "cr-cr",
        "--wait",
        "100",
        "--timeout",
        "100",
        "--json",
    ]);
    // The embedded server takes any password.
    let run = mailtalk(&a, b"", Some("any"));
    let v: Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", run.show(), serve.log()));
    let verdicts: Vec<(String, String)> = v["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("lf-lf".to_string(), "SMUGGLED".to_string()),
            ("cr-cr".to_string(), "data".to_string()),
        ],
        "{}\n{}",
        run.show(),
        serve.log()
    );
    assert_eq!(run.code, 4, "{}", run.show());
    assert!(
        v["read_back"]
            .as_str()
            .is_some_and(|r| r.contains(&serve.port("imap").to_string())),
        "{v}"
    );
    // Postfix relayed three messages: the two of lf-lf, the one of cr-cr.
    serve.wait_count("] message ", 3);
    let log = serve.log();
    assert!(log.contains("to <bob@relay.test>"), "{log}");
}
