//! Which commands and parameters each protocol has, and which capability (extension) each
//! one needs: the base commands of the protocol need none. One table for completion, for
//! highlighting what the user types and for the warning before a command that relies on an
//! extension the server did not advertise.

use super::{Capabilities, Protocol};

/// A command verb of a protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verb {
    pub name: &'static str,
    /// The capability that must be advertised for it; `None` for the protocol's base commands
    /// (and for commands that ask for capabilities).
    pub needs: Option<&'static str>,
    /// What it is, in a few words (for `:help` and completion).
    pub what: &'static str,
}

const fn base(name: &'static str, what: &'static str) -> Verb {
    Verb {
        name,
        needs: None,
        what,
    }
}

const fn ext(name: &'static str, needs: &'static str, what: &'static str) -> Verb {
    Verb {
        name,
        needs: Some(needs),
        what,
    }
}

const SMTP: &[Verb] = &[
    base("EHLO", "greet and ask for the extensions"),
    base("HELO", "greet without extensions"),
    base("MAIL", "start a transaction: MAIL FROM:<address>"),
    base("RCPT", "add a recipient: RCPT TO:<address>"),
    base("DATA", "send the message, ended by a lone ."),
    base("RSET", "abort the transaction"),
    base("VRFY", "verify an address"),
    base("EXPN", "expand a mailing list"),
    base("HELP", "ask for help"),
    base("NOOP", "do nothing"),
    base("QUIT", "end the session"),
    ext("STARTTLS", "STARTTLS", "upgrade to TLS (RFC 3207)"),
    ext("AUTH", "AUTH", "authenticate with SASL (RFC 4954)"),
    ext(
        "BDAT",
        "CHUNKING",
        "send a counted chunk of the message (RFC 3030)",
    ),
    ext(
        "ETRN",
        "ETRN",
        "ask the server to flush its queue (RFC 1985)",
    ),
    ext("ATRN", "ATRN", "authenticated turn (RFC 2645)"),
    ext("BURL", "BURL", "message from an IMAP URL (RFC 4468)"),
    ext("XCLIENT", "XCLIENT", "override client attributes (Postfix)"),
    ext(
        "XFORWARD",
        "XFORWARD",
        "forward client attributes (Postfix)",
    ),
];

const LMTP: &[Verb] = &[
    base("LHLO", "greet and ask for the extensions (RFC 2033)"),
    base("MAIL", "start a transaction: MAIL FROM:<address>"),
    base("RCPT", "add a recipient: RCPT TO:<address>"),
    base("DATA", "send the message, ended by a lone ."),
    base("RSET", "abort the transaction"),
    base("VRFY", "verify an address"),
    base("HELP", "ask for help"),
    base("NOOP", "do nothing"),
    base("QUIT", "end the session"),
    ext("STARTTLS", "STARTTLS", "upgrade to TLS (RFC 3207)"),
    ext("AUTH", "AUTH", "authenticate with SASL (RFC 4954)"),
    ext(
        "BDAT",
        "CHUNKING",
        "send a counted chunk of the message (RFC 3030)",
    ),
];

