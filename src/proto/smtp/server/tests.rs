use super::*;
use crate::proto::sasl::{self, encode};
use crate::secret::Secret;

/// An in-memory backend: users, refusals by address, the messages delivered.
#[derive(Default)]
struct Store {
    users: Vec<(String, String)>,
    delivered: Vec<(Envelope, Vec<u8>)>,
    /// Verdicts for the next delivery instead of one acceptance per recipient.
    verdicts: Option<Vec<Verdict>>,
    mails: Vec<(String, Vec<Param>)>,
    rcpts: Vec<(String, String, Vec<Param>)>,
}

fn reject(code: u16, enhanced: &str, text: &str) -> Verdict {
    Verdict::Reject {
        code,
        enhanced: enhanced.to_string(),
        text: text.to_string(),
    }
}

impl Credentials for Store {
    fn check(&self, user: &str, password: &[u8]) -> bool {
        self.users
            .iter()
            .any(|(u, p)| u == user && p.as_bytes() == password)
    }

    fn password(&self, user: &str) -> Lookup {
        if self.users.is_empty() {
            return Lookup::AnyAccepted;
        }
        match self.users.iter().find(|(u, _)| u == user) {
            Some((_, p)) => Lookup::Known(Secret::new(p.clone())),
            None => Lookup::Unknown,
        }
    }
}

impl Backend for Store {
    fn mail(&mut self, from: &str, params: &[Param]) -> Verdict {
        self.mails.push((from.to_string(), params.to_vec()));
        if from.starts_with("spammer@") {
            return reject(550, "5.7.1", "Sender refused");
        }
        Verdict::Accept(String::new())
    }

    fn rcpt(&mut self, from: &str, to: &str, params: &[Param]) -> Verdict {
        self.rcpts
            .push((from.to_string(), to.to_string(), params.to_vec()));
        match to.split('@').next() {
            Some("unknown") => reject(550, "5.1.1", "User unknown"),
            Some("full") => reject(452, "4.2.2", "Mailbox full"),
            Some("odd") => reject(299, "x", "odd\r\ntext"),
            Some("bye") => reject(421, "4.3.0", "Going away"),
            _ => Verdict::Accept(String::new()),
        }
    }

    fn deliver(&mut self, envelope: &Envelope, data: Vec<u8>) -> Vec<Verdict> {
        self.delivered.push((envelope.clone(), data));
        let n = self.delivered.len();
        self.verdicts.take().unwrap_or_else(|| {
            envelope
                .rcpts
                .iter()
                .map(|_| Verdict::Accept(format!("Ok: queued as Q{n}")))
                .collect()
        })
    }
}

fn config() -> Config {
    Config {
        hostname: "mx.test".to_string(),
        max_size: 1000,
        max_rcpts: 3,
        max_commands: 100,
        max_errors: 5,
        mechanisms: vec![ServerMech::Plain, ServerMech::Login],
        plaintext_auth: true,
        ..Config::default()
    }
}

struct Rig {
    server: Server,
    store: Store,
    steps: Vec<Step>,
}

impl Rig {
    fn new(config: Config) -> Rig {
        Rig {
            server: Server::new(config),
            store: Store::default(),
            steps: Vec::new(),
        }
    }

    fn greet(&mut self) -> String {
        let mut out = Output::new();
        self.server.greeting(&mut out);
        String::from_utf8(out.to_bytes()).unwrap()
    }

    /// Feeds `bytes`, steps until the machine needs input (or closes, or starts TLS) and
    /// returns what it wrote.
    fn send(&mut self, bytes: &[u8]) -> String {
        self.server.feed(bytes);
        let mut out = Output::new();
        for _ in 0..100_000 {
            let step = self.server.step(&mut self.store, &mut out);
            self.steps.push(step);
            if step != Step::Handled {
                return String::from_utf8(out.to_bytes()).unwrap();
            }
        }
        panic!("the machine keeps stepping");
    }

    fn last(&self) -> Step {
        *self.steps.last().unwrap()
    }

    fn events(&mut self) -> Vec<ServerEvent> {
        self.server.take_events()
    }

    fn phases(&mut self) -> Vec<Phase> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::Phase(p) => Some(p),
                _ => None,
            })
            .collect()
    }
}

/// A rig past the greeting and EHLO.
fn ready(config: Config) -> Rig {
    let mut rig = Rig::new(config);
    rig.greet();
    let ehlo = if rig.server.config().lmtp {
        "LHLO c.test\r\n"
    } else {
        "EHLO c.test\r\n"
    };
    rig.send(ehlo.as_bytes());
    rig.events();
    rig
}

const EHLO_REPLY: &str = "250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
    250-SIZE 1000\r\n250-CHUNKING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n\
    250-AUTH PLAIN LOGIN\r\n250 HELP\r\n";

#[test]
fn greeting_and_ehlo() {
    let mut rig = Rig::new(config());
    assert_eq!(rig.greet(), "220 mx.test ESMTP mailtalk\r\n");
    assert_eq!(rig.send(b"EHLO client.test\r\n"), EHLO_REPLY);
    assert_eq!(rig.last(), Step::NeedInput);
    assert_eq!(rig.phases(), vec![Phase::Greeting, Phase::Ehlo]);
    assert_eq!(rig.send(b"HELO client.test\r\n"), "250 mx.test\r\n");
    // STARTTLS is offered until TLS is up; AUTH without plaintext_auth only after it.
    let mut rig = Rig::new(Config {
        starttls: true,
        plaintext_auth: false,
        mechanisms: ServerMech::ALL.to_vec(),
        ..config()
    });
    rig.greet();
    assert_eq!(
        rig.send(b"ehlo client.test\r\n"),
        "250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 1000\r\n\
         250-CHUNKING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250 HELP\r\n"
    );
    assert_eq!(
        rig.send(b"STARTTLS\r\n"),
        "220 2.0.0 Ready to start TLS\r\n"
    );
    assert_eq!(rig.last(), Step::StartTls);
    rig.server.tls_started();
    assert!(rig.server.is_tls());
    assert_eq!(
        rig.send(b"EHLO client.test\r\n"),
        "250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 1000\r\n\
         250-CHUNKING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n\
         250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\r\n250 HELP\r\n"
    );
    // No mechanisms: no AUTH line.
    let mut rig = Rig::new(Config {
        mechanisms: vec![],
        ..config()
    });
    rig.greet();
    assert!(!rig.send(b"EHLO c\r\n").contains("AUTH"));
}

