//! IPv6 literals, `-4`/`-6`, and names that resolve to several addresses.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;

use crate::support::*;

/// A one-connection SMTP server on `addr` that greets, answers EHLO and QUIT.
fn tiny_smtp(listener: TcpListener) -> thread::JoinHandle<Vec<String>> {
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        w.write_all(b"220 v6.test ESMTP\r\n").unwrap();
        let mut got = Vec::new();
        let mut line = String::new();
        while r.read_line(&mut line).unwrap() > 0 {
            got.push(line.trim_end().to_string());
            if line.starts_with("QUIT") {
                w.write_all(b"221 bye\r\n").unwrap();
                break;
            }
            w.write_all(b"250 v6.test\r\n").unwrap();
            line.clear();
        }
        got
    })
}

#[test]
fn ipv6_literal_in_brackets() {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tiny_smtp(listener);
    let out = mailtalk(
        &["--color", "never", &format!("smtp://[::1]:{port}")],
        &input(&["EHLO me.test"]),
    );
    out.assert_code(EXIT_OK);
    out.assert_line("S: 220 v6.test ESMTP");
    out.assert_line("S: 250 v6.test");
    assert_eq!(server.join().unwrap(), vec!["EHLO me.test", "QUIT"]);
}

#[test]
fn ipv6_only_flag_refuses_an_ipv4_literal() {
    let out = mailtalk(&["--color", "never", "-6", "smtp://127.0.0.1:1"], b"");
    out.assert_code(EXIT_CONNECT);
}

#[test]
fn localhost_works_when_the_server_listens_on_ipv4_only() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tiny_smtp(listener);
    let out = mailtalk(
        &["--color", "never", &format!("smtp://localhost:{port}")],
        &input(&["EHLO me.test"]),
    );
    out.assert_code(EXIT_OK);
    out.assert_line("S: 220 v6.test ESMTP");
    assert_eq!(server.join().unwrap(), vec!["EHLO me.test", "QUIT"]);
}

#[test]
fn protocol_flag_with_host_and_port() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tiny_smtp(listener);
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--protocol",
            "smtp",
            &format!("127.0.0.1:{port}"),
        ],
        &input(&["NOOP"]),
    );
    out.assert_code(EXIT_OK);
    assert_eq!(server.join().unwrap(), vec!["NOOP", "QUIT"]);
}
