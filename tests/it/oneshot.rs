//! One-shot send (`mailtalk URL --from A --to B …`) and SMTP AUTH on the command line, against
//! in-process SMTP and LMTP servers: the exact wire bytes, the exit statuses (0 accepted,
//! 8 rejected, 9 authentication failed, 2 usage, 4 STARTTLS) and `--quit-after`.

use crate::support::*;

const EXIT_REJECTED: i32 = 8;
const EXIT_AUTH_FAILED: i32 = 9;

const FROM: &str = "a@example.test";
const TO: &str = "b@example.test";
const TO2: &str = "c@example.test";

/// Starts a plain SMTP server driven by `cfg`.
fn smtp_server(certs: &TestCerts, cfg: SmtpConfig) -> Server {
    Server::start(Mode::Plain, &certs.good, move |c| smtp_full(c, &cfg))
}

/// Runs the binary with `--color never --ehlo client.test`, `args`, `stdin` and `env`.
fn run(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut all = vec!["--color", "never", "--ehlo", "client.test"];
    all.extend_from_slice(args);
    mailtalk_env(home.path(), &all, stdin, env)
}

/// The one "message" record (the bytes between 354 and the final ".\r\n").
fn message(log: &Log, out: &Output) -> Vec<u8> {
    let m = log.records("message");
    assert_eq!(m.len(), 1, "expected one message\n{log:?}\n{out:?}");
    m[0].clone()
}

/// Splits a message at the first empty line: (header lines without CRLF, body bytes).
fn split_message(msg: &[u8]) -> (Vec<String>, Vec<u8>) {
    let pos = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header/body separator in {}", show_bytes(msg)));
    let head = String::from_utf8_lossy(&msg[..pos]).into_owned();
    let headers = head.split("\r\n").map(str::to_string).collect();
    (headers, msg[pos + 4..].to_vec())
}

/// The header lines whose name is `name` (case-insensitive).
fn header<'a>(headers: &'a [String], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|h| {
            h.split_once(':')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
        })
        .map(String::as_str)
        .collect()
}

/// Every LF is preceded by CR and every CR followed by LF.
#[track_caller]
fn assert_crlf_only(what: &str, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert!(
                i > 0 && bytes[i - 1] == b'\r',
                "{what}: bare LF at {i}: {}",
                show_bytes(bytes)
            );
        }
        if b == b'\r' {
            assert_eq!(
                bytes.get(i + 1),
                Some(&b'\n'),
                "{what}: bare CR at {i}: {}",
                show_bytes(bytes)
            );
        }
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

// ---------------------------------------------------------------------------
// The message on the wire.

#[test]
fn data_file_is_sent_with_missing_headers_crlf_and_dot_stuffing() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("msg.txt");
    // LF and CR line endings, lines starting with dots, a lone dot, and no final newline.
    std::fs::write(
        &file,
        b"Subject: from the file\n\n.leading dot\nbare CR\rthen LF\n..two\n.\nlast line",
    )
    .unwrap();
    let data = format!("@{}", file.display());
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[
            &url, "--from", FROM, "--to", TO, "--to", TO2, "--data", &data,
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.commands(),
        vec![
            "EHLO client.test",
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
            "RCPT TO:<c@example.test>",
            "DATA",
            "QUIT",
        ],
        "{out:?}"
    );
    let data = log.records("data");
    assert_eq!(data.len(), 1, "{log:?}");
    let data = &data[0];
    assert!(data.ends_with(b"\r\n.\r\n"), "{}", show_bytes(data));
    // The only CRLF.CRLF is the terminator (the lone "." line was stuffed).
    assert_eq!(count(data, b"\r\n.\r\n"), 1, "{}", show_bytes(data));
    assert_crlf_only("DATA bytes", data);

    let msg = message(&log, &out);
    let (headers, body) = split_message(&msg);
    assert_eq!(header(&headers, "Subject"), vec!["Subject: from the file"]);
    assert_eq!(header(&headers, "From").len(), 1, "{headers:?}");
    assert!(header(&headers, "From")[0].contains(FROM), "{headers:?}");
    assert_eq!(header(&headers, "To").len(), 1, "{headers:?}");
    assert!(header(&headers, "To")[0].contains(TO), "{headers:?}");
    assert!(header(&headers, "To")[0].contains(TO2), "{headers:?}");
    assert_eq!(header(&headers, "Date").len(), 1, "{headers:?}");
    let mid = header(&headers, "Message-ID");
    assert_eq!(mid.len(), 1, "{headers:?}");
    assert!(
        mid[0].contains('<') && mid[0].contains('@') && mid[0].ends_with('>'),
        "{mid:?}"
    );
    assert_eq!(
        show_bytes(&body),
        show_bytes(b"..leading dot\r\nbare CR\r\nthen LF\r\n...two\r\n..\r\nlast line\r\n"),
    );
}