#[test]
fn a_whole_session() {
    let mut rig = Rig::new(config());
    let out = rig.greet()
        + &rig.send(b"EHLO client.test\r\n")
        + &rig.send(b"MAIL FROM:<alice@example.org> SIZE=40 BODY=8BITMIME\r\n")
        + &rig.send(
            b"RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net\r\n",
        )
        + &rig.send(b"RCPT TO:<unknown@example.net>\r\n")
        + &rig.send(b"RCPT TO:<carol@example.net>\r\n")
        + &rig.send(b"DATA\r\n");
    assert_eq!(rig.server.wait(), Wait::Data);
    let out = out
        + &rig.send(b"Subject: hi\r\n\r\n..dot\r\nb\xc3\xa4r\r\n.\r\n")
        + &rig.send(b"QUIT\r\n");
    assert_eq!(
        out,
        format!(
            "220 mx.test ESMTP mailtalk\r\n{EHLO_REPLY}250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n\
             550 5.1.1 User unknown\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n\
             250 2.0.0 Ok: queued as Q1\r\n221 2.0.0 Bye\r\n"
        )
    );
    assert_eq!(rig.last(), Step::Close);
    assert_eq!(
        rig.phases(),
        vec![
            Phase::Greeting,
            Phase::Ehlo,
            Phase::Mail,
            Phase::Rcpt,
            Phase::Rcpt,
            Phase::Data,
            Phase::Eod
        ]
    );
    let (envelope, data) = &rig.store.delivered[0];
    assert_eq!(data, b"Subject: hi\r\n\r\n.dot\r\nb\xc3\xa4r\r\n");
    assert_eq!(
        envelope,
        &Envelope {
            helo: Some("client.test".into()),
            from: "alice@example.org".into(),
            from_params: vec![
                Param::new("SIZE", Some("40")),
                Param::new("BODY", Some("8BITMIME"))
            ],
            rcpts: vec!["bob@example.net".into(), "carol@example.net".into()],
            tls: false,
            auth_user: None,
            flags: vec![],
            bdat: false,
            size: 27,
        }
    );
    assert_eq!(
        rig.store.rcpts[0].2,
        vec![
            Param::new("NOTIFY", Some("SUCCESS,FAILURE")),
            Param::new("ORCPT", Some("rfc822;bob@example.net"))
        ]
    );
    // After QUIT nothing more is read.
    assert_eq!(rig.send(b"NOOP\r\n"), "");
    assert_eq!(rig.last(), Step::Close);
}

/// A session with everything but STARTTLS, in one piece.
const SESSION: &[u8] = b"EHLO client.test\r\n\
    AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n\
    MAIL FROM:<> BODY=7BIT\r\n\
    RCPT TO:<a@x.test>\r\n\
    RCPT TO:<unknown@x.test>\r\n\
    DATA\r\n\
    line\r\n..\r\n...\r\nbare\nlf\r\n\r\n.\r\n\
    MAIL FROM:<b@x.test>\r\n\
    RCPT TO:<c@x.test>\r\n\
    BDAT 5\r\nab\r\nc\
    BDAT 5 LAST\r\nd\re\r\n\
    BDAT 3\r\nxyz\
    NOOP\r\n\
    VRFY someone\r\n\
    BOGUS\r\n\
    RSET\r\n\
    QUIT\r\n";

fn session_rig() -> Rig {
    let mut rig = Rig::new(config());
    rig.store.users = vec![("alice".into(), "secret".into())];
    rig
}

#[test]
fn pipelined_commands_are_answered_one_per_step_in_order() {
    let mut rig = session_rig();
    let out = rig.greet() + &rig.send(SESSION);
    assert_eq!(
        out,
        format!(
            "220 mx.test ESMTP mailtalk\r\n{EHLO_REPLY}235 2.7.0 Authentication successful\r\n\
             250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 User unknown\r\n\
             354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as Q1\r\n\
             250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 5 octets received\r\n\
             250 2.0.0 Ok: queued as Q2\r\n503 5.5.1 Error: need MAIL command\r\n\
             250 2.0.0 Ok\r\n\
             252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n\
             500 5.5.2 Error: command not recognized\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"
        )
    );
    // One step per command (the DATA lines in one; a BDAT with its bytes), then Close.
    let handled = rig.steps.iter().filter(|s| **s == Step::Handled).count();
    assert_eq!(handled, 16);
    assert_eq!(rig.steps, {
        let mut v = vec![Step::Handled; 16];
        v.push(Step::Close);
        v
    });
    let (e1, d1) = &rig.store.delivered[0];
    assert_eq!(d1, b"line\r\n.\r\n..\r\nbare\nlf\r\n\r\n");
    assert_eq!(e1.from, "");
    assert_eq!(e1.auth_user.as_deref(), Some("alice"));
    assert_eq!(e1.flags, vec![(DataFlag::BareLf, 4, 1)]);
    assert!(!e1.bdat);
    let (e2, d2) = &rig.store.delivered[1];
    assert_eq!(d2, b"ab\r\ncd\re\r\n");
    assert!(e2.bdat);
    assert_eq!(e2.flags, vec![(DataFlag::BareCr, 2, 1)]);
}

#[test]
fn a_session_fed_one_byte_at_a_time_gives_the_same_output() {
    let mut whole = session_rig();
    let expected = whole.greet() + &whole.send(SESSION);
    let mut rig = session_rig();
    let mut out = rig.greet();
    for b in SESSION {
        out += &rig.send(std::slice::from_ref(b));
    }
    assert_eq!(out, expected);
    assert_eq!(rig.store.delivered, whole.store.delivered);
    assert_eq!(rig.last(), Step::Close);
    // And split at every point into two feeds.
    for i in 0..=SESSION.len() {
        let mut rig = session_rig();
        let out = rig.greet() + &rig.send(&SESSION[..i]) + &rig.send(&SESSION[i..]);
        assert_eq!(out, expected, "split at {i}");
    }
}

