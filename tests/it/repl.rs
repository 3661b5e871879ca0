//! The interactive REPL on a real (pseudo-)terminal: keys typed, what the terminal shows, what
//! the server received. Each test waits for text, never for time.

use crate::support::*;
use crate::terminal::Term;

/// The REPL without colours (escape sequences of the line editor remain).
fn repl(home: &std::path::Path, url: &str) -> Term {
    Term::start(
        home,
        &["--color", "never", "--timeout", NO_TIMEOUT, url],
        &[],
    )
}

#[test]
fn message_text_takes_a_typed_tab_and_shows_the_stuffed_wire_form() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("MAIL FROM:<a@example.test>");
    t.expect("S: 250");
    t.line("RCPT TO:<b@example.test>");
    t.expect("S: 250");
    t.line("DATA");
    t.expect("S: 354");
    t.expect("message (");
    t.line("Subject: folded");
    t.line("X-Long: first part");
    // TAB starts the folded continuation line: typed into the text, not completed.
    t.line("\tsecond part");
    t.line("");
    t.line(".starts with a dot");
    t.expect("C: ..starts with a dot");
    t.line(".");
    t.expect("S: 250 2.0.0 Ok: queued");
    t.line(":quit");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert_eq!(
        log.record_strs("message"),
        vec![
            "Subject: folded\r\nX-Long: first part\r\n\tsecond part\r\n\r\n..starts with a dot\r\n"
        ],
        "{seen}"
    );
}

#[test]
fn ctrl_d_in_message_text_abandons_the_message_with_exit_10() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"DATA\r\n");
        c.send(b"354 go ahead\r\n");
        let rest = c.drain();
        c.record("rest", &rest);
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("DATA");
    t.expect("message (");
    t.line("Subject: never sent whole");
    t.expect("C: Subject: never sent whole");
    t.ctrl('d');
    t.expect("abandoned");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_ABANDONED), "{seen}");
    // The connection was closed without the final dot: nothing can be delivered.
    assert_eq!(
        log.record_strs("rest"),
        vec!["Subject: never sent whole\r\n"],
        "{seen}"
    );
}

#[test]
fn ctrl_c_interrupts_a_wait_and_the_session_goes_on() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"NOOP\r\n");
        // No answer until the user has typed the next command after Ctrl-C.
        c.expect_line(b"RSET\r\n");
        c.send(b"250 2.0.0 late noop\r\n250 2.0.0 rset\r\n");
        smtp_loop(c, false, false);
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("NOOP");
    t.expect("C: NOOP");
    t.ctrl('c');
    t.expect("interrupted: no longer waiting for the reply");
    t.expect("smtp 127.0.0.1 plain › ");
    t.line("RSET");
    t.expect("S: 250 2.0.0 late noop");
    t.expect("S: 250 2.0.0 rset");
    // Ctrl-C at the prompt does not leave either.
    t.expect("smtp 127.0.0.1 plain › ");
    t.ctrl('c');
    t.expect("Ctrl-C drops the line being typed; Ctrl-D or :quit leaves");
    t.line("NOOP");
    t.expect("C: NOOP");
    t.expect("S: 250");
    t.line(":quit");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert!(log.has_note("quit"), "{log:?}\n{seen}");
}

#[test]
fn ctrl_c_interrupts_a_sleep() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    // Far longer than the hang limit of a wait: only Ctrl-C can end it in time.
    t.line(":sleep 3600");
    t.expect("** sleeping 3600 s");
    t.ctrl('c');
    t.expect("interrupted");
    t.expect("smtp 127.0.0.1 plain › ");
    t.line("NOOP");
    t.expect("S: 250");
    t.line(":quit");
    let (code, seen) = t.finish();
    s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
}

#[test]
fn history_is_written_as_each_line_is_entered() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join(".local/share/mailtalk/history");
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("NOOP");
    t.expect("S: 250");
    t.line("VRFY postmaster");
    t.expect("S: 252");
    // No clean exit: the history must already be on disk.
    t.kill(rexpect::process::Signal::SIGKILL);
    let (_, seen) = t.finish();
    s.join();
    let text = std::fs::read_to_string(&history)
        .unwrap_or_else(|e| panic!("no history at {}: {e}\n{seen}", history.display()));
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(lines.ends_with(&["NOOP", "VRFY postmaster"]), "{text:?}");
}

