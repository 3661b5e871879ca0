//! Other ways to reach a server: through a SOCKS5 or HTTP CONNECT proxy (small proxies here,
//! on loopback threads, that check what mailtalk asked them), and with a HAProxy PROXY
//! protocol header first.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::support::*;

/// What a test proxy was asked.
#[derive(Clone, Debug, Default)]
struct Asked {
    /// Every byte of the proxy exchange the client sent, in order.
    handshake: Vec<u8>,
    /// The destination asked for: (host, port).
    destination: Option<(String, u16)>,
}

/// A one-connection proxy on 127.0.0.1 that relays to `upstream` once `greet` (run on the
/// client's socket) accepted the exchange.
struct TestProxy {
    port: u16,
    asked: Arc<Mutex<Asked>>,
    handle: Option<JoinHandle<()>>,
}

impl TestProxy {
    fn start(
        upstream: u16,
        greet: impl FnOnce(&mut TcpStream, &mut Asked) -> bool + Send + 'static,
    ) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = Arc::new(Mutex::new(Asked::default()));
        let shared = asked.clone();
        let handle = std::thread::spawn(move || {
            let Ok((mut client, _)) = listener.accept() else {
                return;
            };
            let mut a = Asked::default();
            let ok = greet(&mut client, &mut a);
            *shared.lock().unwrap() = a;
            if !ok {
                return;
            }
            let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            relay(client, server);
        });
        TestProxy {
            port,
            asked,
            handle: Some(handle),
        }
    }

    fn join(mut self) -> Asked {
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        self.asked.lock().unwrap().clone()
    }
}

/// Copies both ways until each side has closed.
fn relay(client: TcpStream, server: TcpStream) {
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut c, mut s) = (client, server);
    let up = std::thread::spawn(move || {
        std::io::copy(&mut c2, &mut s2).ok();
        s2.shutdown(Shutdown::Write).ok();
    });
    std::io::copy(&mut s, &mut c).ok();
    c.shutdown(Shutdown::Write).ok();
    up.join().ok();
}

fn take(stream: &mut TcpStream, n: usize, asked: &mut Asked) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).unwrap();
    asked.handshake.extend_from_slice(&buf);
    buf
}

/// A SOCKS5 proxy; with `credentials` it requires username/password authentication.
fn socks5(upstream: u16, credentials: Option<(&'static str, &'static str)>) -> TestProxy {
    TestProxy::start(upstream, move |s, a| {
        let head = take(s, 2, a);
        assert_eq!(head[0], 5);
        let methods = take(s, usize::from(head[1]), a);
        if let Some((user, pass)) = credentials {
            if !methods.contains(&2) {
                s.write_all(&[5, 0xff]).unwrap();
                return false;
            }
            s.write_all(&[5, 2]).unwrap();
            let v = take(s, 2, a);
            assert_eq!(v[0], 1);
            let u = take(s, usize::from(v[1]), a);
            let plen = take(s, 1, a);
            let p = take(s, usize::from(plen[0]), a);
            let good = u == user.as_bytes() && p == pass.as_bytes();
            s.write_all(&[1, if good { 0 } else { 1 }]).unwrap();
            if !good {
                return false;
            }
        } else {
            assert!(methods.contains(&0));
            s.write_all(&[5, 0]).unwrap();
        }
        let req = take(s, 4, a);
        assert_eq!(&req[..3], &[5, 1, 0]);
        let host = match req[3] {
            1 => {
                let ip = take(s, 4, a);
                format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
            }
            3 => {
                let len = take(s, 1, a);
                String::from_utf8(take(s, usize::from(len[0]), a)).unwrap()
            }
            other => panic!("address type {other}"),
        };
        let port = take(s, 2, a);
        a.destination = Some((host, u16::from_be_bytes([port[0], port[1]])));
        s.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38])
            .unwrap();
        true
    })
}

/// An HTTP CONNECT proxy answering `status` (200 relays).
fn http_proxy(upstream: u16, status: &'static str) -> TestProxy {
    TestProxy::start(upstream, move |s, a| {
        while !a.handshake.ends_with(b"\r\n\r\n") {
            take(s, 1, a);
        }
        let text = String::from_utf8(a.handshake.clone()).unwrap();
        let target = text
            .strip_prefix("CONNECT ")
            .and_then(|t| t.split(' ').next())
            .unwrap();
        let (host, port) = target.rsplit_once(':').unwrap();
        a.destination = Some((host.to_string(), port.parse().unwrap()));
        s.write_all(format!("HTTP/1.1 {status}\r\nVia: test\r\n\r\n").as_bytes())
            .unwrap();
        status.starts_with("200")
    })
}