#[test]
fn commands_out_of_order() {
    let mut rig = Rig::new(Config {
        max_errors: 100,
        ..config()
    });
    rig.greet();
    assert_eq!(
        rig.send(b"MAIL FROM:<a@b.c>\r\n"),
        "503 5.5.1 Error: send HELO/EHLO first\r\n"
    );
    assert_eq!(
        rig.send(b"AUTH PLAIN\r\n"),
        "503 5.5.1 Error: send EHLO first\r\n"
    );
    rig.send(b"EHLO c\r\n");
    assert_eq!(
        rig.send(b"RCPT TO:<a@b.c>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    assert_eq!(
        rig.send(b"DATA\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    rig.send(b"MAIL FROM:<a@b.c>\r\n");
    assert_eq!(
        rig.send(b"MAIL FROM:<a@b.c>\r\n"),
        "503 5.5.1 Error: nested MAIL command\r\n"
    );
    assert_eq!(
        rig.send(b"DATA\r\n"),
        "503 5.5.1 Error: need RCPT command\r\n"
    );
    assert_eq!(
        rig.send(b"AUTH PLAIN\r\n"),
        "503 5.5.1 Error: MAIL transaction in progress\r\n"
    );
    assert_eq!(
        rig.send(b"RCPT TO:<unknown@b.c>\r\n"),
        "550 5.1.1 User unknown\r\n"
    );
    assert_eq!(
        rig.send(b"DATA\r\n"),
        "554 5.5.1 Error: no valid recipients\r\n"
    );
    assert_eq!(rig.send(b"RSET\r\n"), "250 2.0.0 Ok\r\n");
    assert_eq!(
        rig.send(b"RCPT TO:<a@b.c>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    // EHLO resets the transaction.
    rig.send(b"MAIL FROM:<a@b.c>\r\nEHLO again\r\n");
    assert_eq!(
        rig.send(b"RCPT TO:<a@b.c>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    assert_eq!(rig.last(), Step::NeedInput);
}

#[test]
fn syntax_and_unknown_commands() {
    let mut rig = Rig::new(Config {
        max_errors: 100,
        ..config()
    });
    rig.greet();
    let cases: &[(&[u8], &str)] = &[
        (
            b"FOO bar\r\n",
            "500 5.5.2 Error: command not recognized\r\n",
        ),
        (b"\r\n", "500 5.5.2 Error: bad syntax\r\n"),
        (
            b"EHLO\r\n",
            "501 5.5.4 Syntax error in EHLO: needs exactly one argument, the client's name\r\n",
        ),
        (
            b"MAIL FROM:a@b\r\n",
            "501 5.5.4 Syntax error in MAIL: the address must be in angle brackets\r\n",
        ),
        (
            b"DATA now\r\n",
            "501 5.5.4 Syntax error in DATA: takes no arguments\r\n",
        ),
        (b"NO\0OP\r\n", "500 5.5.2 Error: NUL byte in command\r\n"),
        (
            b"NOOP \xff\r\n",
            "500 5.5.2 Error: the command is not UTF-8\r\n",
        ),
        (b"VRFY\r\n", "501 5.5.4 Syntax: VRFY address\r\n"),
        (
            b"VRFY postmaster\r\n",
            "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n",
        ),
        (
            b"EXPN list\r\n",
            "502 5.5.1 Error: EXPN is not available\r\n",
        ),
        (b"EXPN\r\n", "501 5.5.4 Syntax: EXPN list\r\n"),
        (
            b"HELP\r\n",
            "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP AUTH\r\n",
        ),
        (b"noop whatever\r\n", "250 2.0.0 Ok\r\n"),
        (
            b"LHLO c\r\n",
            "500 5.5.1 Error: LHLO is LMTP's: use EHLO\r\n",
        ),
        (
            b"STARTTLS\r\n",
            "502 5.5.1 Error: command not implemented\r\n",
        ),
        (
            b"QUIT now\r\n",
            "501 5.5.4 Syntax error in QUIT: takes no arguments\r\n",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            rig.send(input),
            *expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // A bare LF ends a command too.
    assert_eq!(rig.send(b"NOOP\n"), "250 2.0.0 Ok\r\n");
}

#[test]
fn mail_parameters() {
    let mut rig = ready(Config {
        max_errors: 100,
        ..config()
    });
    let mut mail = |params: &str| {
        let out = rig.send(format!("MAIL FROM:<a@b.c>{params}\r\n").as_bytes());
        rig.send(b"RSET\r\n");
        out
    };
    for ok in [
        "",
        " SIZE=1000",
        " size=0",
        " BODY=7BIT",
        " BODY=8bitmime",
        " SMTPUTF8",
        " RET=HDRS ENVID=QQ314159",
        " AUTH=<>",
        " AUTH=alice+40x.test",
    ] {
        assert_eq!(mail(ok), "250 2.1.0 Ok\r\n", "{ok}");
    }
    let cases = [
        (
            " SIZE=1001",
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
        ),
        (
            " SIZE=99999999999999999999999",
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
        ),
        (
            " SIZE=ten",
            "501 5.5.4 Bad SIZE parameter: SIZE=number of bytes\r\n",
        ),
        (
            " SIZE",
            "501 5.5.4 Bad SIZE parameter: SIZE=number of bytes\r\n",
        ),
        (
            " BODY=BINARYMIME",
            "555 5.5.4 BODY=BINARYMIME is not supported (not advertised)\r\n",
        ),
        (
            " BODY=9BIT",
            "501 5.5.4 Bad BODY parameter: BODY=7BIT or BODY=8BITMIME\r\n",
        ),
        (" SMTPUTF8=yes", "501 5.5.4 SMTPUTF8 takes no value\r\n"),
        (" XFOO=1", "555 5.5.4 Unsupported option: XFOO\r\n"),
        (" SIZE=1 size=2", "501 5.5.4 Error: SIZE given twice\r\n"),
        (
            " RET=BODY",
            "501 5.5.4 RET must be FULL or HDRS, not \"BODY\"\r\n",
        ),
        (" RET", "501 5.5.4 RET needs a value\r\n"),
        (
            " ENVID=a+b",
            "501 5.5.4 ENVID \"a+b\" has a '+' not followed by two upper-case hex digits (xtext)\r\n",
        ),
        (
            " SIZE=",
            "501 5.5.4 Syntax error in MAIL: the parameter SIZE has an empty value\r\n",
        ),
    ];
    for (params, expected) in cases {
        assert_eq!(mail(params), expected, "{params}");
    }
    assert_eq!(
        rig.store.mails.len(),
        9,
        "refused parameters never reach the backend"
    );
    // After HELO there are no extensions.
    rig.send(b"HELO c\r\n");
    assert_eq!(
        rig.send(b"MAIL FROM:<a@b.c> SIZE=10\r\n"),
        "555 5.5.4 Error: parameters need EHLO\r\n"
    );
    // AUTH= is a parameter only where AUTH is offered.
    let mut rig = ready(Config {
        mechanisms: vec![],
        ..config()
    });
    assert_eq!(
        rig.send(b"MAIL FROM:<a@b.c> AUTH=<>\r\n"),
        "555 5.5.4 Unsupported option: AUTH\r\n"
    );
}

#[test]
fn rcpt_parameters_and_limits() {
    let mut rig = ready(Config {
        max_errors: 100,
        ..config()
    });
    rig.send(b"MAIL FROM:<a@b.c>\r\n");
    let cases: &[(&[u8], &str)] = &[
        (b"RCPT TO:<x@y.z> NOTIFY=NEVER\r\n", "250 2.1.5 Ok\r\n"),
        (
            b"RCPT TO:<x@y.z> NOTIFY=NEVER,DELAY\r\n",
            "501 5.5.4 NOTIFY must be NEVER or a comma list of SUCCESS, FAILURE and DELAY, not \"NEVER,DELAY\"\r\n",
        ),
        (
            b"RCPT TO:<x@y.z> ORCPT=bob\r\n",
            "501 5.5.4 ORCPT must be TYPE;address (rfc822;user@example.org), not \"bob\"\r\n",
        ),
        (
            b"RCPT TO:<x@y.z> SIZE=1\r\n",
            "555 5.5.4 Unsupported option: SIZE\r\n",
        ),
        (
            b"RCPT TO:<x@y.z> NOTIFY=DELAY NOTIFY=DELAY\r\n",
            "501 5.5.4 Error: NOTIFY given twice\r\n",
        ),
        (b"RCPT TO:<full@y.z>\r\n", "452 4.2.2 Mailbox full\r\n"),
        (b"RCPT TO:<odd@y.z>\r\n", "451 4.0.0 odd  text\r\n"),
        (b"RCPT TO:<Postmaster>\r\n", "250 2.1.5 Ok\r\n"),
        (b"RCPT TO:<@relay.test:z@y.z>\r\n", "250 2.1.5 Ok\r\n"),
        (b"RCPT TO:<w@y.z>\r\n", "452 4.5.3 Error: too many recipients\r\n"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            rig.send(input),
            *expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    let to: Vec<&str> = rig.store.rcpts.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(to, ["x@y.z", "full@y.z", "odd@y.z", "Postmaster", "z@y.z"]);
}

#[test]
fn addresses() {
    let mut rig = ready(Config {
        max_errors: 100,
        ..config()
    });
    let cases: &[(&[u8], &str)] = &[
        (
            b"MAIL FROM:<a b@c.d>\r\n",
            "501 5.1.7 Bad sender address syntax: ' ' may not appear in an unquoted local part\r\n",
        ),
        (
            b"MAIL FROM:<a..b@c.d>\r\n",
            "501 5.1.7 Bad sender address syntax: the local part has an empty dot-separated part (quote it)\r\n",
        ),
        (
            b"MAIL FROM:<nobody>\r\n",
            "501 5.1.7 Bad sender address syntax: no '@' between the local part and the domain\r\n",
        ),
        (
            b"MAIL FROM:<j\xc3\xb6rg@x.test>\r\n",
            "553 5.6.7 Non-ASCII addresses not permitted for that sender (use SMTPUTF8)\r\n",
        ),
        (b"MAIL FROM:<j\xc3\xb6rg@x.test> SMTPUTF8\r\n", "250 2.1.0 Ok\r\n"),
        (b"RCPT TO:<m\xc3\xbcller@b\xc3\xbccher.test>\r\n", "250 2.1.5 Ok\r\n"),
        (
            b"RCPT TO:<>\r\n",
            "501 5.1.3 Bad recipient address syntax: the null path is for senders only\r\n",
        ),
        (
            b"RCPT TO:<a@-b>\r\n",
            "501 5.1.3 Bad recipient address syntax: \"-b\" is not a valid domain\r\n",
        ),
        (b"RSET\r\n", "250 2.0.0 Ok\r\n"),
        (b"MAIL FROM:<@hop.test:a@b.c>\r\n", "250 2.1.0 Ok\r\n"),
        (
            b"RCPT TO:<j\xc3\xb6rg@x.test>\r\n",
            "553 5.6.7 Non-ASCII addresses not permitted for that recipient (use SMTPUTF8)\r\n",
        ),
        (b"RCPT TO:<\"john doe\"@x.test>\r\n", "250 2.1.5 Ok\r\n"),
        (b"RSET\r\n", "250 2.0.0 Ok\r\n"),
        (b"MAIL FROM:<spammer@x.test>\r\n", "550 5.7.1 Sender refused\r\n"),
        (b"RCPT TO:<a@b.c>\r\n", "503 5.5.1 Error: need MAIL command\r\n"),
        (b"MAIL FROM:<>\r\n", "250 2.1.0 Ok\r\n"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            rig.send(input),
            *expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    let from: Vec<&str> = rig.store.mails.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(from, ["jörg@x.test", "a@b.c", "spammer@x.test", ""]);
}

#[test]
fn a_421_verdict_ends_the_session() {
    let mut rig = ready(config());
    rig.send(b"MAIL FROM:<a@b.c>\r\n");
    assert_eq!(
        rig.send(b"RCPT TO:<bye@b.c>\r\nNOOP\r\n"),
        "421 4.3.0 Going away\r\n"
    );
    assert_eq!(rig.last(), Step::Close);
}

#[test]
fn data_keeps_smuggling_bytes_and_flags_them() {
    let mut rig = ready(config());
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n");
    rig.events();
    // `\n.\n`, `\r\n.\n` and `\n.\r\n` do not end the data; only CRLF . CRLF does.
    let out = rig.send(b"one\n.\ntwo\r\n.\nthree\n.\r\nfour\r.\r\r\n.x\r\nnul\0\r\n\xff\r\n.\r\n");
    assert_eq!(out, "250 2.0.0 Ok: queued as Q1\r\n");
    let (envelope, data) = &rig.store.delivered[0];
    assert_eq!(
        data,
        b"one\n.\ntwo\r\n.\nthree\n.\r\nfour\r.\r\r\n.x\r\nnul\0\r\n\xff\r\n"
    );
    let flags = vec![
        (DataFlag::BareLf, 1, 4),
        (DataFlag::BareCr, 3, 2),
        (DataFlag::Nul, 5, 1),
        (DataFlag::Unstuffed, 2, 2),
        (DataFlag::EightBit, 6, 1),
    ];
    assert_eq!(envelope.flags, flags);
    let flagged: Vec<_> = rig
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Flagged {
                flag,
                first_line,
                count,
            } => Some((flag, first_line, count)),
            _ => None,
        })
        .collect();
    assert_eq!(flagged, flags);
    // 8-bit data announced with BODY=8BITMIME or SMTPUTF8 is not flagged.
    for param in ["BODY=8BITMIME", "SMTPUTF8"] {
        rig.send(format!("MAIL FROM:<a@b.c> {param}\r\nRCPT TO:<x@y.z>\r\nDATA\r\n").as_bytes());
        rig.send(b"\xc3\xa9\r\n.\r\n");
        assert_eq!(rig.store.delivered.last().unwrap().0.flags, vec![]);
    }
}

#[test]
fn data_over_the_limit_is_read_to_the_end_then_refused() {
    let mut rig = ready(config());
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n");
    for _ in 0..200 {
        assert_eq!(rig.send(&[b'x'; 98]), "");
        assert_eq!(rig.send(b"\r\n"), "");
        assert!(rig.server.held() <= 1000, "{}", rig.server.held());
    }
    assert_eq!(
        rig.send(b".\r\nNOOP\r\n"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 Ok\r\n"
    );
    assert!(rig.store.delivered.is_empty());
    // The transaction is over.
    assert_eq!(
        rig.send(b"RCPT TO:<x@y.z>\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n"
    );
    // Exactly the limit is fine.
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n");
    let mut msg = vec![b'y'; 998];
    msg.extend_from_slice(b"\r\n.\r\n");
    assert_eq!(rig.send(&msg), "250 2.0.0 Ok: queued as Q1\r\n");
    assert_eq!(rig.store.delivered[0].1.len(), 1000);
}

#[test]
fn long_data_lines_are_taken_in_pieces() {
    let mut rig = ready(Config {
        max_size: 1 << 20,
        ..config()
    });
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n");
    let line = vec![b'z'; 300 * 1024];
    for chunk in line.chunks(16 * 1024) {
        assert_eq!(rig.send(chunk), "");
        assert!(rig.server.input.buffered() <= DATA_PIECE);
    }
    assert_eq!(rig.send(b"\r\n.\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
    assert_eq!(rig.store.delivered[0].1.len(), 300 * 1024 + 2);
}

#[test]
fn bdat_chunks() {
    let mut rig = ready(Config {
        max_errors: 100,
        ..config()
    });
    // Without a transaction the bytes are still read, then refused.
    assert_eq!(
        rig.send(b"BDAT 12\r\nRSET\r\nRSET\r\nNOOP\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n"
    );
    rig.send(b"MAIL FROM:<a@b.c>\r\n");
    assert_eq!(
        rig.send(b"BDAT 3 LAST\r\nabc"),
        "503 5.5.1 Error: need RCPT command\r\n"
    );
    rig.send(b"RCPT TO:<x@y.z>\r\n");
    rig.events();
    // A chunk split over many feeds; the deadline is the data phase's meanwhile.
    assert_eq!(rig.send(b"BDAT 6\r\nab"), "");
    assert_eq!(rig.server.wait(), Wait::Data);
    assert_eq!(rig.send(b"cd"), "");
    assert_eq!(rig.send(b"efBDA"), "250 2.0.0 Ok: 6 octets received\r\n");
    assert_eq!(rig.server.wait(), Wait::Command);
    assert_eq!(rig.phases(), vec![Phase::Data]);
    assert_eq!(rig.send(b"T 0 LAST\r\n"), "250 2.0.0 Ok: queued as Q1\r\n");
    assert_eq!(rig.phases(), vec![Phase::Eod]);
    assert_eq!(rig.store.delivered[0].1, b"abcdef");
    // BDAT 0 LAST alone is an empty message.
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\n");
    rig.events();
    assert_eq!(
        rig.send(b"BDAT 0 LAST\r\n"),
        "250 2.0.0 Ok: queued as Q2\r\n"
    );
    assert_eq!(rig.phases(), vec![Phase::Data, Phase::Eod]);
    assert_eq!(rig.store.delivered[1].1, b"");
    assert!(rig.store.delivered[1].0.bdat);
    // DATA after BDAT, RCPT after BDAT.
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nBDAT 1\r\nx");
    assert_eq!(
        rig.send(b"DATA\r\n"),
        "503 5.5.1 Error: DATA after BDAT\r\n"
    );
    assert_eq!(
        rig.send(b"RCPT TO:<w@y.z>\r\n"),
        "503 5.5.1 Error: RCPT after BDAT\r\n"
    );
    // Over the limit, counted over all chunks: the chunk is read and dropped, and the
    // transaction is gone; later chunks in the pipeline are read and refused.
    assert_eq!(rig.send(b"BDAT 1000\r\n"), "");
    assert_eq!(
        rig.send(&[b'q'; 1000]),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(
        rig.send(b"BDAT 2 LAST\r\nqqNOOP\r\n"),
        "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n"
    );
    assert_eq!(rig.store.delivered.len(), 2);
    assert_eq!(
        rig.send(b"BDAT 99999999999999999999\r\n"),
        "501 5.5.4 Syntax error in BDAT: expected BDAT SIZE [LAST] with SIZE a number of bytes\r\n"
    );
}

#[test]
fn a_huge_bdat_is_read_and_dropped_without_holding_it() {
    let mut rig = ready(config());
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\n");
    assert_eq!(rig.send(b"BDAT 18446744073709551615 LAST\r\n"), "");
    for _ in 0..100 {
        assert_eq!(rig.send(&[0u8; 65536]), "");
        assert_eq!(rig.server.held(), 0);
        assert_eq!(rig.server.wait(), Wait::Data);
    }
}

#[test]
fn lmtp_answers_once_per_recipient() {
    let mut rig = Rig::new(Config {
        lmtp: true,
        max_errors: 100,
        ..config()
    });
    assert!(rig.server.is_lmtp());
    assert_eq!(rig.greet(), "220 mx.test LMTP mailtalk\r\n");
    assert_eq!(
        rig.send(b"EHLO c\r\n"),
        "500 5.5.1 Error: this is LMTP: use LHLO\r\n"
    );
    assert_eq!(
        rig.send(b"HELO c\r\n"),
        "500 5.5.1 Error: this is LMTP: use LHLO\r\n"
    );
    assert_eq!(
        rig.send(b"MAIL FROM:<a@b.c>\r\n"),
        "503 5.5.1 Error: send LHLO first\r\n"
    );
    assert_eq!(rig.send(b"LHLO c\r\n"), EHLO_REPLY);
    rig.send(b"MAIL FROM:<a@b.c>\r\n");
    assert_eq!(
        rig.send(b"DATA\r\n"),
        "503 5.5.1 Error: need RCPT command\r\n"
    );
    rig.send(b"RCPT TO:<unknown@b.c>\r\n");
    assert_eq!(
        rig.send(b"DATA\r\n"),
        "503 5.5.1 Error: no valid recipients\r\n"
    );
    rig.send(b"RCPT TO:<x@b.c>\r\nRCPT TO:<y@b.c>\r\nRCPT TO:<z@b.c>\r\nDATA\r\n");
    rig.store.verdicts = Some(vec![
        Verdict::Accept("Ok: delivered to x".into()),
        reject(452, "4.2.2", "Mailbox full"),
    ]);
    assert_eq!(
        rig.send(b"hello\r\n.\r\n"),
        "250 2.0.0 Ok: delivered to x\r\n452 4.2.2 Mailbox full\r\n\
         451 4.3.0 Error: no verdict for this recipient\r\n"
    );
    // BDAT LAST answers per recipient too, also when over the limit.
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nRCPT TO:<y@b.c>\r\n");
    assert_eq!(
        rig.send(b"BDAT 2 LAST\r\nhi"),
        "250 2.0.0 Ok: queued as Q2\r\n250 2.0.0 Ok: queued as Q2\r\n"
    );
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nRCPT TO:<y@b.c>\r\n");
    let mut big = b"BDAT 1001 LAST\r\n".to_vec();
    big.extend_from_slice(&[b'b'; 1001]);
    assert_eq!(
        rig.send(&big),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n\
         552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(
        rig.send(b"HELP\r\n"),
        "214 2.0.0 Commands: LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP AUTH\r\n"
    );
}

#[test]
fn smtp_replies_with_the_first_verdict() {
    let mut rig = ready(config());
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nRCPT TO:<y@b.c>\r\nDATA\r\n");
    rig.store.verdicts = Some(vec![
        reject(554, "5.6.0", "Content refused"),
        Verdict::Accept(String::new()),
    ]);
    assert_eq!(rig.send(b"x\r\n.\r\n"), "554 5.6.0 Content refused\r\n");
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nDATA\r\n");
    rig.store.verdicts = Some(vec![]);
    assert_eq!(
        rig.send(b"x\r\n.\r\n"),
        "451 4.3.0 Error: no verdict for this recipient\r\n"
    );
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nDATA\r\n");
    rig.store.verdicts = Some(vec![reject(421, "4.3.2", "Shutting down")]);
    assert_eq!(
        rig.send(b"x\r\n.\r\nNOOP\r\n"),
        "421 4.3.2 Shutting down\r\n"
    );
    assert_eq!(rig.last(), Step::Close);
}

#[test]
fn starttls_drops_what_came_after_it_and_starts_over() {
    let mut rig = ready(Config {
        starttls: true,
        ..config()
    });
    rig.send(b"MAIL FROM:<a@b.c>\r\n");
    assert_eq!(
        rig.send(b"STARTTLS\r\n"),
        "503 5.5.1 Error: MAIL transaction in progress\r\n"
    );
    rig.send(b"RSET\r\n");
    rig.events();
    // The injected command after STARTTLS never runs.
    assert_eq!(
        rig.send(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n"),
        "220 2.0.0 Ready to start TLS\r\n"
    );
    assert_eq!(rig.last(), Step::StartTls);
    assert_eq!(rig.server.held(), 0);
    // Cleartext fed before the handshake completed is dropped too.
    rig.server.feed(b"RCPT TO:<x@y.z>\r\n");
    let events = rig.events();
    assert!(
        matches!(
            &events[..],
            [ServerEvent::Problem(_), ServerEvent::Problem(_)]
        ),
        "{events:?}"
    );
    rig.server.tls_started();
    assert_eq!(rig.send(b""), "");
    assert_eq!(rig.last(), Step::NeedInput);
    // The session starts over: EHLO first.
    assert_eq!(
        rig.send(b"MAIL FROM:<a@b.c>\r\n"),
        "503 5.5.1 Error: send HELO/EHLO first\r\n"
    );
    assert!(!rig.send(b"EHLO c\r\n").contains("STARTTLS"));
    assert_eq!(
        rig.send(b"STARTTLS\r\n"),
        "503 5.5.1 Error: TLS already active\r\n"
    );
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\nhi\r\n.\r\n");
    assert!(rig.store.delivered[0].0.tls);
    assert_eq!(rig.store.mails.len(), 2);
}

#[test]
fn require_tls_refuses_all_but_a_few_commands() {
    let mut rig = Rig::new(Config {
        starttls: true,
        require_tls: true,
        max_errors: 100,
        ..config()
    });
    rig.greet();
    let tls_first = "530 5.7.0 Must issue a STARTTLS command first\r\n";
    let ehlo = rig.send(b"EHLO c\r\n");
    assert!(ehlo.starts_with("250-mx.test\r\n"), "{ehlo}");
    assert!(
        !ehlo.contains("AUTH"),
        "AUTH offered where it is refused: {ehlo}"
    );
    assert_eq!(rig.send(b"NOOP\r\n"), "250 2.0.0 Ok\r\n");
    assert_eq!(rig.send(b"RSET\r\n"), "250 2.0.0 Ok\r\n");
    for cmd in [
        &b"MAIL FROM:<a@b.c>\r\n"[..],
        b"RCPT TO:<a@b.c>\r\n",
        b"DATA\r\n",
        b"AUTH PLAIN\r\n",
        b"VRFY x\r\n",
        b"HELP\r\n",
    ] {
        assert_eq!(
            rig.send(cmd),
            tls_first,
            "{:?}",
            String::from_utf8_lossy(cmd)
        );
    }
    // BDAT's bytes are read before the refusal.
    assert_eq!(
        rig.send(b"BDAT 4\r\nNOOPNOOP\r\n"),
        format!("{tls_first}250 2.0.0 Ok\r\n")
    );
    assert_eq!(
        rig.send(b"STARTTLS\r\n"),
        "220 2.0.0 Ready to start TLS\r\n"
    );
    rig.server.tls_started();
    rig.send(b"EHLO c\r\n");
    assert_eq!(rig.send(b"MAIL FROM:<a@b.c>\r\n"), "250 2.1.0 Ok\r\n");
    assert_eq!(rig.send(b"QUIT\r\n"), "221 2.0.0 Bye\r\n");
}

#[test]
fn require_auth_refuses_mail_before_auth() {
    let mut rig = ready(Config {
        require_auth: true,
        ..config()
    });
    rig.store.users = vec![("alice".into(), "secret".into())];
    assert_eq!(
        rig.send(b"MAIL FROM:<a@b.c>\r\n"),
        "530 5.7.0 Authentication required\r\n"
    );
    let plain = encode(b"\0alice\0secret");
    assert_eq!(
        rig.send(format!("AUTH PLAIN {plain}\r\n").as_bytes()),
        "235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(rig.send(b"MAIL FROM:<a@b.c>\r\n"), "250 2.1.0 Ok\r\n");
}

fn auth_rig() -> Rig {
    let mut rig = ready(Config {
        mechanisms: ServerMech::ALL.to_vec(),
        max_errors: 100,
        log: true,
        ..config()
    });
    rig.store.users = vec![("alice".into(), "secret".into())];
    rig.events();
    rig
}

fn auth_events(events: &[ServerEvent]) -> Vec<(String, String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Auth {
                user,
                mechanism,
                ok,
            } => Some((user.clone(), mechanism.clone(), *ok)),
            _ => None,
        })
        .collect()
}

/// The secret part of each line logged as received.
fn secrets(events: &[ServerEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Line {
                dir: Dir::In,
                bytes,
                secret: Some(r),
                ..
            } => Some(bytes[r.clone()].to_vec()),
            _ => None,
        })
        .collect()
}

#[test]
fn auth_plain_with_and_without_initial_response() {
    let mut rig = auth_rig();
    let good = encode(b"\0alice\0secret");
    let bad_pw = encode(b"\0alice\0wrong");
    assert_eq!(
        rig.send(format!("AUTH PLAIN {bad_pw}\r\n").as_bytes()),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert_eq!(rig.send(b"AUTH PLAIN\r\n"), "334 \r\n");
    assert_eq!(rig.server.wait(), Wait::Command);
    assert_eq!(
        rig.send(format!("{good}\r\n").as_bytes()),
        "235 2.7.0 Authentication successful\r\n"
    );
    let events = rig.events();
    assert_eq!(
        auth_events(&events),
        vec![
            ("alice".to_string(), "PLAIN".to_string(), false),
            ("alice".to_string(), "PLAIN".to_string(), true)
        ]
    );
    assert_eq!(
        secrets(&events),
        vec![bad_pw.clone().into_bytes(), good.clone().into_bytes()]
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, ServerEvent::Problem(p) if p.starts_with("authentication failed"))));
    assert_eq!(
        rig.send(format!("AUTH PLAIN {good}\r\n").as_bytes()),
        "503 5.5.1 Error: already authenticated\r\n"
    );
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\nhi\r\n.\r\n");
    assert_eq!(rig.store.delivered[0].0.auth_user.as_deref(), Some("alice"));
}

#[test]
fn auth_login_cancel_and_bad_base64() {
    let mut rig = auth_rig();
    assert_eq!(rig.send(b"AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(rig.send(b"*\r\n"), "501 5.7.0 Authentication cancelled\r\n");
    assert_eq!(rig.send(b"AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(
        rig.send(b"not base64!\r\n"),
        "501 5.5.2 Error: the response is not base64\r\n"
    );
    assert_eq!(
        rig.send(b"AUTH PLAIN %%%\r\n"),
        "501 5.5.2 Error: the initial response is not base64\r\n"
    );
    assert_eq!(
        rig.send(b"AUTH PLAIN *\r\n"),
        "501 5.7.0 Authentication cancelled\r\n"
    );
    assert_eq!(
        rig.send(b"AUTH X-UNKNOWN\r\n"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
    let user = encode(b"alice");
    let pass = encode(b"secret");
    assert_eq!(
        rig.send(format!("AUTH LOGIN {user}\r\n").as_bytes()),
        "334 UGFzc3dvcmQ6\r\n"
    );
    // The responses are pipelined with the next command: one line at a time.
    assert_eq!(
        rig.send(format!("{pass}\r\nNOOP\r\n").as_bytes()),
        "235 2.7.0 Authentication successful\r\n250 2.0.0 Ok\r\n"
    );
    let events = rig.events();
    assert_eq!(
        auth_events(&events),
        vec![
            (String::new(), "LOGIN".to_string(), false),
            (String::new(), "LOGIN".to_string(), false),
            (String::new(), "PLAIN".to_string(), false),
            (String::new(), "PLAIN".to_string(), false),
            ("alice".to_string(), "LOGIN".to_string(), true),
        ]
    );
    assert_eq!(
        secrets(&events),
        vec![
            b"*".to_vec(),
            b"not base64!".to_vec(),
            b"%%%".to_vec(),
            b"*".to_vec(),
            user.into_bytes(),
            pass.into_bytes()
        ]
    );
}

#[test]
fn auth_with_the_client_side_mechanisms() {
    for (mech, server_mech) in [
        (sasl::Mechanism::CramMd5, ServerMech::CramMd5),
        (sasl::Mechanism::ScramSha256, ServerMech::ScramSha256),
    ] {
        let mut rig = auth_rig();
        let creds = sasl::Credentials {
            user: "alice".into(),
            authzid: None,
            secret: Secret::new("secret".into()),
        };
        let mut client = sasl::Client::new(mech, creds, "mx.test", 25);
        let mut line = format!("AUTH {}", server_mech.name());
        if let Some(ir) = client.initial_response() {
            line = format!("{line} {}", sasl::encode_initial(&ir));
        }
        let mut out = rig.send(format!("{line}\r\n").as_bytes());
        let mut rounds = 0;
        while let Some(challenge) = out.strip_prefix("334 ") {
            let challenge = sasl::decode_challenge(challenge.trim_end().as_bytes()).unwrap();
            let response = client.respond(&challenge).unwrap();
            out = rig.send(format!("{}\r\n", encode(&response)).as_bytes());
            rounds += 1;
            assert!(rounds < 5);
        }
        assert_eq!(out, "235 2.7.0 Authentication successful\r\n", "{mech:?}");
        assert_eq!(
            auth_events(&rig.events()),
            vec![("alice".to_string(), server_mech.name().to_string(), true)]
        );
    }
}

#[test]
fn auth_needs_tls_unless_plaintext_is_allowed() {
    let mut rig = ready(Config {
        starttls: true,
        plaintext_auth: false,
        ..config()
    });
    rig.store.users = vec![("alice".into(), "secret".into())];
    let plain = encode(b"\0alice\0secret");
    assert_eq!(
        rig.send(format!("AUTH PLAIN {plain}\r\n").as_bytes()),
        "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    );
    rig.send(b"STARTTLS\r\n");
    rig.server.tls_started();
    rig.send(b"EHLO c\r\n");
    assert_eq!(
        rig.send(format!("AUTH PLAIN {plain}\r\n").as_bytes()),
        "235 2.7.0 Authentication successful\r\n"
    );
    // No mechanisms at all.
    let mut rig = ready(Config {
        mechanisms: vec![],
        ..config()
    });
    assert_eq!(
        rig.send(b"AUTH PLAIN\r\n"),
        "503 5.5.1 Error: authentication not enabled\r\n"
    );
    // A mechanism the server does not offer.
    let mut rig = ready(config());
    assert_eq!(
        rig.send(b"AUTH CRAM-MD5\r\n"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
}

#[test]
fn overlong_lines_end_the_session() {
    let mut rig = ready(config());
    let mut out = String::new();
    for _ in 0..=(MAX_LINE / 4096) {
        out += &rig.send(&[b'A'; 4096]);
    }
    assert_eq!(out, "500 5.5.6 Line too long\r\n");
    assert_eq!(rig.last(), Step::Close);
    assert_eq!(rig.server.held(), 0);
    // Also when the line ending comes with it.
    let mut rig = ready(config());
    let mut line = vec![b'N'; MAX_LINE + 1];
    line.extend_from_slice(b"\r\n");
    assert_eq!(rig.send(&line), "500 5.5.6 Line too long\r\n");
    assert_eq!(rig.last(), Step::Close);
    // In an AUTH exchange as well.
    let mut rig = ready(config());
    rig.send(b"AUTH LOGIN\r\n");
    assert_eq!(
        rig.send(&vec![b'x'; MAX_LINE + 10]),
        "500 5.5.6 Line too long\r\n"
    );
}

#[test]
fn too_many_errors_or_commands_end_the_session() {
    let mut rig = Rig::new(Config {
        max_errors: 3,
        ..config()
    });
    rig.greet();
    assert_eq!(
        rig.send(b"FOO\r\nBAR\r\nNOOP\r\nBAZ\r\nNOOP\r\n"),
        "500 5.5.2 Error: command not recognized\r\n500 5.5.2 Error: command not recognized\r\n\
         250 2.0.0 Ok\r\n500 5.5.2 Error: command not recognized\r\n\
         421 4.7.0 mx.test Error: too many errors\r\n"
    );
    assert_eq!(rig.last(), Step::Close);
    let mut rig = Rig::new(Config {
        max_commands: 3,
        ..config()
    });
    rig.greet();
    assert_eq!(
        rig.send(b"NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n"),
        "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n\
         421 4.7.0 mx.test Error: too many commands\r\n"
    );
    assert_eq!(rig.last(), Step::Close);
}

#[test]
fn shutdown_says_421() {
    let mut rig = ready(config());
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\nhalf a message\r\n");
    let mut out = Output::new();
    rig.server.shutdown(&mut out);
    assert_eq!(
        out.to_bytes(),
        b"421 4.3.2 mx.test Service shutting down\r\n"
    );
    assert_eq!(rig.send(b".\r\n"), "");
    assert_eq!(rig.last(), Step::Close);
    assert!(rig.store.delivered.is_empty());
}

#[test]
fn the_log_has_every_line_and_the_first_data_lines() {
    let mut rig = Rig::new(Config {
        log: true,
        ..config()
    });
    rig.greet();
    rig.send(b"HELO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\n");
    let mut body = Vec::new();
    for i in 0..30 {
        body.extend_from_slice(format!("line {i}\r\n").as_bytes());
    }
    rig.send(&body);
    rig.send(b".\r\n");
    let lines: Vec<(Dir, String, Ending)> = rig
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Line {
                dir, bytes, ending, ..
            } => Some((dir, String::from_utf8(bytes).unwrap(), ending)),
            _ => None,
        })
        .collect();
    let (i, o, crlf) = (Dir::In, Dir::Out, Ending::CrLf);
    let mut expected = vec![
        (o, "220 mx.test ESMTP mailtalk".to_string(), crlf),
        (i, "HELO c".to_string(), crlf),
        (o, "250 mx.test".to_string(), crlf),
        (i, "MAIL FROM:<a@b.c>".to_string(), crlf),
        (o, "250 2.1.0 Ok".to_string(), crlf),
        (i, "RCPT TO:<x@y.z>".to_string(), crlf),
        (o, "250 2.1.5 Ok".to_string(), crlf),
        (i, "DATA".to_string(), Ending::Lf),
        (o, "354 End data with <CR><LF>.<CR><LF>".to_string(), crlf),
    ];
    for n in 0..20 {
        expected.push((i, format!("line {n}"), crlf));
    }
    expected.push((o, "250 2.0.0 Ok: queued as Q1".to_string(), crlf));
    assert_eq!(lines, expected);
    // Without log, no lines at all (but the phases).
    let mut rig = ready(config());
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\nx\r\n.\r\n");
    let events = rig.events();
    assert!(!events.iter().any(|e| matches!(e, ServerEvent::Line { .. })));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ServerEvent::Phase(_)))
            .count(),
        4
    );
}

#[test]
fn the_data_lines_not_logged_are_counted() {
    let mut rig = ready(Config {
        log: true,
        ..config()
    });
    rig.send(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n");
    rig.events();
    let mut body = Vec::new();
    for _ in 0..25 {
        body.extend_from_slice(b"1234\r\n");
    }
    rig.send(&body);
    rig.send(b".\r\n");
    let events = rig.events();
    assert!(events.contains(&ServerEvent::DataSkipped {
        lines: 6,
        bytes: 5 * 6 + 3
    }));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn feed_all(rig: &mut Rig, chunks: &[Vec<u8>]) {
        for c in chunks {
            rig.send(c);
            // What is held after the machine asked for input stays under the caps: a line
            // being collected, or a data piece, plus at most the message limit.
            let cap = MAX_LINE + 1 + rig.server.config().max_size as usize;
            assert!(rig.server.held() <= cap + c.len(), "{}", rig.server.held());
            if rig.last() == Step::StartTls {
                rig.server.tls_started();
            }
            if rig.last() == Step::Close {
                break;
            }
        }
    }

    /// Pieces of sessions, joined at random.
    const WORDS: &[&[u8]] = &[
        b"EHLO c\r\n",
        b"HELO c\r\n",
        b"MAIL FROM:<a@b.c>\r\n",
        b"MAIL FROM:<> SIZE=5 BODY=8BITMIME\r\n",
        b"RCPT TO:<x@y.z>\r\n",
        b"RCPT TO:<unknown@y.z>\r\n",
        b"DATA\r\n",
        b".\r\n",
        b"BDAT 3\r\n",
        b"BDAT 0 LAST\r\n",
        b"BDAT 2000 LAST\r\n",
        b"abc",
        b"\r\n",
        b"\n",
        b"\r",
        b".",
        b"RSET\r\n",
        b"NOOP\r\n",
        b"AUTH PLAIN\r\n",
        b"AUTH LOGIN\r\n",
        b"*\r\n",
        b"AGFsaWNlAHNlY3JldA==\r\n",
        b"STARTTLS\r\n",
        b"\0",
        b"\xff",
        b"QUIT\r\n",
    ];

    proptest! {
        #[test]
        fn random_bytes_never_panic(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..200), 0..20)) {
            let mut rig = Rig::new(Config { starttls: true, log: true, ..config() });
            rig.greet();
            feed_all(&mut rig, &chunks);
        }

        #[test]
        fn random_commands_never_panic(words in proptest::collection::vec(0..WORDS.len(), 0..60)) {
            let mut rig = Rig::new(Config { starttls: true, max_errors: 1000, ..config() });
            rig.store.users = vec![("alice".into(), "secret".into())];
            rig.greet();
            let chunks: Vec<Vec<u8>> = words.iter().map(|w| WORDS[*w].to_vec()).collect();
            feed_all(&mut rig, &chunks);
        }
    }
}