#[test]
fn data_from_standard_input() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[&url, "--from", FROM, "--to", TO, "--data", "-"],
        b"From: Someone <a@example.test>\r\nSubject: stdin\r\n\r\n.dot\r\nplain\r\n",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let msg = message(&log, &out);
    let (headers, body) = split_message(&msg);
    assert_eq!(
        header(&headers, "From"),
        vec!["From: Someone <a@example.test>"]
    );
    assert_eq!(header(&headers, "Subject"), vec!["Subject: stdin"]);
    assert_eq!(header(&headers, "To").len(), 1, "{headers:?}");
    assert_eq!(header(&headers, "Date").len(), 1, "{headers:?}");
    assert_eq!(header(&headers, "Message-ID").len(), 1, "{headers:?}");
    assert_eq!(show_bytes(&body), show_bytes(b"..dot\r\nplain\r\n"));
}

#[test]
fn data_text_on_the_command_line() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "Subject: inline\n\nfirst\n.second",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let data = &log.records("data")[0];
    assert_eq!(count(data, b"\r\n.\r\n"), 1, "{}", show_bytes(data));
    assert_crlf_only("DATA bytes", data);
    let (headers, body) = split_message(&message(&log, &out));
    assert_eq!(header(&headers, "Subject"), vec!["Subject: inline"]);
    assert_eq!(show_bytes(&body), show_bytes(b"first\r\n..second\r\n"));
}

#[test]
fn generated_message_with_subject_body_and_extra_headers() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--subject",
            "Hello there",
            "--body",
            "line one\n.dotted\nline three",
            "--header",
            "X-Test: 1",
            "--header",
            "X-Other: two words",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let (headers, body) = split_message(&message(&log, &out));
    assert_eq!(header(&headers, "Subject"), vec!["Subject: Hello there"]);
    assert_eq!(header(&headers, "X-Test"), vec!["X-Test: 1"]);
    assert_eq!(header(&headers, "X-Other"), vec!["X-Other: two words"]);
    for h in ["From", "To", "Date", "Message-ID"] {
        assert_eq!(header(&headers, h).len(), 1, "{h} in {headers:?}");
    }
    assert_eq!(
        show_bytes(&body),
        show_bytes(b"line one\r\n..dotted\r\nline three\r\n")
    );
    out.assert_line("** message accepted for 1 recipient (b@example.test)");
}

#[test]
fn attachment_is_sent_as_mime_base64() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.bin");
    let content = b"\x00\x01binary\xffcontent\r\n.";
    std::fs::write(&file, content).unwrap();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let f = file.to_str().unwrap();
    let out = run(&[&url, "--from", FROM, "--to", TO, "--attach", f], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let msg = message(&log, &out);
    let text = String::from_utf8_lossy(&msg).into_owned();
    assert!(
        text.to_ascii_lowercase().contains("multipart/mixed"),
        "{text}"
    );
    assert!(text.contains("report.bin"), "{text}");
    assert!(text.contains(&b64(content)), "{text}");
}

#[test]
fn size_is_declared_when_advertised() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("msg.eml");
    let content = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nbody\r\n";
    std::fs::write(&file, content).unwrap();
    let data = format!("@{}", file.display());
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[&url, "--from", FROM, "--to", TO, "--data", &data, "--size"],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.commands()[1],
        format!("MAIL FROM:<a@example.test> SIZE={}", content.len()),
        "{out:?}"
    );
    // Nothing was added: every header was present.
    assert_eq!(show_bytes(&message(&log, &out)), show_bytes(content));
}