const IMAP: &[Verb] = &[
    base("CAPABILITY", "list the capabilities"),
    base("NOOP", "do nothing; collect updates"),
    base("LOGOUT", "end the session"),
    base("AUTHENTICATE", "authenticate with SASL"),
    base("LOGIN", "authenticate with user name and password"),
    base("SELECT", "open a mailbox"),
    base("EXAMINE", "open a mailbox read-only"),
    base("CREATE", "create a mailbox"),
    base("DELETE", "delete a mailbox"),
    base("RENAME", "rename a mailbox"),
    base("SUBSCRIBE", "subscribe to a mailbox"),
    base("UNSUBSCRIBE", "unsubscribe from a mailbox"),
    base("LIST", "list mailboxes"),
    base("LSUB", "list subscribed mailboxes"),
    base("STATUS", "status of a mailbox"),
    base("APPEND", "add a message to a mailbox"),
    base("CHECK", "checkpoint the mailbox"),
    base("CLOSE", "close the mailbox, expunging"),
    base("EXPUNGE", "remove messages marked \\Deleted"),
    base("SEARCH", "search messages"),
    base("FETCH", "fetch message data"),
    base("STORE", "change flags"),
    base("COPY", "copy messages"),
    base("UID", "the next command uses UIDs"),
    ext("STARTTLS", "STARTTLS", "upgrade to TLS"),
    ext("IDLE", "IDLE", "wait for updates, ended by DONE (RFC 2177)"),
    ext("ENABLE", "ENABLE", "enable extensions (RFC 5161)"),
    ext("NAMESPACE", "NAMESPACE", "list namespaces (RFC 2342)"),
    ext(
        "UNSELECT",
        "UNSELECT",
        "close the mailbox without expunging (RFC 3691)",
    ),
    ext("MOVE", "MOVE", "move messages (RFC 6851)"),
    ext(
        "ID",
        "ID",
        "exchange client and server identification (RFC 2971)",
    ),
    ext("GETQUOTA", "QUOTA", "quota of a root (RFC 9208)"),
    ext(
        "GETQUOTAROOT",
        "QUOTA",
        "quota roots of a mailbox (RFC 9208)",
    ),
    ext("SETQUOTA", "QUOTA", "set a quota (RFC 9208)"),
    ext("GETACL", "ACL", "access control list (RFC 4314)"),
    ext("SETACL", "ACL", "set access rights (RFC 4314)"),
    ext("DELETEACL", "ACL", "remove access rights (RFC 4314)"),
    ext("LISTRIGHTS", "ACL", "rights that may be granted (RFC 4314)"),
    ext("MYRIGHTS", "ACL", "own rights (RFC 4314)"),
    ext("GETMETADATA", "METADATA", "get annotations (RFC 5464)"),
    ext("SETMETADATA", "METADATA", "set annotations (RFC 5464)"),
    ext(
        "COMPRESS",
        "COMPRESS=DEFLATE",
        "compress the connection (RFC 4978)",
    ),
    ext("SORT", "SORT", "sorted search (RFC 5256)"),
    ext("THREAD", "THREAD", "threaded search (RFC 5256)"),
    ext("ESEARCH", "ESEARCH", "extended search (RFC 4731)"),
    ext("REPLACE", "REPLACE", "replace a message (RFC 8508)"),
    ext(
        "UNAUTHENTICATE",
        "UNAUTHENTICATE",
        "end authentication (RFC 8437)",
    ),
    ext("XLIST", "XLIST", "list with special-use flags (legacy)"),
    ext("DONE", "IDLE", "end IDLE"),
];

const POP3: &[Verb] = &[
    base("USER", "the user name (then PASS)"),
    base("PASS", "the password after USER"),
    base("STAT", "number of messages and their size"),
    base("LIST", "size of each message"),
    base("RETR", "fetch a message"),
    base("DELE", "mark a message for deletion"),
    base("NOOP", "do nothing"),
    base("RSET", "undo deletions"),
    base("QUIT", "end the session (and delete marked messages)"),
    base("CAPA", "list the capabilities (RFC 2449)"),
    base("APOP", "authenticate with a digest (optional, RFC 1939)"),
    ext("TOP", "TOP", "headers and the first lines of a message"),
    ext("UIDL", "UIDL", "unique id of each message"),
    ext("STLS", "STLS", "upgrade to TLS (RFC 2595)"),
    ext("AUTH", "SASL", "authenticate with SASL (RFC 5034)"),
    ext("UTF8", "UTF8", "switch to UTF-8 (RFC 6856)"),
    ext("LANG", "LANG", "choose the language of replies (RFC 6856)"),
];

