//! Checks of the test framework itself, with an ordinary OpenSSL client, so
//! that the suites built on it test the binary and not the framework.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use crate::support::*;
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode};

fn connector(ca: Option<&std::path::Path>) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
    if let Some(ca) = ca {
        b.set_ca_file(ca).unwrap();
    } else {
        // An empty trust store: nothing from the machine is trusted.
        b.set_cert_store(
            openssl::x509::store::X509StoreBuilder::new()
                .unwrap()
                .build(),
        );
    }
    b.set_verify(SslVerifyMode::PEER);
    b.build()
}

fn tls_connect(port: u16, host: &str, ca: Option<&std::path::Path>) -> Result<(), String> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // The hang guard only: the server answers at once.
    tcp.set_read_timeout(Some(RUN_LIMIT)).unwrap();
    match connector(ca).connect(host, tcp) {
        Ok(mut s) => {
            let mut line = [0u8; 64];
            let n = s.read(&mut line).unwrap();
            assert!(line[..n].starts_with(b"* OK"));
            s.write_all(b"a LOGOUT\r\n").unwrap();
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).ok();
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn imaps(cert: &ServerCert) -> Server {
    Server::start(Mode::ImplicitTls, cert, |c| imap_like(c, false))
}

#[test]
fn good_certificate_verifies_by_ip_and_by_name() {
    let certs = TestCerts::new();
    for host in ["127.0.0.1", "localhost"] {
        let s = imaps(&certs.good);
        tls_connect(s.port(), host, Some(&certs.ca_file)).unwrap();
        let log = s.join();
        assert!(log.tls_established, "{log:?}");
        assert_eq!(log.tls, b"a LOGOUT\r\n");
        assert!(log.plain.is_empty());
        if host == "localhost" {
            assert_eq!(log.sni.as_deref(), Some("localhost"));
        }
    }
}

#[test]
fn good_certificate_fails_without_the_ca() {
    let certs = TestCerts::new();
    let s = imaps(&certs.good);
    assert!(tls_connect(s.port(), "127.0.0.1", None).is_err());
    let log = s.join();
    assert!(!log.tls_established);
    assert!(log.tls_error.is_some());
}

#[test]
fn bad_certificates_fail_with_the_ca() {
    let certs = TestCerts::new();
    for cert in [&certs.wrong_host, &certs.self_signed, &certs.expired] {
        for host in ["127.0.0.1", "localhost"] {
            let s = imaps(cert);
            let r = tls_connect(s.port(), host, Some(&certs.ca_file));
            assert!(r.is_err(), "{} verified for {host}", cert.label);
            let log = s.join();
            assert!(!log.tls_established);
            assert!(log.tls.is_empty());
        }
    }
    // The wrong-host certificate is otherwise valid: it verifies for its own name.
    let s = imaps(&certs.wrong_host);
    let tcp = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    let mut c = connector(Some(&certs.ca_file))
        .connect("other.test", tcp)
        .unwrap();
    c.write_all(b"a LOGOUT\r\n").unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).ok();
    assert!(s.join().tls_established);
}

/// A line reader over a plain or TLS stream for the framework checks.
fn read_reply<R: BufRead>(r: &mut R, last: impl Fn(&str) -> bool) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap() == 0 {
            return lines;
        }
        let done = last(&l);
        lines.push(l);
        if done {
            return lines;
        }
    }
}

fn smtp_last(l: &str) -> bool {
    l.as_bytes().get(3) == Some(&b' ')
}

#[test]
fn smtp_like_starttls_separates_plain_and_tls_bytes() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, true));
    let tcp = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    let mut r = BufReader::new(tcp.try_clone().unwrap());
    let mut w = tcp;
    assert_eq!(
        read_reply(&mut r, smtp_last).concat().as_bytes(),
        SMTP_GREETING
    );
    w.write_all(b"EHLO c\r\n").unwrap();
    let caps = read_reply(&mut r, smtp_last).concat();
    assert_eq!(caps.as_bytes(), smtp_ehlo_reply(true));
    w.write_all(b"STARTTLS\r\n").unwrap();
    assert_eq!(
        read_reply(&mut r, smtp_last)[0],
        "220 2.0.0 Ready to start TLS\r\n"
    );
    let tls: SslStream<TcpStream> = connector(Some(&certs.ca_file))
        .connect("127.0.0.1", w)
        .unwrap();
    let mut t = BufReader::new(tls);
    t.get_mut().write_all(b"EHLO c\r\n").unwrap();
    let caps = read_reply(&mut t, smtp_last).concat();
    assert_eq!(caps.as_bytes(), smtp_ehlo_reply(false));
    t.get_mut()
        .write_all(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
        .unwrap();
    for _ in 0..3 {
        read_reply(&mut t, smtp_last);
    }
    t.get_mut()
        .write_all(b"..dot\r\nx\r\n.\r\nQUIT\r\n")
        .unwrap();
    assert!(read_reply(&mut t, smtp_last)[0].starts_with("250 "));
    assert!(read_reply(&mut t, smtp_last)[0].starts_with("221 "));
    let log = s.join();
    assert_eq!(log.plain_str(), "EHLO c\r\nSTARTTLS\r\n");
    assert_eq!(
        log.tls_str(),
        "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n..dot\r\nx\r\n.\r\nQUIT\r\n"
    );
    assert_eq!(log.records("data"), vec![b"..dot\r\nx\r\n.\r\n".to_vec()]);
    assert_eq!(log.records("message"), vec![b"..dot\r\nx\r\n".to_vec()]);
    assert!(log.has_note("tls up") && log.has_note("quit"));
    assert!(log.sni.is_none(), "no SNI for an IP address");
}