#[test]
fn size_is_left_out_when_not_advertised() {
    let certs = TestCerts::new();
    let s = smtp_server(
        &certs,
        SmtpConfig::only(&["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]),
    );
    let url = s.url("smtp");
    let out = run(
        &[
            &url, "--from", FROM, "--to", TO, "--data", "hello", "--size",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.commands()[1], "MAIL FROM:<a@example.test>", "{out:?}");
}

#[test]
fn bdat_is_used_when_chunking_is_advertised() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&["CHUNKING"]));
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "Subject: chunks\n\n.not stuffed\nend",
            "--bdat",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = log.commands();
    assert!(!cmds.iter().any(|c| c == "DATA"), "{cmds:?}");
    let bdat: Vec<&String> = cmds.iter().filter(|c| c.starts_with("BDAT ")).collect();
    assert!(!bdat.is_empty(), "{cmds:?}");
    assert!(bdat.last().unwrap().ends_with(" LAST"), "{cmds:?}");
    let chunks = log.records("bdat");
    assert_eq!(chunks.len(), bdat.len(), "{log:?}");
    for (cmd, chunk) in bdat.iter().zip(&chunks) {
        let n: usize = cmd.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(n, chunk.len(), "{cmd}");
    }
    assert_eq!(cmds.last().unwrap(), "QUIT");
    let msg = message(&log, &out);
    assert_crlf_only("BDAT message", &msg);
    let (headers, body) = split_message(&msg);
    assert_eq!(header(&headers, "Subject"), vec!["Subject: chunks"]);
    // BDAT carries the message as it is: no dot-stuffing, CRLF line endings.
    assert_eq!(show_bytes(&body), show_bytes(b".not stuffed\r\nend\r\n"));
}

#[test]
fn bdat_falls_back_to_data_without_chunking() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[&url, "--from", FROM, "--to", TO, "--data", "x", "--bdat"],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = log.commands();
    assert!(cmds.iter().any(|c| c == "DATA"), "{cmds:?}");
    assert!(!cmds.iter().any(|c| c.starts_with("BDAT")), "{cmds:?}");
}

#[test]
fn pipeline_sends_mail_rcpt_and_data_before_any_reply() {
    let certs = TestCerts::new();
    // MAIL is answered only once RCPT and DATA are in: a client that waits for the reply
    // runs into its --timeout.
    let mut cfg = SmtpConfig::new(&[]);
    cfg.expect_pipelining = Some(true);
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            "--timeout",
            NO_TIMEOUT,
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--to",
            TO2,
            "--data",
            "piped",
            "--pipeline",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.record_strs("pipelined"),
        vec!["RCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n"],
        "RCPT and DATA must arrive before the reply to MAIL\n{out:?}"
    );
    assert_eq!(
        log.commands(),
        vec![
            "EHLO client.test",
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
            "RCPT TO:<c@example.test>",
            "DATA",
            "QUIT"
        ]
    );
    assert_eq!(log.records("message").len(), 1, "{log:?}");
}

#[test]
fn without_pipeline_each_command_waits_for_its_reply() {
    let certs = TestCerts::new();
    let mut cfg = SmtpConfig::new(&[]);
    cfg.expect_pipelining = Some(false);
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(&[&url, "--from", FROM, "--to", TO, "--data", "x"], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.records("pipelined").is_empty(), "{log:?}\n{out:?}");
}

#[test]
fn pipeline_is_not_used_when_not_advertised() {
    let certs = TestCerts::new();
    let mut cfg = SmtpConfig::only(&["SIZE 1000000", "8BITMIME"]);
    cfg.expect_pipelining = Some(false);
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "x",
            "--pipeline",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.records("pipelined").is_empty(), "{log:?}\n{out:?}");
    assert_eq!(log.records("message").len(), 1, "{log:?}");
}

#[test]
fn eight_bit_smtputf8_and_dsn_parameters() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&["SMTPUTF8", "DSN"]));
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "x",
            "--8bit",
            "--smtputf8",
            "--notify",
            "success,failure",
            "--ret",
            "hdrs",
            "--envid",
            "QQ314159",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = log.commands();
    let mail = &cmds[1];
    assert!(mail.starts_with("MAIL FROM:<a@example.test> "), "{mail}");
    for p in ["BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=QQ314159"] {
        assert!(mail.split(' ').any(|w| w == p), "{p} missing in {mail}");
    }
    assert_eq!(cmds[2], "RCPT TO:<b@example.test> NOTIFY=SUCCESS,FAILURE");
}

#[test]
fn smtputf8_not_advertised_stops_before_mail() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "x",
            "--smtputf8",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    assert_ne!(out.code, Some(EXIT_OK), "{out:?}");
    assert!(
        !log.commands().iter().any(|c| c.starts_with("MAIL")),
        "{log:?}"
    );
}

// ---------------------------------------------------------------------------
// LMTP.

