//! Recording a session as a script that replays it.
//!
//! The file (mode 0600) starts with comment lines naming the target and the date; then every
//! line the user typed, and after each reply an `:expect` with its status: the SMTP/LMTP reply
//! code (`250`, `354`, `334`), the IMAP status (`OK`, `NO`, `BAD`, `BYE`, `PREAUTH`, `+`) or
//! the POP3 status (`+OK`, `-ERR`, `+`).
//!
//! What is written:
//! - Lines sent to the server are recorded in the display form the session reports. `${` in
//!   them is written `$${`, so that replaying sends the same text. A secret line has its
//!   `<redacted>` replaced by `${MAILTALK_PASSWORD}` (the whole line becomes
//!   `${MAILTALK_PASSWORD}` when it has no `<redacted>`): the password is never written, and
//!   the replay reads it from the environment.
//! - Meta-commands are written as they were typed. A line sent to the server that starts with
//!   `:` is written `::…` (the script language's escape), so that replaying sends it rather
//!   than running it.
//! - Nothing the server sent is written, only codes and status words. A typed line holding a
//!   control character (other than TAB) cannot be replayed from a text file: it is written as
//!   a comment, with the characters made visible.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use crate::proto::{Outcome, Protocol, Reply, REDACTED};
use crate::render::escape::visible_string;
use crate::script::expect::imap_status_word;

/// What a secret is written as.
pub const PASSWORD_VAR: &str = "${MAILTALK_PASSWORD}";

/// Writes a replayable script.
#[derive(Debug)]
pub struct Recorder {
    file: File,
}

impl Recorder {
    /// Creates (or truncates) the script file, mode 0600, and writes the header. `target` is
    /// the target as the user gave it (`smtp://mx.example.com:25`).
    pub fn create(path: &Path, target: &str) -> io::Result<Recorder> {
        Recorder::create_at(path, target, jiff::Timestamp::now())
    }

    fn create_at(path: &Path, target: &str, now: jiff::Timestamp) -> io::Result<Recorder> {
        let file = crate::output::create_private(path)?;
        let mut rec = Recorder { file };
        rec.write_line(&format!(
            "# recorded by mailtalk {} on {}",
            env!("CARGO_PKG_VERSION"),
            crate::output::utc_timestamp(now)
        ))?;
        rec.write_line(&format!("# target: {}", visible_string(target.as_bytes())))?;
        Ok(rec)
    }

    /// Records a meta-command as typed.
    pub fn meta(&mut self, line: &str) -> io::Result<()> {
        if let Some(refused) = self.control_chars(line) {
            return refused;
        }
        self.write_line(line)
    }

    /// A comment instead of a line a text file cannot hold.
    fn control_chars(&mut self, line: &str) -> Option<io::Result<()>> {
        line.chars().any(|c| c.is_control() && c != '\t').then(|| {
            self.write_line(&format!(
                "# not recorded, a line with control characters: {}",
                visible_string(line.as_bytes())
            ))
        })
    }

    /// Records a line sent to the server as typed (a secret one in its display form).
    pub fn input(&mut self, line: &str, secret: bool) -> io::Result<()> {
        if let Some(refused) = self.control_chars(line) {
            return refused;
        }
        let escaped = line.replace("${", "$${");
        let escaped = if escaped.starts_with(':') {
            format!(":{escaped}")
        } else {
            escaped
        };
        let text = if !secret {
            escaped
        } else if escaped.contains(REDACTED) {
            escaped.replace(REDACTED, PASSWORD_VAR)
        } else {
            PASSWORD_VAR.to_string()
        };
        self.write_line(&text)
    }