fn smtp_server(certs: &TestCerts) -> Server {
    Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false))
}

fn run(args: &[&str], target: &str) -> Output {
    let mut all = vec!["--color", "never", "--timeout", NO_TIMEOUT];
    all.extend_from_slice(args);
    all.push(target);
    mailtalk(&all, &input(&["EHLO me.test"]))
}

#[track_caller]
fn assert_said(out: &Output, needle: &str) {
    assert!(
        out.stdout_str().contains(needle) || out.stderr_str().contains(needle),
        "output lacks {needle:?}\n{out:?}"
    );
}

#[test]
fn socks5_without_authentication_gets_the_name_resolved_by_the_proxy() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs);
    let proxy = socks5(s.port(), None);
    let proxy_url = format!("socks5://127.0.0.1:{}", proxy.port);
    // The name is for the proxy to resolve: mailtalk must not look it up.
    let out = run(&["--proxy", &proxy_url], "smtp://mail.invalid:25");
    let asked = proxy.join();
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(asked.destination, Some(("mail.invalid".into(), 25)));
    let mut want = vec![5, 1, 0, 5, 1, 0, 3, 12];
    want.extend_from_slice(b"mail.invalid");
    want.extend_from_slice(&[0, 25]);
    assert_eq!(asked.handshake, want);
    out.assert_line("C: EHLO me.test");
    assert_said(&out, &format!("through the proxy {proxy_url}"));
}

#[test]
fn socks5_with_a_user_name_and_password_from_the_url() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs);
    let port = s.port();
    let proxy = socks5(port, Some(("al@ice", "s3cr:t")));
    let proxy_url = format!("socks5://al%40ice:s3cr%3At@127.0.0.1:{}", proxy.port);
    let out = run(
        &["--proxy", &proxy_url],
        &format!("smtp://127.0.0.1:{}", s.port()),
    );
    let asked = proxy.join();
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(asked.destination, Some(("127.0.0.1".into(), port)));
    // Methods offered: none and username/password; then RFC 1929.
    assert_eq!(&asked.handshake[..4], &[5, 2, 0, 2]);
    assert_eq!(&asked.handshake[4..6], &[1, 6]);
    out.assert_nowhere("s3cr");
}

#[test]
fn socks5_refusing_the_password_is_a_clear_error() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs);
    let proxy = socks5(s.port(), Some(("alice", "right")));
    let proxy_url = format!("socks5://alice:wrong@127.0.0.1:{}", proxy.port);
    let out = run(
        &["--proxy", &proxy_url],
        &format!("smtp://127.0.0.1:{}", s.port()),
    );
    proxy.join();
    let log = s.join();
    out.assert_code(EXIT_CONNECT);
    assert_said(&out, "the SOCKS5 proxy refused the user name and password");
    assert!(!log.connected);
    out.assert_nowhere("wrong");
}

#[test]
fn http_connect_checks_the_200_reply() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs);
    let proxy = http_proxy(s.port(), "200 Connection established");
    let proxy_url = format!("http://u:pw@127.0.0.1:{}", proxy.port);
    let out = run(&["--proxy", &proxy_url], "smtp://mx.invalid:2525");
    let asked = proxy.join();
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        String::from_utf8(asked.handshake).unwrap(),
        "CONNECT mx.invalid:2525 HTTP/1.1\r\nHost: mx.invalid:2525\r\n\
         Proxy-Authorization: Basic dTpwdw==\r\n\r\n"
    );
    // The greeting right after the proxy's reply is the server's, not lost.
    out.assert_line("C: EHLO me.test");

    let s = smtp_server(&certs);
    let proxy = http_proxy(s.port(), "403 Forbidden");
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let out = run(&["--proxy", &proxy_url], "smtp://mx.invalid:25");
    proxy.join();
    s.join();
    out.assert_code(EXIT_CONNECT);
    assert_said(
        &out,
        "the HTTP proxy refused CONNECT mx.invalid:25: \"HTTP/1.1 403 Forbidden\"",
    );
}

#[test]
fn an_endless_http_proxy_reply_is_cut_off() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let chunk = [b'x'; 1024];
        // Stops when the client has gone.
        while c.write_all(&chunk).is_ok() {}
    });
    let proxy_url = format!("http://127.0.0.1:{port}");
    let out = run(&["--proxy", &proxy_url], "smtp://mx.invalid:25");
    h.join().unwrap();
    out.assert_code(EXIT_CONNECT);
    assert_said(&out, "the HTTP proxy's reply is longer than 16384 bytes");
}