#[test]
fn lmtp_with_two_recipients_reads_one_reply_per_recipient() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, true, false));
    let url = s.url("lmtp");
    let out = run(
        &[&url, "--from", FROM, "--to", TO, "--to", TO2, "--data", "x"],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds: Vec<String> = log
        .record_strs("command")
        .iter()
        .map(|l| l.trim_end().to_string())
        .collect();
    assert_eq!(
        cmds,
        vec![
            "LHLO client.test",
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
            "RCPT TO:<c@example.test>",
            "DATA",
            "QUIT"
        ]
    );
    out.assert_in_order(&[
        "S: 250 2.0.0 <b@example.test> Saved",
        "S: 250 2.0.0 <c@example.test> Saved",
        "C: QUIT",
    ]);
}

#[test]
fn lmtp_recipient_refused_after_the_data_is_a_rejection() {
    let certs = TestCerts::new();
    let mut cfg = SmtpConfig::new(&[]);
    cfg.lmtp = true;
    cfg.lmtp_refuse_at_end = vec![TO2.to_string()];
    let s = smtp_server(&certs, cfg);
    let url = s.url("lmtp");
    let out = run(
        &[&url, "--from", FROM, "--to", TO, "--to", TO2, "--data", "x"],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_REJECTED);
    assert_eq!(log.records("message").len(), 1, "{log:?}");
    // Both per-recipient replies were read: the session went on to QUIT.
    assert!(log.has_note("quit"), "{log:?}\n{out:?}");
}

// ---------------------------------------------------------------------------
// Rejections: exit status 8.

#[test]
fn rejected_at_mail() {
    let certs = TestCerts::new();
    let mut cfg = SmtpConfig::new(&[]);
    cfg.mail_reply = Some("550 5.7.1 Sender refused".into());
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(&[&url, "--from", FROM, "--to", TO, "--data", "x"], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_REJECTED);
    let cmds = log.commands();
    assert!(!cmds.iter().any(|c| c.starts_with("RCPT")), "{cmds:?}");
    assert!(!cmds.iter().any(|c| c == "DATA"), "{cmds:?}");
    assert_eq!(cmds.last().map(String::as_str), Some("QUIT"), "{cmds:?}");
}

/// One recipient refused among accepted ones, with and without pipelining: by default the
/// whole message goes to the accepted ones, and the summary names the refused one (exit 8);
/// with --require-all-rcpts nothing is delivered. Checked on the bytes the server received.
#[test]
fn a_refused_recipient_among_accepted_ones_pipelined_or_not() {
    let certs = TestCerts::new();
    for pipeline in [false, true] {
        for require_all in [false, true] {
            let mut cfg = SmtpConfig::new(&[]);
            cfg.refuse_rcpt = vec![TO2.to_string()];
            let s = smtp_server(&certs, cfg);
            let url = s.url("smtp");
            let mut args = vec![
                url.as_str(),
                "--from",
                FROM,
                "--to",
                TO2,
                "--to",
                TO,
                "--data",
                "Subject: to the accepted ones\n\nthe body",
            ];
            if pipeline {
                args.push("--pipeline");
            }
            if require_all {
                args.push("--require-all-rcpts");
            }
            let out = run(&args, b"", &[]);
            let log = s.join_for(&out);
            let case = format!("pipeline {pipeline}, require-all {require_all}");
            out.assert_code(EXIT_REJECTED);
            let cmds = log.commands();
            // Every recipient is asked for, in order.
            let rcpts: Vec<&String> = cmds.iter().filter(|c| c.starts_with("RCPT")).collect();
            assert_eq!(
                rcpts,
                ["RCPT TO:<c@example.test>", "RCPT TO:<b@example.test>"],
                "{case}\n{out:?}"
            );
            let wire = log.plain_str();
            // Never the empty message a lone dot would make.
            assert!(
                !wire.contains("DATA\r\n.\r\n"),
                "{case}: a lone dot\n{wire}"
            );
            if require_all {
                assert!(
                    log.records("message").is_empty(),
                    "{case}: delivered\n{wire}"
                );
                assert!(
                    !wire.contains("the body"),
                    "{case}: the body was sent\n{wire}"
                );
                if pipeline {
                    // DATA went with the RCPTs and got 354: the connection is closed without
                    // the final dot, so nothing is delivered.
                    assert!(cmds.iter().any(|c| c == "DATA"), "{case}\n{cmds:?}");
                    assert!(!cmds.iter().any(|c| c == "QUIT"), "{case}\n{cmds:?}");
                } else {
                    // RSET before DATA, then a polite QUIT.
                    assert!(!cmds.iter().any(|c| c == "DATA"), "{case}\n{cmds:?}");
                    let i = cmds.iter().position(|c| c == "RSET").expect("RSET");
                    assert_eq!(cmds.get(i + 1).map(String::as_str), Some("QUIT"), "{case}");
                }
                out.assert_contains(
                    "!! message not sent: a recipient was refused (--require-all-rcpts)",
                );
            } else {
                let msg = message(&log, &out);
                assert!(
                    String::from_utf8_lossy(&msg).ends_with("\r\n\r\nthe body\r\n"),
                    "{case}: {}",
                    show_bytes(&msg)
                );
                assert_eq!(cmds.last().map(String::as_str), Some("QUIT"), "{case}");
                out.assert_contains(
                    "!! message accepted for 1 recipient (b@example.test); refused: \
                     <c@example.test>: 550 5.1.1 <c@example.test>: Recipient address rejected",
                );
            }
        }
    }
}