    /// Records the status of a complete reply (or continuation) as an `:expect`.
    pub fn reply(&mut self, protocol: Protocol, reply: &Reply) -> io::Result<()> {
        match expect_spec(protocol, reply) {
            Some(spec) => self.write_line(&format!(":expect {spec}")),
            None => self.write_line("# no :expect recorded: the reply had no recognised status"),
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    fn write_line(&mut self, line: &str) -> io::Result<()> {
        let mut buf = String::with_capacity(line.len().saturating_add(1));
        buf.push_str(line);
        buf.push('\n');
        self.file.write_all(buf.as_bytes())
    }
}

/// The `:expect` status that a reply satisfies.
fn expect_spec(protocol: Protocol, reply: &Reply) -> Option<String> {
    let word = match protocol {
        Protocol::Smtp | Protocol::Lmtp => {
            return reply.code.filter(|c| c.is_valid()).map(|c| c.to_string())
        }
        Protocol::Imap => match reply.outcome {
            Outcome::Ok if imap_status_word(reply).as_deref() == Some("PREAUTH") => "PREAUTH",
            Outcome::Ok => "OK",
            Outcome::No => "NO",
            Outcome::Bad => "BAD",
            Outcome::Bye => "BYE",
            Outcome::Continue => "+",
            Outcome::TempFail | Outcome::PermFail | Outcome::Unknown => return None,
        },
        Protocol::Pop3 => match reply.outcome {
            Outcome::Ok => "+OK",
            Outcome::PermFail => "-ERR",
            Outcome::Continue => "+",
            _ => return None,
        },
    };
    Some(word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::expect::parse_expect;

    fn reply(outcome: Outcome, code: Option<u16>, line: &str) -> Reply {
        Reply {
            code: code.and_then(crate::proto::smtp::Code::new),
            ..Reply::line(outcome, line.as_bytes().to_vec())
        }
    }

    fn at() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_735_732_800).unwrap()
    }

    #[test]
    fn smtp_session() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.mts");
        let mut rec = Recorder::create_at(&path, "smtp://127.0.0.1:2525", at()).unwrap();
        let p = Protocol::Smtp;
        rec.reply(p, &reply(Outcome::Ok, Some(220), "220 mx ESMTP"))
            .unwrap();
        rec.input("EHLO client.example", false).unwrap();
        rec.reply(p, &reply(Outcome::Ok, Some(250), "250 SIZE 100"))
            .unwrap();
        rec.input("AUTH PLAIN <redacted>", true).unwrap();
        rec.reply(p, &reply(Outcome::Ok, Some(235), "235 2.7.0 ok"))
            .unwrap();
        rec.input("MAIL FROM:<a@example.com>", false).unwrap();
        rec.reply(p, &reply(Outcome::Ok, Some(250), "250 ok"))
            .unwrap();
        rec.input("RCPT TO:<nobody@example.com>", false).unwrap();
        rec.reply(p, &reply(Outcome::PermFail, Some(550), "550 5.1.1 no"))
            .unwrap();
        rec.input("DATA", false).unwrap();
        rec.reply(p, &reply(Outcome::Continue, Some(354), "354 go"))
            .unwrap();
        rec.input("Subject: costs ${PRICE} or $5", false).unwrap();
        rec.input("", false).unwrap();
        rec.input("# not a comment in message text", false).unwrap();
        rec.input(".", false).unwrap();
        rec.reply(p, &reply(Outcome::Unknown, None, "garbage"))
            .unwrap();
        rec.meta(":caps").unwrap();
        rec.meta(":capture ID /${X}=(\\w+)/").unwrap();
        rec.input(":not a meta-command", false).unwrap();
        rec.input("NOOP \x1b[31m\r", false).unwrap();
        rec.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "# recorded by mailtalk {} on 2025-01-01 12:00:00 UTC\n\
                 # target: smtp://127.0.0.1:2525\n\
                 :expect 220\n\
                 EHLO client.example\n\
                 :expect 250\n\
                 AUTH PLAIN ${{MAILTALK_PASSWORD}}\n\
                 :expect 235\n\
                 MAIL FROM:<a@example.com>\n\
                 :expect 250\n\
                 RCPT TO:<nobody@example.com>\n\
                 :expect 550\n\
                 DATA\n\
                 :expect 354\n\
                 Subject: costs $${{PRICE}} or $5\n\
                 \n\
                 # not a comment in message text\n\
                 .\n\
                 # no :expect recorded: the reply had no recognised status\n\
                 :caps\n\
                 :capture ID /${{X}}=(\\w+)/\n\
                 ::not a meta-command\n\
                 # not recorded, a line with control characters: NOOP \\x1b[31m\\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        // Everything recorded parses back as an expectation for the protocol.
        for line in text.lines().filter_map(|l| l.strip_prefix(":expect ")) {
            parse_expect(line, p).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn pop3_and_imap_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pop.mts");
        let mut rec = Recorder::create_at(&path, "pop3://[::1]\r\n:evil", at()).unwrap();
        let p = Protocol::Pop3;
        rec.reply(p, &reply(Outcome::Ok, None, "+OK ready"))
            .unwrap();
        rec.input("USER alice", false).unwrap();
        rec.reply(p, &reply(Outcome::Ok, None, "+OK")).unwrap();
        rec.input("PASS <redacted>", true).unwrap();
        rec.reply(p, &reply(Outcome::PermFail, None, "-ERR [AUTH] no"))
            .unwrap();
        rec.input("AUTH PLAIN", false).unwrap();
        rec.reply(p, &reply(Outcome::Continue, None, "+ ")).unwrap();
        rec.input("AGFsaWNlAHNlY3JldA==", true).unwrap();
        rec.reply(p, &reply(Outcome::Unknown, None, "?")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let body: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            body,
            vec![
                "# target: pop3://[::1]\\r\\n:evil",
                ":expect +OK",
                "USER alice",
                ":expect +OK",
                "PASS ${MAILTALK_PASSWORD}",
                ":expect -ERR",
                "AUTH PLAIN",
                ":expect +",
                "${MAILTALK_PASSWORD}",
                "# no :expect recorded: the reply had no recognised status",
            ]
        );
        assert!(!text.contains("AGFsaWNl"));

        let path = dir.path().join("imap.mts");
        let mut rec = Recorder::create_at(&path, "imap://127.0.0.1", at()).unwrap();
        let p = Protocol::Imap;
        let imap = |outcome, line: &str| reply(outcome, None, line);
        rec.reply(p, &imap(Outcome::Ok, "* PREAUTH hi")).unwrap();
        rec.input("A1 LOGIN alice <redacted>", true).unwrap();
        rec.reply(p, &imap(Outcome::No, "A1 NO [AUTHENTICATIONFAILED] x"))
            .unwrap();
        rec.input("A2 SELECT INBOX", false).unwrap();
        rec.reply(p, &imap(Outcome::Ok, "A2 OK [READ-WRITE] done"))
            .unwrap();
        rec.input("A3 APPEND INBOX {5}", false).unwrap();
        rec.reply(p, &imap(Outcome::Continue, "+ go")).unwrap();
        rec.reply(p, &imap(Outcome::Bad, "A4 BAD what")).unwrap();
        rec.reply(p, &imap(Outcome::Bye, "* BYE bye")).unwrap();
        rec.reply(p, &imap(Outcome::TempFail, "?")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let body: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            body,
            vec![
                ":expect PREAUTH",
                "A1 LOGIN alice ${MAILTALK_PASSWORD}",
                ":expect NO",
                "A2 SELECT INBOX",
                ":expect OK",
                "A3 APPEND INBOX {5}",
                ":expect +",
                ":expect BAD",
                ":expect BYE",
                "# no :expect recorded: the reply had no recognised status",
            ]
        );
        for line in text.lines().filter_map(|l| l.strip_prefix(":expect ")) {
            parse_expect(line, p).unwrap();
        }
    }

    #[test]
    fn recorded_lines_replay_to_what_was_sent() {
        use crate::script::vars::Vars;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.mts");
        let mut rec = Recorder::create_at(&path, "smtp://127.0.0.1", at()).unwrap();
        let sent = ["a ${B} $${C} $ {D} $$", "${"];
        for s in sent {
            rec.input(s, false).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let vars = Vars::new();
        let replayed: Vec<String> = text
            .lines()
            .skip(2)
            .map(|l| vars.interpolate(l).unwrap())
            .collect();
        assert_eq!(replayed, sent);
    }
}