/// The commands of a protocol, base commands first.
pub fn verbs(protocol: Protocol) -> &'static [Verb] {
    match protocol {
        Protocol::Smtp => SMTP,
        Protocol::Lmtp => LMTP,
        Protocol::Imap => IMAP,
        Protocol::Pop3 => POP3,
    }
}

/// The command `word` of `protocol` (case-insensitive).
pub fn verb(protocol: Protocol, word: &[u8]) -> Option<&'static Verb> {
    verbs(protocol)
        .iter()
        .find(|v| v.name.as_bytes().eq_ignore_ascii_case(word))
}

/// Whether `word` is a command of `protocol`.
pub fn is_command(protocol: Protocol, word: &[u8]) -> bool {
    verb(protocol, word).is_some()
}

/// Whether a capability list offers `needs`: `AUTH` is offered by `AUTH PLAIN` (SMTP) and by
/// `AUTH=PLAIN` (IMAP), `SASL` by `SASL PLAIN` (POP3); anything else by the keyword itself.
pub fn offers(caps: &Capabilities, needs: &str) -> bool {
    if caps.has(needs) {
        return true;
    }
    let prefix = format!("{needs}=");
    caps.keywords().any(|k| k.starts_with(&prefix))
}

/// The commands to offer: the base commands, and the extensions the server advertised. With
/// nothing advertised yet, the base commands only.
pub fn available(protocol: Protocol, caps: &Capabilities) -> Vec<&'static Verb> {
    verbs(protocol)
        .iter()
        .filter(|v| v.needs.is_none_or(|n| offers(caps, n)))
        .collect()
}

/// A parameter of SMTP MAIL or RCPT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// `SIZE=` for parameters with a value, `SMTPUTF8` for flags.
    pub text: &'static str,
    /// The EHLO keyword that must be advertised.
    pub needs: &'static str,
    pub what: &'static str,
}

const fn param(text: &'static str, needs: &'static str, what: &'static str) -> ParamInfo {
    ParamInfo { text, needs, what }
}

/// Parameters of MAIL FROM.
pub const MAIL_PARAMS: &[ParamInfo] = &[
    param("SIZE=", "SIZE", "the message size in bytes (RFC 1870)"),
    param(
        "BODY=BINARYMIME",
        "BINARYMIME",
        "a binary body, sent with BDAT (RFC 3030)",
    ),
    param("BODY=", "8BITMIME", "7BIT or 8BITMIME (RFC 6152)"),
    param(
        "SMTPUTF8",
        "SMTPUTF8",
        "UTF-8 addresses and headers (RFC 6531)",
    ),
    param("RET=", "DSN", "FULL or HDRS in a bounce (RFC 3461)"),
    param("ENVID=", "DSN", "an envelope id for bounces (RFC 3461)"),
    param("AUTH=", "AUTH", "the authenticated sender (RFC 4954)"),
    param(
        "REQUIRETLS",
        "REQUIRETLS",
        "require TLS on every hop (RFC 8689)",
    ),
    param("MT-PRIORITY=", "MT-PRIORITY", "priority -9 to 9 (RFC 6710)"),
    param("BY=", "DELIVERBY", "deliver by a time (RFC 2852)"),
    param("HOLDFOR=", "FUTURERELEASE", "hold for seconds (RFC 4865)"),
];

/// Parameters of RCPT TO.
pub const RCPT_PARAMS: &[ParamInfo] = &[
    param(
        "NOTIFY=",
        "DSN",
        "NEVER, or SUCCESS, FAILURE, DELAY (RFC 3461)",
    ),
    param("ORCPT=", "DSN", "the original recipient (RFC 3461)"),
];

/// The parameters of `MAIL` or `RCPT` (case-insensitive), empty for other verbs.
pub fn params(verb: &str) -> &'static [ParamInfo] {
    if verb.eq_ignore_ascii_case("MAIL") {
        MAIL_PARAMS
    } else if verb.eq_ignore_ascii_case("RCPT") {
        RCPT_PARAMS
    } else {
        &[]
    }
}

