//! `mailtalk demo`: the embedded server on free loopback ports, in the same process as the
//! client, and a guide to a first session: send a message over SMTP, then read it back over
//! IMAP or POP3.

use std::net::{Ipv4Addr, SocketAddr};

use super::args::{DemoArgs, Listen};
use super::{Kind, ServeArgs, Server};

fn free() -> Listen {
    Listen(Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))))
}

/// Starts the server (SMTP, IMAP, POP3 with STARTTLS; SMTPS, IMAPS, POP3S; one mailbox that
/// every login sees) and returns it with the guide to print.
pub fn start(args: &DemoArgs) -> Result<(Server, Vec<String>), String> {
    let log_path = args.server_log.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("mailtalk-demo-{}.log", std::process::id()))
    });
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let serve = ServeArgs {
        smtp: free(),
        imap: free(),
        pop3: free(),
        smtps: Some(free()),
        imaps: Some(free()),
        pop3s: Some(free()),
        lmtp: None,
        hostname: "localhost".to_string(),
        tls_cert: None,
        tls_key: None,
        cert_out: None,
        user: Vec::new(),
        catch_all: true,
        max_messages: 1000,
        max_store: 256 * 1024 * 1024,
        maildir: None,
        discard: false,
        reject_rcpt: None,
        reject_from: None,
        greylist: false,
        tempfail_rate: None,
        delay: None,
        max_size: 32 * 1024 * 1024,
        drop_after: None,
        require_tls: false,
        require_auth: false,
        allow_plaintext_auth: false,
        max_sessions: 20,
        command_timeout: 3600,
        data_timeout: 3600,
        json: false,
        log_sessions: true,
        seed: None,
    };
    let server = Server::start(&serve, Box::new(log), false)?;
    let url = |kind, tls| {
        server
            .listening
            .iter()
            .find(|l| l.kind == kind && l.tls == tls)
            .map(|l| l.url())
            .unwrap_or_default()
    };
    let cert = server
        .cert_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let log_shown = log_path.display().to_string();
    let guide = vec![
        "mailtalk demo: a mail server of its own, on this machine only".to_string(),
        format!(
            "  SMTP {}   IMAP {}   POP3 {}",
            url(Kind::Smtp, false),
            url(Kind::Imap, false),
            url(Kind::Pop3, false)
        ),
        format!(
            "  SMTPS {}  IMAPS {}  POP3S {}",
            url(Kind::Smtp, true),
            url(Kind::Imap, true),
            url(Kind::Pop3, true)
        ),
        format!("  its certificate: {cert} (trusted by this session)"),
        format!("  its log, every line of every session: {log_shown}"),
        "Send a message: type each line and Enter".to_string(),
        "  EHLO me.test      the server says what it can do".to_string(),
        "  STARTTLS          encrypt the session (mailtalk asks EHLO again)".to_string(),
        "  :send --from me@demo.test --to you@demo.test --subject Hello".to_string(),
        "                    or by hand: MAIL FROM:<me@demo.test>, RCPT TO:<you@demo.test>,"
            .to_string(),
        "                    DATA, the text, then a line with a single dot".to_string(),
        "Read it back (any user name and password will do; IMAP tags are added for you):"
            .to_string(),
        format!(
            "  :connect {}   LOGIN you@demo.test pw, SELECT INBOX, FETCH 1 BODY[]",
            url(Kind::Imap, false)
        ),
        format!(
            "  :connect {}   USER you@demo.test, PASS pw, LIST, RETR 1",
            url(Kind::Pop3, false)
        ),
        "Any reply: :explain 550 (or mailtalk explain 550). :help lists the rest; :quit leaves."
            .to_string(),
    ];
    Ok((server, guide))
}

/// The SMTP URL the demo session opens.
pub fn smtp_target(server: &Server) -> String {
    server
        .listening
        .iter()
        .find(|l| l.kind == Kind::Smtp && !l.tls)
        .map(|l| l.url())
        .unwrap_or_else(|| "smtp://127.0.0.1:2525".to_string())
}

/// The one line the full-screen demo keeps on screen: where its server listens.
pub fn banner(server: &Server) -> String {
    let url = |kind, tls| {
        server
            .listening
            .iter()
            .find(|l| l.kind == kind && l.tls == tls)
            .map(|l| l.addr.to_string())
            .unwrap_or_default()
    };
    format!(
        "demo server: SMTP {}  IMAP {}  POP3 {}  (F9: inbox)",
        url(Kind::Smtp, false),
        url(Kind::Imap, false),
        url(Kind::Pop3, false)
    )
}