#[test]
fn proxy_protocol_v1_claims_the_source_given() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        let header = c.read_line().unwrap();
        c.record("proxy", &header);
        smtp_like(c, false, false);
    });
    let port = s.port();
    let out = run(
        &["--proxy-protocol", "v1", "--proxy-source", "192.0.2.7:4242"],
        &s.url("smtp"),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert_eq!(
        log.record_strs("proxy"),
        [format!("PROXY TCP4 192.0.2.7 127.0.0.1 4242 {port}\r\n")]
    );
    assert!(
        log.commands().iter().any(|c| c == "EHLO me.test"),
        "{log:?}"
    );
}

#[test]
fn proxy_protocol_v1_defaults_to_the_real_source() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        let header = c.read_line().unwrap();
        c.record("proxy", &header);
        smtp_like(c, false, false);
    });
    let port = s.port();
    let out = run(&["--proxy-protocol", "v1"], &s.url("smtp"));
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let header = log.record_strs("proxy").remove(0);
    assert!(
        header.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 "),
        "{header:?}"
    );
    assert!(header.ends_with(&format!(" {port}\r\n")), "{header:?}");
}

#[test]
fn proxy_protocol_v2_bytes_are_exact() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        let header = c.read_exact(16 + 12).unwrap();
        c.record("proxy", &header);
        smtp_like(c, false, false);
    });
    let port = s.port();
    let out = run(
        &[
            "--proxy-protocol",
            "v2",
            "--proxy-source",
            "198.51.100.9:40000",
        ],
        &s.url("smtp"),
    );
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    let mut want = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    want.extend_from_slice(&[0x21, 0x11, 0, 12, 198, 51, 100, 9, 127, 0, 0, 1]);
    want.extend_from_slice(&40000u16.to_be_bytes());
    want.extend_from_slice(&port.to_be_bytes());
    assert_eq!(log.records("proxy"), [want]);
    assert!(
        log.commands().iter().any(|c| c == "EHLO me.test"),
        "{log:?}"
    );
}

#[test]
fn bad_proxy_options_are_usage_errors() {
    let out = mailtalk(&["--proxy", "ftp://x:1", "smtp://127.0.0.1:9"], b"");
    out.assert_code(EXIT_USAGE);
    assert_said(&out, "unknown proxy scheme");
    let out = mailtalk(&["--proxy-source", "1.2.3.4:5", "smtp://127.0.0.1:9"], b"");
    out.assert_code(EXIT_USAGE);
}

/// A one-connection SMTP server on a unix socket: the lines it received.
fn unix_smtp(path: &std::path::Path) -> JoinHandle<Vec<String>> {
    use std::io::BufRead;
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut out = stream.try_clone().unwrap();
        out.write_all(b"220 unix.test ESMTP\r\n").unwrap();
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let quit = line.starts_with("QUIT");
            lines.push(line);
            let reply: &[u8] = if quit { b"221 bye\r\n" } else { b"250 ok\r\n" };
            if out.write_all(reply).is_err() || quit {
                break;
            }
        }
        lines
    })
}

#[test]
fn a_unix_socket_target_takes_its_protocol_from_the_scheme_or_protocol() {
    let dir = tempfile::tempdir().unwrap();
    for (i, form) in ["smtp+unix:", "unix:"].iter().enumerate() {
        let path = dir.path().join(format!("s{i}.sock"));
        let server = unix_smtp(&path);
        let target = format!("{form}{}", path.display());
        let args: Vec<&str> = if *form == "unix:" {
            vec!["--protocol", "smtp"]
        } else {
            vec![]
        };
        let out = run(&args, &target);
        let lines = server.join().unwrap();
        out.assert_code(EXIT_OK);
        assert_eq!(lines, ["EHLO me.test", "QUIT"], "{out:?}");
        out.assert_line("S: 220 unix.test ESMTP");
        out.assert_line(&format!(
            "** connecting to the unix socket {}",
            path.display()
        ));
    }
    let out = run(
        &[],
        &format!("smtp+unix:{}", dir.path().join("none").display()),
    );
    out.assert_code(EXIT_CONNECT);
    assert_said(&out, "cannot connect to the unix socket");
    // Without a protocol.
    let out = run(&[], "unix:/nowhere");
    out.assert_code(EXIT_USAGE);
}