#[test]
fn a_typed_password_never_stays_on_the_terminal_even_after_ctrl_l() {
    const PW: &str = "Wonder-Land-42";
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| imap_auth(c, "alice", PW));
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("imap"));
    t.expect("S: * OK");
    t.expect("imap 127.0.0.1 plain › ");
    t.send("LOGIN alice Wonder-");
    // Redraw the screen in the middle of the password, then finish typing it.
    t.ctrl('l');
    t.send("Land-42");
    t.ctrl('l');
    t.send("\r");
    t.expect("OK");
    t.expect("imap 127.0.0.1 plain › ");
    t.line(":quit");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert!(log.has_note("auth ok"), "{log:?}\n{seen}");
    for piece in [PW, "Wonder-", "Land-42"] {
        assert!(
            !seen.contains(piece),
            "{piece:?} was shown on the terminal\n{}",
            seen.escape_debug()
        );
    }
    let history = home.path().join(".local/share/mailtalk/history");
    let text = std::fs::read_to_string(&history).unwrap_or_default();
    assert!(!text.contains("Land-42"), "{text}");
}

#[test]
fn the_repl_says_when_the_server_closed_and_ends_with_exit_7() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"NOOP\r\n");
        c.send(b"421 4.3.2 shutting down\r\n");
        c.close();
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("NOOP");
    t.expect("S: 421 4.3.2 shutting down");
    t.expect("closed (:reconnect opens it again; Enter or Ctrl-D leaves) › ");
    t.line("");
    let (code, seen) = t.finish();
    s.join();
    assert_eq!(code, Some(EXIT_CLOSED), "{seen}");
}

#[test]
fn reconnect_opens_the_same_target_again() {
    let certs = TestCerts::new();
    let s = Server::start_multi(Mode::Plain, &certs.good, 2, |c, n| {
        c.send(SMTP_GREETING);
        if n == 0 {
            c.expect_line(b"NOOP\r\n");
            c.send(b"421 4.3.2 bye\r\n");
            c.close();
        } else {
            smtp_loop(c, false, false);
        }
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("NOOP");
    t.expect("closed (:reconnect");
    t.line(":reconnect");
    t.expect("S: 220");
    t.expect("smtp 127.0.0.1 plain › ");
    t.line("NOOP");
    t.expect("S: 250");
    t.line(":quit");
    let (code, seen) = t.finish();
    let logs = s.join_all();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert_eq!(logs.len(), 2, "{seen}");
}

#[test]
fn an_imap_literal_typed_by_hand_asks_for_the_rest_of_the_command() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(&imap_greeting(false));
        c.expect_line(b"A001 APPEND INBOX {7}\r\n");
        c.send(b"+ Ready for literal data\r\n");
        let lit = c.read_exact(7).unwrap();
        c.record("literal", &lit);
        c.expect_line(b"\r\n");
        c.send(b"A001 OK APPEND completed\r\n");
        c.expect_line(b"A002 NOOP\r\n");
        c.send(b"A002 OK NOOP completed\r\n");
        imap_loop(c, false);
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("imap"));
    t.expect("imap 127.0.0.1 plain › ");
    t.line("APPEND INBOX {7}");
    t.expect("literal (7 bytes left) › ");
    t.line("hello");
    t.expect("rest of the command line after the literal (Enter ends the command) › ");
    t.line("");
    t.expect("S: A001 OK APPEND completed");
    t.line("NOOP");
    t.expect("S: A002 OK NOOP completed");
    t.line(":quit");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert_eq!(log.record_strs("literal"), vec!["hello\r\n"]);
}

#[test]
fn smtp_bdat_typed_by_hand_counts_the_bytes_left() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"EHLO me.test\r\n");
        c.send(b"250-localhost\r\n250-CHUNKING\r\n250 PIPELINING\r\n");
        c.expect_line(b"BDAT 14 LAST\r\n");
        let chunk = c.read_exact(14).unwrap();
        c.record("chunk", &chunk);
        c.send(b"250 2.0.0 queued\r\n");
        smtp_loop(c, false, false);
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("EHLO me.test");
    t.expect("S: 250 PIPELINING");
    t.line("BDAT 14 LAST");
    t.expect("chunk (14 bytes left) › ");
    t.line("hello");
    t.expect("chunk (7 bytes left) › ");
    t.line("world");
    t.expect("S: 250 2.0.0 queued");
    t.line(":quit");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert_eq!(log.record_strs("chunk"), vec!["hello\r\nworld\r\n"]);
}