#[test]
fn rejected_at_data() {
    let certs = TestCerts::new();
    let mut cfg = SmtpConfig::new(&[]);
    cfg.data_reply = Some("554 5.3.0 No data for you".into());
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "Subject: x\n\nbody",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_REJECTED);
    let all = log.plain_str();
    assert!(!all.contains("Subject: x"), "message sent after 554\n{all}");
}

#[test]
fn rejected_at_end_of_data() {
    let certs = TestCerts::new();
    let mut cfg = SmtpConfig::new(&[]);
    cfg.end_reply = Some("554 5.7.1 Spam detected".into());
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(&[&url, "--from", FROM, "--to", TO, "--data", "x"], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_REJECTED);
    assert_eq!(log.records("message").len(), 1);
}

// ---------------------------------------------------------------------------
// Usage errors: exit status 2, nothing sent.

#[test]
fn crlf_in_a_recipient_is_a_usage_error_and_nothing_is_sent() {
    let certs = TestCerts::new();
    for bad in [
        "b@example.test\r\nRCPT TO:<evil@example.test>",
        "b@example.test\nDATA",
        "b@example.test\rX",
    ] {
        let s = smtp_server(&certs, SmtpConfig::new(&[]));
        let url = s.url("smtp");
        let out = run(
            &[&url, "--from", FROM, "--to", bad, "--data", "x"],
            b"",
            &[],
        );
        let log = s.join_for(&out);
        out.assert_code(EXIT_USAGE);
        assert!(
            !log.all_received().windows(4).any(|w| w == b"RCPT"),
            "{log:?}"
        );
        assert!(!log.plain_str().contains("evil"), "{log:?}");
    }
}

#[test]
fn crlf_in_the_sender_is_a_usage_error() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            "a@example.test\r\nRSET",
            "--to",
            TO,
            "--data",
            "x",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_USAGE);
    assert!(!log.plain_str().contains("MAIL"), "{log:?}");
}

#[test]
fn attach_with_data_is_a_usage_error_before_connecting() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.txt");
    std::fs::write(&file, "x").unwrap();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "x",
            "--attach",
            file.to_str().unwrap(),
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_USAGE);
    assert!(!log.connected, "connected despite a usage error\n{log:?}");
    assert!(!out.stderr_str().trim().is_empty(), "{out:?}");
}

#[test]
fn body_with_data_and_missing_data_file_are_usage_errors() {
    let certs = TestCerts::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("@{}", dir.path().join("nope.eml").display());
    let cases: Vec<Vec<&str>> = vec![
        vec!["--from", FROM, "--to", TO, "--data", "x", "--body", "y"],
        vec!["--from", FROM, "--to", TO, "--data", &missing],
        vec!["--from", FROM, "--data", "x"],
    ];
    for case in cases {
        let s = smtp_server(&certs, SmtpConfig::new(&[]));
        let url = s.url("smtp");
        let mut args = vec![url.as_str()];
        args.extend(case.iter().copied());
        let out = run(&args, b"", &[]);
        let log = s.join_for(&out);
        out.assert_code(EXIT_USAGE);
        assert!(
            !log.plain_str().contains("MAIL"),
            "{case:?}: MAIL sent\n{log:?}"
        );
    }
}

#[test]
fn sending_needs_smtp_or_lmtp() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
    let url = s.url("imap");
    let out = run(&[&url, "--from", FROM, "--to", TO], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_USAGE);
    assert!(!log.plain_str().contains("MAIL"), "{log:?}");
}

// ---------------------------------------------------------------------------
// --quit-after.

fn quit_after(step: &str) -> (Output, Log) {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "Subject: q\n\nnot to be sent",
            "--quit-after",
            step,
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    (out, log)
}

#[test]
fn quit_after_rcpt_stops_after_rcpt_then_quits() {
    let (out, log) = quit_after("rcpt");
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.commands(),
        vec![
            "EHLO client.test",
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
            "QUIT"
        ],
        "{out:?}"
    );
}