/// The parameter of `verb` that `word` uses (`SIZE=10` uses `SIZE=`).
pub fn param_of(verb: &str, word: &str) -> Option<&'static ParamInfo> {
    params(verb).iter().find(|p| {
        if p.text.ends_with('=') {
            word.len() >= p.text.len()
                && word
                    .get(..p.text.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p.text))
        } else {
            word.eq_ignore_ascii_case(p.text)
        }
    })
}

/// Something a typed line relies on that the server did not advertise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmet {
    /// What the line uses: `BDAT`, `SIZE=`, `{n+}`, `AUTHENTICATE CRAM-MD5`.
    pub uses: String,
    /// The capability it needs: `CHUNKING`, `SIZE`, `LITERAL+ or LITERAL-`.
    pub needs: String,
}

fn unmet(uses: impl Into<String>, needs: impl Into<String>) -> Unmet {
    Unmet {
        uses: uses.into(),
        needs: needs.into(),
    }
}

/// What a typed command relies on that `caps` does not offer. Nothing while no capabilities
/// are known. `verb` and `args` come from [`super::classify`] (the IMAP tag already taken off).
pub fn unmet_needs(protocol: Protocol, caps: &Capabilities, verb: &str, args: &[u8]) -> Vec<Unmet> {
    let mut out = Vec::new();
    if caps.is_empty() || verb.is_empty() {
        return out;
    }
    if let Some(v) = verb_of(protocol, verb) {
        if let Some(needs) = v.needs {
            // POP3 AUTH without an argument lists the mechanisms; it needs nothing.
            let listing = protocol == Protocol::Pop3 && v.name == "AUTH" && args.is_empty();
            if !listing && !offers(caps, needs) {
                out.push(unmet(v.name, needs));
            }
        }
    }
    let text = String::from_utf8_lossy(args);
    match protocol {
        Protocol::Smtp | Protocol::Lmtp => {
            for word in text.split_ascii_whitespace().skip(1) {
                if let Some(p) = param_of(verb, word) {
                    if !caps.has(p.needs) {
                        out.push(unmet(p.text, p.needs));
                    }
                }
            }
        }
        Protocol::Imap => {
            if verb == "AUTHENTICATE" {
                if let Some(mech) = text.split_ascii_whitespace().next() {
                    let atom = format!("AUTH={}", mech.to_ascii_uppercase());
                    if !caps.has(&atom) {
                        out.push(unmet(format!("AUTHENTICATE {mech}"), atom));
                    }
                }
            }
            let trimmed = text.trim_end();
            if (trimmed.ends_with("+}") || trimmed.ends_with("-}"))
                && !caps.has("LITERAL+")
                && !caps.has("LITERAL-")
            {
                out.push(unmet(
                    "a non-synchronising literal {n+}",
                    "LITERAL+ or LITERAL-",
                ));
            }
        }
        Protocol::Pop3 => {}
    }
    out
}