#[test]
fn completion_offers_what_the_server_advertised_by_context() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"EHLO me.test\r\n");
        c.send(b"250-localhost\r\n250-SIZE 1000\r\n250-DSN\r\n250 8BITMIME\r\n");
        smtp_loop(c, false, false);
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("EHLO me.test");
    t.expect("S: 250 8BITMIME");
    // After RCPT TO:<…> the RCPT parameters of DSN; the only one starting with N is NOTIFY=.
    t.send("RCPT TO:<a@b> N\t");
    t.expect("NOTIFY=");
    t.ctrl('u');
    // MAIL parameters: SIZE= is advertised; SMTPUTF8 is not, so S completes to SIZE= alone.
    t.send("MAIL FROM:<a@b> S\t");
    t.expect("SIZE=");
    t.ctrl('u');
    t.line(":quit");
    let (code, seen) = t.finish();
    s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
}

#[test]
fn auth_without_an_advertised_mechanism_says_so_without_asking_for_a_password() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, true));
    let home = tempfile::tempdir().unwrap();
    let mut t = Term::start(
        home.path(),
        &["--color", "never", "--user", "alice", &s.url("smtp")],
        &[],
    );
    t.expect("S: 220");
    t.line("EHLO me.test");
    t.expect("S: 250 ");
    t.line(":auth");
    t.expect(":starttls");
    t.expect("smtp 127.0.0.1 plain › ");
    t.line(":quit");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert!(!seen.to_lowercase().contains("password:"), "{seen}");
    assert!(
        !log.plain_str().contains("AUTH"),
        "AUTH was sent\n{}",
        log.plain_str()
    );
}

#[test]
fn a_pasted_block_of_lines_is_taken_line_by_line() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| smtp_like(c, false, false));
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    // A terminal's bracketed paste: the block between ESC [200~ and ESC [201~, its line
    // breaks as CR, then Enter.
    t.send("\x1b[200~MAIL FROM:<a@example.test>\rRCPT TO:<b@example.test>\rDATA\rSubject: pasted\r\rbody\r.\x1b[201~");
    t.send("\r");
    t.expect("S: 250 2.0.0 Ok: queued");
    t.line(":quit");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert_eq!(
        log.commands(),
        [
            "MAIL FROM:<a@example.test>",
            "RCPT TO:<b@example.test>",
            "DATA",
            "QUIT"
        ],
        "{seen}"
    );
    assert_eq!(
        log.record_strs("message"),
        vec!["Subject: pasted\r\n\r\nbody\r\n"],
        "{seen}"
    );
}

#[test]
fn a_close_while_a_reply_is_awaited_also_offers_reconnect() {
    let certs = TestCerts::new();
    let s = Server::start_multi(Mode::Plain, &certs.good, 2, |c, n| {
        c.send(SMTP_GREETING);
        if n == 0 {
            // Closes without an answer.
            c.expect_line(b"NOOP\r\n");
            c.close();
        } else {
            smtp_loop(c, false, false);
        }
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("NOOP");
    t.expect("the server closed the connection while a reply was expected");
    t.expect("closed (:reconnect opens it again; Enter or Ctrl-D leaves) › ");
    t.line(":reconnect");
    t.expect("S: 220");
    t.line(":quit");
    let (code, seen) = t.finish();
    let logs = s.join_all();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert_eq!(logs.len(), 2, "{seen}");

    // Without :reconnect, Enter leaves with status 7.
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(SMTP_GREETING);
        c.expect_line(b"NOOP\r\n");
        c.close();
    });
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line("NOOP");
    t.expect("closed (:reconnect opens it again; Enter or Ctrl-D leaves) › ");
    t.line("");
    let (code, seen) = t.finish();
    s.join();
    assert_eq!(code, Some(EXIT_CLOSED), "{seen}");
}