#[test]
fn imap_like_detects_literal_bytes_sent_before_the_continuation() {
    let certs = TestCerts::new();
    for early in [false, true] {
        let s = Server::start(Mode::Plain, &certs.good, |c| imap_like(c, false));
        let tcp = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
        let mut r = BufReader::new(tcp.try_clone().unwrap());
        let mut w = tcp;
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        assert!(
            l.starts_with("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN]"),
            "{l}"
        );
        if early {
            w.write_all(b"A1 APPEND INBOX {5}\r\nhello\r\n").unwrap();
        } else {
            w.write_all(b"A1 APPEND INBOX {5}\r\n").unwrap();
        }
        l.clear();
        r.read_line(&mut l).unwrap();
        assert_eq!(l, "+ Ready for literal data\r\n");
        if !early {
            w.write_all(b"hello\r\n").unwrap();
        }
        l.clear();
        r.read_line(&mut l).unwrap();
        assert_eq!(l, "A1 OK [APPENDUID 1 2] APPEND completed\r\n");
        w.write_all(b"A2 LOGOUT\r\n").unwrap();
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(
            rest,
            "* BYE mailtalk-test logging out\r\nA2 OK LOGOUT completed\r\n"
        );
        let log = s.join();
        assert_eq!(log.records("literal"), vec![b"hello".to_vec()]);
        assert_eq!(!log.records("early-literal").is_empty(), early, "{log:?}");
        assert_eq!(
            log.record_strs("command"),
            vec!["A1 APPEND INBOX {5}\r\nhello\r\n", "A2 LOGOUT\r\n"]
        );
    }
}

#[test]
fn pop3_like_sends_a_dot_stuffed_message() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| pop3_like(c, false));
    let tcp = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    let mut r = BufReader::new(tcp.try_clone().unwrap());
    let mut w = tcp;
    w.write_all(b"RETR 1\r\nQUIT\r\n").unwrap();
    let mut all = String::new();
    r.read_to_string(&mut all).unwrap();
    assert_eq!(
        all,
        "+OK POP3 mailtalk-test ready <1896.697170952@localhost>\r\n+OK message follows\r\n\
         Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\n..\r\nend\r\n.\r\n\
         +OK mailtalk-test signing off\r\n"
    );
    s.join();
}

#[test]
fn server_without_a_client_returns() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    // Returns as soon as it is joined: no client, nothing to wait for.
    let log = s.join();
    assert!(!log.connected);
}

#[test]
fn arrived_sees_bytes_already_sent_and_keeps_them() {
    let certs = TestCerts::new();
    for mode in [Mode::Plain, Mode::ImplicitTls] {
        let s = Server::start(mode, &certs.good, |c| {
            assert!(c.arrived().is_empty());
            c.send(b"go\r\n");
            // Both lines came in one segment: once the first is read the second is there.
            c.expect_line(b"one\r\n");
            assert_eq!(c.arrived(), b"two\r\n");
            c.expect_line(b"two\r\n");
            c.send(b"more\r\n");
            c.expect_line(b"three\r\n");
            assert_eq!(c.read_line(), None);
        });
        let tcp = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
        let mut client: Box<dyn ReadWrite> = match mode {
            Mode::Plain => Box::new(tcp),
            Mode::ImplicitTls => Box::new(
                connector(Some(&certs.ca_file))
                    .connect("127.0.0.1", tcp)
                    .unwrap(),
            ),
        };
        let mut b = [0u8; 4];
        client.read_exact(&mut b).unwrap();
        client.write_all(b"one\r\ntwo\r\n").unwrap();
        let mut b = [0u8; 6];
        client.read_exact(&mut b).unwrap();
        client.write_all(b"three\r\n").unwrap();
        drop(client);
        let log = s.join();
        assert_eq!(log.all_received(), b"one\r\ntwo\r\nthree\r\n");
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

#[test]
#[should_panic(expected = "server handler panicked")]
fn a_failed_expectation_in_the_handler_fails_join() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| c.expect_line(b"HELLO\r\n"));
    let mut tcp = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
    tcp.write_all(b"GOODBYE\r\n").unwrap();
    drop(tcp);
    s.join();
}

#[test]
fn literal_size_parses_only_synchronising_literals() {
    assert_eq!(literal_size(b"A1 APPEND INBOX {19}"), Some(19));
    assert_eq!(literal_size(b"A1 APPEND INBOX {19+}"), None);
    assert_eq!(literal_size(b"A1 APPEND INBOX {}"), None);
    assert_eq!(literal_size(b"A1 NOOP"), None);
}
