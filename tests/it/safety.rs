//! Control bytes from the server, colours, timeouts, lost connections,
//! protocol violations and usage errors.

use crate::support::*;

/// A greeting with every kind of byte that must be made visible.
const NASTY_GREETING: &[u8] =
    b"220 a\x1b[31mred\x1b[0m b\x00c d\re f\x07g h\x7fi j\xc2\x85k l\xffm n\x1b]0;title\x07o\r\n";

/// The visible forms that must appear in the output, in order.
const VISIBLE: &[&str] = &[
    "a\\x1b[31mred\\x1b[0m",
    "b\\0c",
    "d\\re",
    "f\\x07g",
    "h\\x7fi",
    "j\\u{85}k",
    "l\\xffm",
    "n\\x1b]0;title\\x07o",
];

fn nasty_server(certs: &TestCerts) -> Server {
    Server::start(Mode::Plain, &certs.good, |c| {
        c.send(NASTY_GREETING);
        smtp_loop(c, false, false);
    })
}

/// Removes SGR sequences (ESC [ digits/semicolons m) and returns the rest;
/// panics on an ESC that does not start one.
fn strip_sgr(bytes: &[u8], out: &Output) -> Vec<u8> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b {
            let mut j = i + 1;
            assert_eq!(
                bytes.get(j),
                Some(&b'['),
                "ESC not followed by [ at offset {i}: {}\n{out:?}",
                show_bytes(&bytes[i..bytes.len().min(i + 20)])
            );
            j += 1;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b';') {
                j += 1;
            }
            assert_eq!(
                bytes.get(j),
                Some(&b'm'),
                "ESC [ sequence at offset {i} is not SGR: {}\n{out:?}",
                show_bytes(&bytes[i..bytes.len().min(i + 20)])
            );
            i = j + 1;
        } else {
            v.push(bytes[i]);
            i += 1;
        }
    }
    v
}

#[test]
fn control_bytes_are_made_visible_without_colour() {
    let certs = TestCerts::new();
    let s = nasty_server(&certs);
    let out = mailtalk(&["--color", "never", &s.url("smtp")], b"");
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_no_raw_controls("stdout", &out.stdout, &out);
    assert_no_raw_controls("stderr", &out.stderr, &out);
    let text = out.stdout_str();
    let line = text
        .lines()
        .find(|l| l.starts_with("S: 220 a"))
        .unwrap_or_else(|| panic!("no greeting line\n{out:?}"));
    let mut rest = line;
    for v in VISIBLE {
        let at = rest
            .find(v)
            .unwrap_or_else(|| panic!("{v:?} not shown (in order) in {line:?}\n{out:?}"));
        rest = &rest[at + v.len()..];
    }
}

#[test]
fn control_bytes_are_made_visible_with_colour_and_every_esc_is_sgr() {
    let certs = TestCerts::new();
    let s = nasty_server(&certs);
    let out = mailtalk(&["--color", "always", &s.url("smtp")], b"");
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(
        out.stdout.contains(&0x1b),
        "--color always produced no colour\n{out:?}"
    );
    let plain = strip_sgr(&out.stdout, &out);
    assert_no_raw_controls("stdout without SGR", &plain, &out);
    let text = String::from_utf8_lossy(&plain).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with("S: 220 a"))
        .unwrap_or_else(|| panic!("no greeting line\n{text}"));
    let mut rest = line;
    for v in VISIBLE {
        let at = rest
            .find(v)
            .unwrap_or_else(|| panic!("{v:?} not shown (in order) in {line:?}"));
        rest = &rest[at + v.len()..];
    }
}

#[test]
fn colour_auto_emits_no_escape_into_a_pipe() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let out = mailtalk(&[&s.url("smtp")], &input(&["NOOP", "VRFY x"]));
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(
        !out.stdout.contains(&0x1b),
        "colour in a pipe with --color auto\n{out:?}"
    );
    out.assert_line("S: 220 localhost ESMTP mailtalk-test");
}

#[test]
fn silent_server_times_out() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, silent);
    let out = mailtalk(
        &["--color", "never", "--timeout", "1", &s.url("smtp")],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    // The server stays silent until the client goes: a client without the deadline would be
    // killed at the run limit instead.
    out.assert_timed_out("greeting");
    assert!(log.plain.is_empty(), "sent before the greeting\n{log:?}");
}