#[test]
fn a_pasted_sasl_exchange_never_shows_the_password() {
    const PW: &str = "Pasted-Secret-77";
    let certs = TestCerts::new();
    let cfg = SmtpConfig::new(&["AUTH PLAIN LOGIN"]).credentials("alice", PW);
    let s = Server::start(Mode::Plain, &certs.good, move |c| smtp_full(c, &cfg));
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    let user = b64(b"alice");
    let pass = b64(PW.as_bytes());
    t.send(&format!(
        "\x1b[200~EHLO me.test\rAUTH LOGIN\r{user}\r{pass}\x1b[201~"
    ));
    t.send("\r");
    t.expect("S: 235");
    t.line(":quit");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    assert!(log.has_note("auth ok"), "{log:?}\n{seen}");
    for piece in [PW, pass.as_str()] {
        assert!(
            !seen.contains(piece),
            "{piece:?} was shown\n{}",
            seen.escape_debug()
        );
    }
}

#[test]
fn a_protocol_violation_leads_to_the_closed_prompt_and_keeps_its_status() {
    let certs = TestCerts::new();
    let s = Server::start(Mode::Plain, &certs.good, |c| {
        c.send(&imap_greeting(false));
        c.expect_line(b"A001 NOOP\r\n");
        c.send(b"* 1 FETCH (BODY[] {99999999999999999999999}\r\n");
        c.drain();
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("imap"));
    t.expect("imap 127.0.0.1 plain › ");
    t.line("NOOP");
    t.expect("!! error: ");
    t.expect("closed (:reconnect opens it again; Enter or Ctrl-D leaves) › ");
    t.line("");
    let (code, seen) = t.finish();
    s.join();
    assert_eq!(code, Some(EXIT_PROTOCOL), "{seen}");
}

#[test]
fn ctrl_c_during_count_makes_the_copy_in_progress_the_last_one() {
    let certs = TestCerts::new();
    let (pressed, gate) = std::sync::mpsc::channel::<()>();
    let s = Server::start(Mode::Plain, &certs.good, move |c| {
        c.send(SMTP_GREETING);
        let ehlo = c.read_line().unwrap_or_default();
        assert!(ehlo.starts_with(b"EHLO "), "{}", show_bytes(&ehlo));
        c.send(b"250-mx.test\r\n250 PIPELINING\r\n");
        let mut copy = 0;
        loop {
            let line = c.read_line().unwrap_or_default();
            if line.starts_with(b"QUIT") {
                c.send(b"221 2.0.0 Bye\r\n");
                break;
            }
            if line.starts_with(b"NOOP") {
                c.send(b"250 2.0.0 Ok\r\n");
                continue;
            }
            assert_eq!(
                line,
                b"MAIL FROM:<a@example.test>\r\n",
                "{}",
                show_bytes(&line)
            );
            c.expect_line(b"RCPT TO:<b@example.test>\r\n");
            c.expect_line(b"DATA\r\n");
            copy += 1;
            if copy == 2 {
                // Copy 2's commands came with copy 1's end of data: its reply waits for the
                // Ctrl-C.
                gate.recv().unwrap();
                c.send(b"250 2.0.0 queued 1\r\n");
            }
            c.send(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
            let mut data = Vec::new();
            loop {
                let l = c.read_line().expect("the message");
                if l == b".\r\n" {
                    break;
                }
                data.extend_from_slice(&l);
            }
            c.record("message", &data);
            if copy > 1 {
                c.send(format!("250 2.0.0 queued {copy}\r\n").as_bytes());
            }
        }
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line(":send --count 1000 --from a@example.test --to b@example.test --body hi");
    t.expect("C: .");
    t.expect("C: DATA");
    t.ctrl('c');
    pressed.send(()).unwrap();
    t.expect("not sent (interrupted)");
    t.expect("interrupted after copy ");
    t.expect("smtp 127.0.0.1 plain › ");
    // The session goes on, its replies in step.
    t.line("NOOP");
    t.expect("S: 250 2.0.0 Ok");
    t.line(":quit");
    let (code, seen) = t.finish();
    let log = s.join();
    assert_eq!(code, Some(EXIT_OK), "{seen}");
    // The Ctrl-C is seen at the data phase of the copy whose replies follow it (copy 2, or a
    // later one had the signal come late): that copy is sent whole and is the last one.
    let sent = log.records("message").len();
    assert!((2..1000).contains(&sent), "{sent}\n{seen}");
    assert!(
        seen.contains(&format!("interrupted after copy {sent} of 1000")),
        "{seen}"
    );
    assert!(
        seen.contains(&format!(
            "1000 messages: {sent} accepted, 0 refused, {} not sent",
            1000 - sent
        )),
        "{seen}"
    );
}

/// Ctrl-C while a large message is going to a server that stopped reading: the write is given
/// up at once (not at the timeout), the connection closed, and the server never gets the end
/// of the data, so nothing half sent can be delivered.
#[test]
fn ctrl_c_stops_a_message_the_server_does_not_read_and_nothing_is_delivered() {
    let certs = TestCerts::new();
    let (go_on, resume) = std::sync::mpsc::channel::<()>();
    let s = Server::start(Mode::Plain, &certs.good, move |c| {
        c.send(SMTP_GREETING);
        let ehlo = c.read_line().unwrap_or_default();
        assert!(ehlo.starts_with(b"EHLO "), "{}", show_bytes(&ehlo));
        c.send(b"250 mx.test\r\n");
        c.expect_line(b"MAIL FROM:<a@example.test>\r\n");
        c.send(b"250 2.1.0 Ok\r\n");
        c.expect_line(b"RCPT TO:<b@example.test>\r\n");
        c.send(b"250 2.1.5 Ok\r\n");
        c.expect_line(b"DATA\r\n");
        c.send(b"354 go ahead\r\n");
        // Not a byte more is read until the client gave up.
        let _ = resume.recv();
        let data = c.drain();
        c.record("data", &data);
    });
    let home = tempfile::tempdir().unwrap();
    let big = home.path().join("big.eml");
    let mut text = b"Subject: big\n\n".to_vec();
    text.extend(b"a line of the body\n".repeat(64 << 20 >> 4));
    std::fs::write(&big, &text).unwrap();
    let mut t = repl(home.path(), &s.url("smtp"));
    t.expect("S: 220");
    t.line(&format!(
        ":send --from a@example.test --to b@example.test --data @{}",
        big.display()
    ));
    t.expect("S: 354 go ahead");
    t.ctrl('c');
    t.expect("interrupted ");
    t.expect("the connection was closed");
    go_on.send(()).unwrap();
    t.ctrl('d');
    let (_, seen) = t.finish();
    let log = s.join();
    let data = log.records("data").concat();
    assert!(data.len() < text.len(), "{} of {}", data.len(), text.len());
    assert!(!data.windows(5).any(|w| w == b"\r\n.\r\n"), "{seen}");
    assert!(!seen.contains("message accepted"), "{seen}");
}

/// Ctrl-C while a literal keeps streaming in (never a pause long enough for a read to time
/// out): the wait ends at once, and the prompt answers while the rest is still arriving.
#[test]
fn ctrl_c_stops_waiting_for_a_literal_that_keeps_coming() {
    let certs = TestCerts::new();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let s = Server::start(Mode::Plain, &certs.good, move |c| {
        c.send(b"* OK [CAPABILITY IMAP4rev1] ready\r\n");
        let fetch = c.read_line().unwrap_or_default();
        assert!(
            fetch.ends_with(b"FETCH 1 BODY[]\r\n"),
            "{}",
            show_bytes(&fetch)
        );
        c.send(b"* 1 FETCH (BODY[] {4000000000}\r\n");
        let lines = [b'x'; 98]
            .iter()
            .chain(b"\r\n")
            .copied()
            .collect::<Vec<u8>>()
            .repeat(40);
        while stopped.try_recv().is_err() && c.send_quiet(&lines) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        c.close();
    });
    let home = tempfile::tempdir().unwrap();
    let mut t = repl(home.path(), &s.url("imap"));
    t.expect("S: * OK");
    t.line("FETCH 1 BODY[]");
    t.expect("S: * 1 FETCH (BODY[] {4000000000}");
    t.expect("S: xxxxxxxxxx");
    t.ctrl('c');
    t.expect("interrupted: no longer waiting for the reply");
    t.line(":max-show 5");
    t.expect("at most 5 lines of each literal or body are shown");
    // The server gives up in the middle of the literal; the REPL says so.
    stop.send(()).unwrap();
    t.expect("closed");
    t.ctrl('d');
    let (_, seen) = t.finish();
    drop(s);
    assert!(!seen.contains("OK FETCH"), "{seen}");
}