fn verb_of(protocol: Protocol, name: &str) -> Option<&'static Verb> {
    verb(protocol, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(items: &[&str]) -> Capabilities {
        Capabilities {
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn base_commands_and_advertised_extensions() {
        let none = Capabilities::default();
        let names =
            |p, c: &Capabilities| -> Vec<&str> { available(p, c).iter().map(|v| v.name).collect() };
        let smtp = names(Protocol::Smtp, &none);
        assert!(smtp.contains(&"EHLO") && smtp.contains(&"MAIL"));
        assert!(!smtp.contains(&"STARTTLS") && !smtp.contains(&"BDAT"));
        let smtp = names(
            Protocol::Smtp,
            &caps(&["STARTTLS", "CHUNKING", "AUTH PLAIN"]),
        );
        assert!(smtp.contains(&"STARTTLS") && smtp.contains(&"BDAT") && smtp.contains(&"AUTH"));
        let imap = names(Protocol::Imap, &caps(&["IMAP4rev1", "IDLE", "AUTH=PLAIN"]));
        assert!(imap.contains(&"IDLE") && imap.contains(&"DONE"));
        assert!(!imap.contains(&"MOVE"));
        let pop = names(Protocol::Pop3, &caps(&["USER", "SASL PLAIN", "TOP"]));
        assert!(pop.contains(&"AUTH") && pop.contains(&"TOP") && !pop.contains(&"STLS"));
        assert!(is_command(Protocol::Imap, b"uid"));
        assert!(!is_command(Protocol::Imap, b"A001"));
    }

    #[test]
    fn mail_and_rcpt_have_their_own_parameters() {
        assert!(params("mail").iter().any(|p| p.text == "SIZE="));
        assert!(!params("MAIL").iter().any(|p| p.text == "NOTIFY="));
        assert!(params("RCPT").iter().any(|p| p.text == "NOTIFY="));
        assert!(!params("RCPT").iter().any(|p| p.text == "SIZE="));
        assert_eq!(param_of("MAIL", "size=100").map(|p| p.needs), Some("SIZE"));
        assert_eq!(
            param_of("MAIL", "SMTPUTF8").map(|p| p.needs),
            Some("SMTPUTF8")
        );
        assert_eq!(param_of("MAIL", "SMTPUTF8X"), None);
        assert!(params("DATA").is_empty());
    }

    #[test]
    fn unmet_extensions() {
        let c = caps(&["PIPELINING", "SIZE 100"]);
        let uses = |p, c: &Capabilities, verb: &str, args: &[u8]| -> Vec<String> {
            unmet_needs(p, c, verb, args)
                .into_iter()
                .map(|u| u.uses)
                .collect()
        };
        assert_eq!(uses(Protocol::Smtp, &c, "AUTH", b"PLAIN x"), vec!["AUTH"]);
        assert_eq!(uses(Protocol::Smtp, &c, "BDAT", b"10 LAST"), vec!["BDAT"]);
        assert_eq!(
            uses(Protocol::Smtp, &c, "MAIL", b"FROM:<a@b> SIZE=10 SMTPUTF8"),
            vec!["SMTPUTF8"]
        );
        assert!(uses(Protocol::Smtp, &c, "MAIL", b"FROM:<a@b> SIZE=10").is_empty());
        assert_eq!(
            uses(Protocol::Smtp, &c, "RCPT", b"TO:<a@b> NOTIFY=NEVER"),
            vec!["NOTIFY="]
        );
        assert!(unmet_needs(Protocol::Smtp, &Capabilities::default(), "AUTH", b"PLAIN").is_empty());
        let i = caps(&["IMAP4rev1", "AUTH=PLAIN"]);
        assert_eq!(uses(Protocol::Imap, &i, "IDLE", b""), vec!["IDLE"]);
        assert_eq!(
            uses(Protocol::Imap, &i, "APPEND", b"INBOX {5+}"),
            vec!["a non-synchronising literal {n+}"]
        );
        assert!(uses(Protocol::Imap, &i, "AUTHENTICATE", b"PLAIN").is_empty());
        assert_eq!(
            uses(Protocol::Imap, &i, "AUTHENTICATE", b"CRAM-MD5"),
            vec!["AUTHENTICATE CRAM-MD5"]
        );
        let p = caps(&["USER", "UIDL"]);
        assert_eq!(uses(Protocol::Pop3, &p, "STLS", b""), vec!["STLS"]);
        assert_eq!(uses(Protocol::Pop3, &p, "TOP", b"1 0"), vec!["TOP"]);
        assert!(uses(Protocol::Pop3, &p, "AUTH", b"").is_empty());
        assert_eq!(uses(Protocol::Pop3, &p, "AUTH", b"PLAIN"), vec!["AUTH"]);
    }
}