#[test]
fn silent_reply_times_out() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.drain();
    });
    let out = mailtalk(
        &["--color", "never", "--timeout", "1", &s.url("smtp")],
        &input(&["NOOP", "NOOP"]),
    );
    let log = s.join_for(&out);
    out.assert_timed_out("reply");
    assert_eq!(log.plain_str(), "NOOP\r\n");
}

#[test]
fn server_closing_before_the_input_ends_exits_7() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"NOOP\r\n");
        c.send(b"250 2.0.0 Ok\r\n");
        c.close();
    });
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&["NOOP", "NOOP", "NOOP"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_CLOSED);
    out.assert_line("S: 250 2.0.0 Ok");
}

#[test]
fn a_421_greeting_is_a_refused_session_exit_3() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(b"421 4.3.2 Service shutting down\r\n");
        c.close();
    });
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&["NOOP", "NOOP"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_CONNECT);
    out.assert_contains("!! error: the server refused the session: 421 4.3.2");
    out.assert_line("S: 421 4.3.2 Service shutting down");
}

#[test]
fn reply_cut_off_by_eof_is_a_protocol_violation() {
    // Cut inside a line, and cut after a complete continuation line.
    for cut in [&b"220-first line\r\n220-second"[..], b"220-first line\r\n"] {
        let certs = TestCerts::new();
        let s = Server::start(Mode::Plain, &certs.good, move |c| {
            c.send(cut);
            c.close();
        });
        let out = mailtalk(
            &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("smtp")],
            &input(&["NOOP"]),
        );
        let log = s.join_for(&out);
        out.assert_code(EXIT_PROTOCOL);
        out.assert_fatal();
        out.assert_contains("first line");
        assert!(log.plain.is_empty(), "{log:?}");
    }
}

#[test]
fn line_over_64_kib_is_a_protocol_violation_without_waiting_for_its_end() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        let mut long = b"220 ".to_vec();
        long.extend(vec![b'a'; 70 * 1024]);
        c.send(&long);
        c.drain();
    });
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &s.url("smtp")],
        &input(&["NOOP"]),
    );
    let log = s.join_for(&out);
    // The line never ends and the server waits until the client goes: a client that waited
    // for the end would time out (exit 5) instead.
    out.assert_code(EXIT_PROTOCOL);
    out.assert_fatal();
    assert!(log.plain.is_empty(), "{log:?}");
}

#[test]
fn connection_refused_exits_3() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("smtp://127.0.0.1:{port}");
    let out = mailtalk(
        &["--color", "never", "--timeout", NO_TIMEOUT, &url],
        &input(&["NOOP"]),
    );
    out.assert_code(EXIT_CONNECT);
    out.assert_fatal();
}

#[test]
fn usage_errors_exit_2() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let addr = s.addr();
    let ftp = format!("ftp://{addr}");
    let bad_port = "smtp://127.0.0.1:99999".to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec![&ftp],
        vec![&addr],
        vec!["--protocol", "gopher", &addr],
        vec!["--color", "sometimes", "--protocol", "smtp", &addr],
        vec!["--timeout", "soon", "--protocol", "smtp", &addr],
        vec![&bad_port],
        vec!["--no-such-flag", "--protocol", "smtp", &addr],
    ];
    for args in cases {
        let out = mailtalk(&args, &input(&["NOOP"]));
        out.assert_code(EXIT_USAGE);
        assert!(
            !out.stderr_str().trim().is_empty(),
            "usage error without a message\n{out:?}"
        );
    }
    let log = s.join();
    assert!(!log.connected, "a usage error still connected\n{log:?}");
}

#[test]
fn no_history_writes_no_file_under_home() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let home = tempfile::tempdir().unwrap();
    let out = mailtalk_in(
        home.path(),
        &["--color", "never", "--no-history", &s.url("smtp")],
        &input(&["NOOP"]),
    );
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    let mut files = Vec::new();
    let mut stack = vec![home.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert!(files.is_empty(), "--no-history wrote {files:?}");
}