#[test]
fn pipe_talks_to_a_command_over_its_standard_input_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("got");
    let script = dir.path().join("smtp.sh");
    std::fs::write(
        &script,
        format!(
            "printf '220 pipe.test ESMTP\\r\\n'\n\
             while IFS= read -r line; do\n\
               printf '%s\\n' \"$line\" >> '{}'\n\
               case \"$line\" in\n\
                 QUIT*) printf '221 bye\\r\\n'; exit 0;;\n\
                 *) printf '250 ok\\r\\n';;\n\
               esac\n\
             done\n",
            got.display()
        ),
    )
    .unwrap();
    let command = format!("sh '{}'", script.display());
    let out = mailtalk(
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--pipe",
            &command,
        ],
        &input(&["EHLO me.test", "NOOP"]),
    );
    out.assert_code(EXIT_OK);
    out.assert_in_order(&[
        "S: 220 pipe.test ESMTP",
        "C: EHLO me.test",
        "S: 250 ok",
        "C: NOOP",
        "S: 250 ok",
        "C: QUIT",
        "S: 221 bye",
    ]);
    assert_eq!(
        std::fs::read_to_string(&got).unwrap(),
        "EHLO me.test\r\nNOOP\r\nQUIT\r\n"
    );
}

#[test]
fn a_silent_pipe_times_out_and_its_command_is_ended() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let command = format!("echo $$ > '{}'; exec sleep 1000", pidfile.display());
    let out = mailtalk(
        &["--color", "never", "--timeout", "1", "--pipe", &command],
        &input(&["NOOP"]),
    );
    out.assert_timed_out("greeting");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let pid = pid.trim();
    // Killed and reaped: no such process any more.
    let alive = std::process::Command::new("kill")
        .args(["-0", pid])
        .status()
        .unwrap()
        .success();
    assert!(!alive, "the command {pid} still runs");
}

#[test]
fn implicit_tls_over_a_unix_socket() {
    use std::os::unix::net::UnixListener;
    let certs = TestCerts::new();
    let s = Server::start(Mode::ImplicitTls, &certs.good, |c| {
        smtp_like(c, false, false)
    });
    let upstream = s.port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tls.sock");
    let listener = UnixListener::bind(&path).unwrap();
    // The socket relays to the TLS server.
    let relay = std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let up = std::thread::spawn(move || {
            std::io::copy(&mut c2, &mut s2).ok();
            s2.shutdown(Shutdown::Write).ok();
        });
        let (mut c, mut s) = (client, server);
        std::io::copy(&mut s, &mut c).ok();
        c.shutdown(Shutdown::Write).ok();
        up.join().ok();
    });
    let target = format!("smtps+unix:{}", path.display());
    let out = run(&["--ca-file", certs.ca()], &target);
    relay.join().unwrap();
    let log = s.join_for(&out);
    out.assert_code(EXIT_OK);
    assert!(log.tls_established);
    out.assert_line("C# EHLO me.test");
}

#[test]
fn a_pipe_that_stops_reading_cannot_hold_a_send_past_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // Answers four commands, then reads nothing more.
    let command = format!(
        "printf '220 hi\\r\\n'; for i in 1 2 3 4; do read l; \
         if [ $i = 4 ]; then printf '354 go\\r\\n'; else printf '250 ok\\r\\n'; fi; done; \
         echo $$ > '{}'; exec sleep 1000",
        pidfile.display()
    );
    let mut lines = vec![
        "EHLO me.test",
        "MAIL FROM:<a@b.test>",
        "RCPT TO:<c@d.test>",
        "DATA",
    ];
    let long = "x".repeat(998);
    // Far more than the pipe and the queue hold.
    lines.extend(std::iter::repeat_n(long.as_str(), 2000));
    lines.push(".");
    let out = mailtalk(
        &["--color", "never", "--timeout", "1", "--pipe", &command],
        &input(&lines),
    );
    out.assert_timed_out("send");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let alive = std::process::Command::new("kill")
        .args(["-0", pid.trim()])
        .status()
        .unwrap()
        .success();
    assert!(!alive, "the command still runs");
}

#[test]
fn the_proxy_password_may_come_from_the_environment() {
    let certs = TestCerts::new();
    let s = smtp_server(&certs);
    let port = s.port();
    let proxy = socks5(port, Some(("alice", "from-env")));
    let proxy_url = format!("socks5://alice@127.0.0.1:{}", proxy.port);
    let home = tempfile::tempdir().unwrap();
    let target = format!("smtp://127.0.0.1:{port}");
    let out = mailtalk_env(
        home.path(),
        &[
            "--color",
            "never",
            "--timeout",
            NO_TIMEOUT,
            "--proxy",
            &proxy_url,
            &target,
        ],
        &input(&["EHLO me.test"]),
        &[("MAILTALK_PROXY_PASSWORD", "from-env")],
    );
    proxy.join();
    s.join_for(&out);
    out.assert_code(EXIT_OK);
    out.assert_nowhere("from-env");
}