#[test]
fn quit_after_earlier_steps() {
    let cases: &[(&str, &[&str])] = &[
        ("connect", &["QUIT"]),
        ("banner", &["QUIT"]),
        ("ehlo", &["EHLO client.test", "QUIT"]),
        (
            "mail",
            &["EHLO client.test", "MAIL FROM:<a@example.test>", "QUIT"],
        ),
    ];
    for (step, want) in cases {
        let (out, log) = quit_after(step);
        out.assert_code(EXIT_OK);
        assert_eq!(&log.commands(), want, "--quit-after {step}\n{out:?}");
    }
}

#[test]
fn quit_after_data_never_sends_the_message_or_its_end() {
    let (out, log) = quit_after("data");
    out.assert_code(EXIT_OK);
    let wire = log.plain.clone();
    assert!(
        wire.starts_with(
            b"EHLO client.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"
        ),
        "{}",
        show_bytes(&wire)
    );
    assert!(!log.plain_str().contains("not to be sent"), "{log:?}");
    // Ending the data would deliver a message.
    assert!(log.records("message").is_empty(), "{log:?}\n{out:?}");
}

#[test]
fn quit_after_is_a_usage_error_without_from_and_to() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs, SmtpConfig::new(&[]));
    let url = s.url("smtp");
    let out = run(&[&url, "--quit-after", "ehlo"], b"", &[]);
    let log = s.join_for(&out);
    out.assert_code(EXIT_USAGE);
    assert!(log.plain.is_empty(), "{log:?}");
}

// ---------------------------------------------------------------------------
// STARTTLS.

#[test]
fn starttls_then_the_message_inside_tls() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, true));
    let url = s.url("smtp");
    let out = run(
        &[
            "--starttls",
            "--ca-file",
            certs.ca(),
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "Subject: tls\n\nover tls",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.tls_established, "{log:?}");
    assert_eq!(
        log.plain_str(),
        "EHLO client.test\r\nSTARTTLS\r\n",
        "{out:?}"
    );
    let tls = log.tls_str();
    assert!(
        tls.starts_with("EHLO client.test\r\nMAIL FROM:<a@example.test>\r\n"),
        "{tls}"
    );
    assert!(tls.contains("over tls\r\n.\r\n"), "{tls}");
}

#[test]
fn starttls_not_offered_stops_with_status_4() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let url = s.url("smtp");
    let out = run(
        &[
            "--starttls",
            "--ca-file",
            certs.ca(),
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "x",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_TLS);
    assert!(!log.plain_str().contains("MAIL"), "{log:?}");
    assert!(!log.plain_str().contains("AUTH"), "{log:?}");
}

#[test]
fn starttls_refused_stops_with_status_4() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"EHLO client.test\r\n");
        c.send(&smtp_ehlo_reply(true));
        c.expect_line(b"STARTTLS\r\n");
        c.send(b"454 4.7.0 TLS not available due to temporary reason\r\n");
        smtp_loop(c, false, false);
    });
    let url = s.url("smtp");
    let out = run(
        &[
            "--starttls",
            "--ca-file",
            certs.ca(),
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "x",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_TLS);
    assert!(!log.plain_str().contains("MAIL"), "{log:?}");
}

// ---------------------------------------------------------------------------
// AUTH on the command line.

#[test]
fn auth_plain_over_implicit_tls_sends_the_initial_response() {
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH PLAIN LOGIN"]).credentials("u", "pw");
    let s = Server::start(Mode::ImplicitTls, &certs.good, move |c| smtp_full(c, &cfg));
    let url = s.url("smtps");
    let out = run(
        &[
            "--ca-file",
            certs.ca(),
            &url,
            "--auth",
            "PLAIN",
            "--user",
            "u",
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "x",
        ],
        b"",
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.plain.is_empty(), "{log:?}");
    let cmds = log.commands();
    assert_eq!(cmds[0], "EHLO client.test", "{cmds:?}");
    assert_eq!(
        cmds[1],
        format!("AUTH PLAIN {}", b64(b"\0u\0pw")),
        "{out:?}"
    );
    assert_eq!(cmds[2], "MAIL FROM:<a@example.test>");
    assert!(log.has_note("auth ok"), "{log:?}");
    out.assert_nowhere("pw\n");
    out.assert_nowhere(&b64(b"\0u\0pw"));
}

#[test]
fn auth_plain_on_loopback_without_tls_is_allowed() {
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH PLAIN"]).credentials("u", "pw");
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            &url, "--auth", "PLAIN", "--user", "u", "--from", FROM, "--to", TO, "--data", "x",
        ],
        b"",
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.commands()[1], format!("AUTH PLAIN {}", b64(b"\0u\0pw")));
    assert!(log.has_note("auth ok"), "{log:?}");
    assert_eq!(log.records("message").len(), 1);
}

#[test]
fn auth_login_in_two_steps() {
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH LOGIN"]).credentials("carol", "hunter2");
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            &url, "--auth", "LOGIN", "--user", "carol", "--from", FROM, "--to", TO, "--data", "x",
        ],
        b"",
        &[("MAILTALK_PASSWORD", "hunter2")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let cmds = log.commands();
    assert_eq!(cmds[1], "AUTH LOGIN", "{cmds:?}");
    assert_eq!(
        log.record_strs("auth"),
        vec![
            format!("{}\r\n", b64(b"carol")),
            format!("{}\r\n", b64(b"hunter2"))
        ]
    );
    assert!(log.has_note("auth ok"), "{log:?}");
}

#[test]
fn auth_cram_md5_digest_checks_out() {
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH CRAM-MD5"]).credentials("tim", "tanstaaftanstaaf");
    let challenge = cfg.cram_challenge.clone();
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            &url, "--auth", "CRAM-MD5", "--user", "tim", "--from", FROM, "--to", TO, "--data", "x",
        ],
        b"",
        &[("MAILTALK_PASSWORD", "tanstaaftanstaaf")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let want = format!(
        "tim {}",
        hmac_md5_hex(b"tanstaaftanstaaf", challenge.as_bytes())
    );
    assert_eq!(
        log.record_strs("auth"),
        vec![format!("{}\r\n", b64(want.as_bytes()))]
    );
    assert!(log.has_note("auth ok"), "{log:?}");
}

#[test]
fn auth_strongest_mechanism_by_default() {
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH LOGIN PLAIN CRAM-MD5"]).credentials("u", "pw");
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            &url, "--auth", "--user", "u", "--from", FROM, "--to", TO, "--data", "x",
        ],
        b"",
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(log.commands()[1], "AUTH CRAM-MD5", "{out:?}");
    assert!(log.has_note("auth ok"), "{log:?}");
}

#[test]
fn auth_failure_exits_9_before_mail() {
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH PLAIN"]).credentials("u", "right");
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            &url, "--auth", "PLAIN", "--user", "u", "--from", FROM, "--to", TO, "--data", "x",
        ],
        b"",
        &[("MAILTALK_PASSWORD", "wrong")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_AUTH_FAILED);
    assert!(log.has_note("auth failed"), "{log:?}");
    assert!(
        !log.commands().iter().any(|c| c.starts_with("MAIL")),
        "{log:?}"
    );
}

#[test]
fn invalid_base64_challenge_is_cancelled_with_a_star() {
    let certs = TestCerts::new();
    let mut cfg = SmtpConfig::new(&["AUTH LOGIN"]).credentials("u", "pw");
    cfg.bad_challenge = Some("not*base64!".into());
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            &url, "--auth", "LOGIN", "--user", "u", "--from", FROM, "--to", TO, "--data", "x",
        ],
        b"",
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    assert_ne!(out.code, Some(EXIT_OK), "{out:?}");
    assert!(out.code.is_some(), "{out:?}");
    assert_eq!(log.record_strs("after-bad-challenge"), vec!["*"], "{log:?}");
    assert!(log.has_note("auth cancelled"), "{log:?}");
    assert!(
        !log.commands().iter().any(|c| c.starts_with("MAIL")),
        "{log:?}"
    );
    assert!(!log.plain_str().contains(&b64(b"pw")), "{log:?}");
}

#[test]
fn password_from_a_command() {
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH PLAIN"]).credentials("u", "secret");
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let home = tempfile::tempdir().unwrap();
    let out = mailtalk_in(
        home.path(),
        &[
            "--color",
            "never",
            "--ehlo",
            "client.test",
            &url,
            "--auth",
            "PLAIN",
            "--user",
            "u",
            "--password-cmd",
            "printf secret",
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "x",
        ],
        b"",
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.commands()[1],
        format!("AUTH PLAIN {}", b64(b"\0u\0secret"))
    );
    assert!(log.has_note("auth ok"), "{log:?}");
    out.assert_nowhere(&b64(b"\0u\0secret"));
}

#[test]
fn quit_after_auth() {
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH PLAIN"]).credentials("u", "pw");
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[
            &url,
            "--auth",
            "PLAIN",
            "--user",
            "u",
            "--from",
            FROM,
            "--to",
            TO,
            "--data",
            "x",
            "--quit-after",
            "auth",
        ],
        b"",
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.commands(),
        vec![
            "EHLO client.test".to_string(),
            format!("AUTH PLAIN {}", b64(b"\0u\0pw")),
            "QUIT".to_string()
        ]
    );
}

#[test]
fn auth_without_send_in_a_batch_session() {
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH PLAIN"]).credentials("u", "pw");
    let s = smtp_server(&certs, cfg);
    let url = s.url("smtp");
    let out = run(
        &[&url, "--auth", "PLAIN", "--user", "u"],
        &input(&["NOOP"]),
        &[("MAILTALK_PASSWORD", "pw")],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.commands(),
        vec![
            "EHLO client.test".to_string(),
            format!("AUTH PLAIN {}", b64(b"\0u\0pw")),
            "NOOP".to_string(),
            "QUIT".to_string()
        ]
    );
}

/// A server for `--count`: copy `refused` (1-based) has its recipient refused (and its
/// pipelined DATA with it); every other copy is queued. Each copy's data is recorded.
fn count_server(c: &mut Conn, copies: usize, refused: usize) {
    c.send(b"220 mx.test ESMTP\r\n");
    c.expect_line(b"EHLO client.test\r\n");
    c.send(b"250-mx.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n");
    for n in 1..=copies {
        c.expect_line(format!("MAIL FROM:<{FROM}>\r\n").as_bytes());
        c.expect_line(format!("RCPT TO:<{TO}>\r\n").as_bytes());
        c.expect_line(b"DATA\r\n");
        if n == refused {
            c.send(b"250 2.1.0 Ok\r\n550 5.1.1 <b@example.test>: not today\r\n554 5.5.1 no valid recipients\r\n");
            c.expect_line(b"RSET\r\n");
            c.send(b"250 2.0.0 Ok\r\n");
            continue;
        }
        c.send(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
        let mut data = Vec::new();
        loop {
            let line = c.read_line().expect("the message");
            if line == b".\r\n" {
                break;
            }
            data.extend_from_slice(&line);
        }
        c.record("message", &data);
        c.send(format!("250 2.0.0 Ok: queued as Q{n}\r\n").as_bytes());
    }
    c.expect_line(b"QUIT\r\n");
    c.send(b"221 2.0.0 Bye\r\n");
}

#[test]
fn count_shows_the_first_copy_and_a_refused_one_in_full_then_a_summary() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| count_server(c, 6, 3));
    let url = s.url("smtp");
    let out = run(
        &[
            "--timeout",
            NO_TIMEOUT,
            &url,
            "--from",
            FROM,
            "--to",
            TO,
            "--count",
            "6",
            "--body",
            "hi",
        ],
        b"",
        &[],
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_REJECTED);
    // Five delivered, each with its own Message-ID; nothing of copy 3's content was sent.
    let messages = log.records("message");
    assert_eq!(messages.len(), 5, "{log:?}");
    let mut ids: Vec<String> = messages
        .iter()
        .map(|m| header(&split_message(m).0, "Message-ID")[0].to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "{ids:?}");
    // The first copy in full (its final reply once), copy 3 in full with its own commands,
    // copy 4 as the line saying things are back to normal, then the summary.
    out.assert_line("S: 250 2.0.0 Ok: queued as Q1");
    assert!(!out.has_line("S: 250 2.0.0 Ok: queued as Q2"), "{out:?}");
    out.assert_line("S: 550 5.1.1 <b@example.test>: not today");
    out.assert_line("S: 554 5.5.1 no valid recipients");
    let lines = out.lines();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} missing\n{out:?}"))
    };
    let refusal = at("S: 550 5.1.1");
    assert_eq!(
        lines[refusal - 4],
        "C: MAIL FROM:<a@example.test>",
        "{out:?}"
    );
    assert_eq!(lines[refusal - 1], "S: 250 2.1.0 Ok", "{out:?}");
    assert!(at("copy 1 of 6: message accepted") < refusal);
    assert!(at("!! copy 3 of 6: message not sent: no recipient was accepted") > refusal);
    assert!(at("** copy 4 of 6: message accepted") > refusal);
    for quiet in ["copy 2 of 6", "copy 5 of 6", "copy 6 of 6"] {
        assert!(!out.stdout_str().contains(quiet), "{quiet}\n{out:?}");
    }
    out.assert_contains("** 6 messages: 5 accepted, 1 refused, in ");
}
