//! What advertised capabilities mean (for `:caps`), and warnings when a command relies on an
//! extension the server did not advertise.

use crate::proto::{classify, ext, Capabilities, LineContext, Protocol};

/// Groups shown by `:caps`, in order.
pub const GROUPS: &[&str] = &[
    "security and authentication",
    "message format",
    "transfer",
    "delivery and status",
    "mailbox access",
    "other",
];

/// (protocols, keyword, group index, meaning). `AUTH=` and `THREAD=` style keywords match by
/// prefix.
type Entry = (&'static [Protocol], &'static str, usize, &'static str);

const SMTP: &[Protocol] = &[Protocol::Smtp, Protocol::Lmtp];
const IMAP: &[Protocol] = &[Protocol::Imap];
const POP3: &[Protocol] = &[Protocol::Pop3];

const TABLE: &[Entry] = &[
    // SMTP / LMTP
    (
        SMTP,
        "STARTTLS",
        0,
        "the session can be upgraded to TLS (RFC 3207)",
    ),
    (
        SMTP,
        "AUTH",
        0,
        "SASL authentication with the mechanisms listed (RFC 4954)",
    ),
    (
        SMTP,
        "REQUIRETLS",
        0,
        "the sender can require TLS for every hop (RFC 8689)",
    ),
    (
        SMTP,
        "SIZE",
        1,
        "message size declared in MAIL FROM; the number is the limit in bytes (RFC 1870)",
    ),
    (
        SMTP,
        "8BITMIME",
        1,
        "8-bit message bodies with BODY=8BITMIME (RFC 6152)",
    ),
    (
        SMTP,
        "BINARYMIME",
        1,
        "binary bodies, with BDAT only (RFC 3030)",
    ),
    (
        SMTP,
        "SMTPUTF8",
        1,
        "UTF-8 addresses and headers (RFC 6531)",
    ),
    (
        SMTP,
        "PIPELINING",
        2,
        "several commands may be sent without waiting for each reply (RFC 2920)",
    ),
    (
        SMTP,
        "CHUNKING",
        2,
        "BDAT sends the message in counted chunks instead of DATA (RFC 3030)",
    ),
    (
        SMTP,
        "LIMITS",
        2,
        "the server states its limits (recipients, transactions) (RFC 9422)",
    ),
    (
        SMTP,
        "BURL",
        2,
        "the message can be fetched from an IMAP URL (RFC 4468)",
    ),
    (
        SMTP,
        "DSN",
        3,
        "delivery status notifications: NOTIFY, RET, ENVID, ORCPT (RFC 3461)",
    ),
    (
        SMTP,
        "ENHANCEDSTATUSCODES",
        3,
        "replies carry enhanced status codes such as 5.1.1 (RFC 2034)",
    ),
    (
        SMTP,
        "DELIVERBY",
        3,
        "a delivery deadline with BY= (RFC 2852)",
    ),
    (
        SMTP,
        "MT-PRIORITY",
        3,
        "message transfer priority with MT-PRIORITY= (RFC 6710)",
    ),
    (
        SMTP,
        "FUTURERELEASE",
        3,
        "hold the message until a given time (RFC 4865)",
    ),
    (
        SMTP,
        "ETRN",
        4,
        "ask the server to flush its queue for a domain (RFC 1985)",
    ),
    (
        SMTP,
        "ATRN",
        4,
        "authenticated turn: the roles reverse (RFC 2645)",
    ),
    (
        SMTP,
        "VRFY",
        5,
        "VRFY asks whether an address exists (RFC 5321)",
    ),
    (SMTP, "EXPN", 5, "EXPN expands a mailing list (RFC 5321)"),
    (SMTP, "HELP", 5, "HELP gives information about commands"),
    (
        SMTP,
        "XCLIENT",
        5,
        "Postfix: a trusted client can set the apparent client (non-standard)",
    ),
    (
        SMTP,
        "XFORWARD",
        5,
        "Postfix: a trusted client can forward client details (non-standard)",
    ),
    // IMAP
    (
        IMAP,
        "STARTTLS",
        0,
        "the session can be upgraded to TLS (RFC 9051)",
    ),
    (
        IMAP,
        "LOGINDISABLED",
        0,
        "LOGIN is refused on this connection (usually: no TLS yet)",
    ),
    (IMAP, "AUTH=", 0, "AUTHENTICATE with this SASL mechanism"),
    (
        IMAP,
        "SASL-IR",
        0,
        "AUTHENTICATE may carry the initial response (RFC 4959)",
    ),
    (IMAP, "IMAP4REV1", 5, "IMAP version 4rev1 (RFC 3501)"),
    (IMAP, "IMAP4REV2", 5, "IMAP version 4rev2 (RFC 9051)"),
    (
        IMAP,
        "LITERAL+",
        2,
        "non-synchronising literals {n+} of any size (RFC 7888)",
    ),
    (
        IMAP,
        "LITERAL-",
        2,
        "non-synchronising literals {n+} up to 4096 bytes (RFC 7888)",
    ),
    (
        IMAP,
        "IDLE",
        2,
        "the server pushes mailbox changes while IDLE (RFC 2177)",
    ),
    (
        IMAP,
        "COMPRESS=",
        2,
        "the connection can be compressed (RFC 4978)",
    ),
    (
        IMAP,
        "BINARY",
        1,
        "BINARY fetch and append without transfer encoding (RFC 3516)",
    ),
    (
        IMAP,
        "UTF8=ACCEPT",
        1,
        "UTF-8 mailbox names and headers (RFC 6855)",
    ),
    (
        IMAP,
        "CATENATE",
        1,
        "APPEND can assemble a message from parts (RFC 4469)",
    ),
    (
        IMAP,
        "MULTIAPPEND",
        1,
        "several messages in one APPEND (RFC 3502)",
    ),
    (
        IMAP,
        "APPENDLIMIT",
        1,
        "the largest message APPEND accepts (RFC 7889)",
    ),
    (
        IMAP,
        "UIDPLUS",
        4,
        "APPENDUID/COPYUID and UID EXPUNGE (RFC 4315)",
    ),
    (
        IMAP,
        "MOVE",
        4,
        "MOVE messages between mailboxes (RFC 6851)",
    ),
    (
        IMAP,
        "CONDSTORE",
        4,
        "per-message modification sequences (RFC 7162)",
    ),
    (
        IMAP,
        "QRESYNC",
        4,
        "quick mailbox resynchronisation (RFC 7162)",
    ),
    (IMAP, "ENABLE", 4, "ENABLE turns extensions on (RFC 5161)"),
    (
        IMAP,
        "NAMESPACE",
        4,
        "NAMESPACE lists personal, other and shared namespaces (RFC 2342)",
    ),
    (
        IMAP,
        "CHILDREN",
        4,
        "LIST shows \\HasChildren / \\HasNoChildren (RFC 3348)",
    ),
    (
        IMAP,
        "LIST-EXTENDED",
        4,
        "LIST selection and return options (RFC 5258)",
    ),
    (
        IMAP,
        "LIST-STATUS",
        4,
        "LIST can return STATUS data (RFC 5819)",
    ),
    (
        IMAP,
        "SPECIAL-USE",
        4,
        "mailboxes flagged \\Sent, \\Trash, \\Drafts … (RFC 6154)",
    ),
    (
        IMAP,
        "UNSELECT",
        4,
        "UNSELECT closes a mailbox without expunging (RFC 3691)",
    ),
    (IMAP, "ESEARCH", 4, "extended SEARCH results (RFC 4731)"),
    (
        IMAP,
        "SEARCHRES",
        4,
        "the last SEARCH result can be reused as $ (RFC 5182)",
    ),
    (IMAP, "SORT", 4, "server-side SORT (RFC 5256)"),
    (IMAP, "ESORT", 4, "extended SORT results (RFC 5267)"),
    (
        IMAP,
        "THREAD=",
        4,
        "server-side THREAD with this algorithm (RFC 5256)",
    ),
    (IMAP, "WITHIN", 4, "SEARCH YOUNGER / OLDER (RFC 5032)"),
    (IMAP, "CONTEXT=", 4, "search and sort contexts (RFC 5267)"),
    (IMAP, "QUOTA", 4, "quota queries (RFC 9208)"),
    (IMAP, "ACL", 4, "access control lists (RFC 4314)"),
    (
        IMAP,
        "METADATA",
        4,
        "server and mailbox annotations (RFC 5464)",
    ),
    (
        IMAP,
        "NOTIFY",
        4,
        "notifications for several mailboxes (RFC 5465)",
    ),
    (
        IMAP,
        "OBJECTID",
        4,
        "stable email and mailbox ids (RFC 8474)",
    ),
    (
        IMAP,
        "PREVIEW",
        4,
        "a short preview of each message (RFC 8970)",
    ),
    (
        IMAP,
        "SAVEDATE",
        4,
        "the date a message was saved (RFC 8514)",
    ),
    (
        IMAP,
        "STATUS=SIZE",
        4,
        "STATUS can report the mailbox size (RFC 8438)",
    ),
    (
        IMAP,
        "ID",
        5,
        "client and server identify themselves (RFC 2971)",
    ),
    (
        IMAP,
        "LOGIN-REFERRALS",
        5,
        "the server may refer LOGIN elsewhere (RFC 2221); mailtalk never follows referrals",
    ),
    (
        IMAP,
        "MAILBOX-REFERRALS",
        5,
        "mailboxes may live on other servers (RFC 2193)",
    ),
    (IMAP, "URL-PARTIAL", 5, "partial IMAP URLs (RFC 5550)"),
    (
        IMAP,
        "I18NLEVEL=",
        5,
        "internationalised searching and sorting (RFC 5255)",
    ),
    // POP3
    (
        POP3,
        "STLS",
        0,
        "the session can be upgraded to TLS (RFC 2595)",
    ),
    (
        POP3,
        "SASL",
        0,
        "AUTH with the mechanisms listed (RFC 5034)",
    ),
    (
        POP3,
        "USER",
        0,
        "USER and PASS log in with a plain password (RFC 2449)",
    ),
    (
        POP3,
        "AUTH-RESP-CODE",
        0,
        "the [AUTH] response code marks credential failures (RFC 3206)",
    ),
    (
        POP3,
        "TOP",
        4,
        "TOP fetches headers and the first lines of a message",
    ),
    (POP3, "UIDL", 4, "unique ids that survive sessions"),
    (
        POP3,
        "PIPELINING",
        2,
        "several commands may be sent without waiting (RFC 2449)",
    ),
    (
        POP3,
        "RESP-CODES",
        3,
        "replies carry codes such as [IN-USE] (RFC 2449)",
    ),
    (
        POP3,
        "LOGIN-DELAY",
        3,
        "the minimum time between logins, in seconds (RFC 2449)",
    ),
    (
        POP3,
        "EXPIRE",
        3,
        "how long the server keeps messages (RFC 2449)",
    ),
    (POP3, "UTF8", 1, "UTF-8 user names and messages (RFC 6856)"),
    (
        POP3,
        "LANG",
        5,
        "the language of replies can be chosen (RFC 6856)",
    ),
    (
        POP3,
        "IMPLEMENTATION",
        5,
        "the server software (informational)",
    ),
    (POP3, "CAPA", 5, "CAPA lists the capabilities (RFC 2449)"),
];

/// The group and meaning of one advertised item, if known.
pub fn describe(protocol: Protocol, item: &str) -> Option<(usize, &'static str)> {
    let keyword = item
        .split_ascii_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    TABLE
        .iter()
        .filter(|(ps, ..)| ps.contains(&protocol))
        .find(|(_, k, ..)| {
            if k.ends_with('=') {
                keyword.starts_with(k)
            } else {
                keyword == *k
            }
        })
        .map(|(_, _, g, m)| (*g, *m))
}

/// `:caps`: the advertised items grouped, each with its meaning.
pub fn grouped(
    protocol: Protocol,
    caps: &Capabilities,
) -> Vec<(&'static str, Vec<(String, String)>)> {
    let mut groups: Vec<(&'static str, Vec<(String, String)>)> =
        GROUPS.iter().map(|g| (*g, Vec::new())).collect();
    for item in &caps.items {
        let (g, meaning) = match describe(protocol, item) {
            Some((g, m)) => (g, m.to_string()),
            None => (
                GROUPS.len().saturating_sub(1),
                "not known to mailtalk".to_string(),
            ),
        };
        if let Some((_, list)) = groups.get_mut(g) {
            list.push((item.clone(), meaning));
        }
    }
    groups.retain(|(_, l)| !l.is_empty());
    groups
}

/// Warnings for a command line that relies on an extension the server did not advertise
/// (what each command needs is [`crate::proto::ext`]). Nothing is said while no capabilities
/// are known.
pub fn warnings(protocol: Protocol, caps: &Capabilities, line: &str) -> Vec<String> {
    if caps.is_empty() {
        return Vec::new();
    }
    let info = classify(&LineContext::new(protocol), line.as_bytes());
    let mut out: Vec<String> = ext::unmet_needs(protocol, caps, &info.verb, &info.args)
        .into_iter()
        .map(|u| {
            if u.uses == u.needs {
                format!(
                    "{} is an extension, but the server did not advertise it",
                    u.uses
                )
            } else {
                format!(
                    "{} needs {}, but the server did not advertise it",
                    u.uses, u.needs
                )
            }
        })
        .collect();
    if protocol == Protocol::Imap && info.verb == "LOGIN" && caps.has("LOGINDISABLED") {
        out.push("the server advertised LOGINDISABLED: LOGIN will be refused".to_string());
    }
    out
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
    fn describes_by_keyword_and_prefix() {
        assert_eq!(describe(Protocol::Smtp, "SIZE 1000").map(|d| d.0), Some(1));
        assert!(describe(Protocol::Smtp, "PIPELINING").is_some());
        assert!(describe(Protocol::Lmtp, "pipelining").is_some());
        assert_eq!(describe(Protocol::Imap, "AUTH=PLAIN").map(|d| d.0), Some(0));
        assert!(describe(Protocol::Imap, "THREAD=REFERENCES").is_some());
        assert!(describe(Protocol::Imap, "X-UNKNOWN").is_none());
        assert!(describe(Protocol::Pop3, "SASL PLAIN").is_some());
        assert!(describe(Protocol::Pop3, "PIPELINING").is_some());
        assert!(describe(Protocol::Imap, "SIZE").is_none());
    }

    #[test]
    fn groups_in_order_with_unknown_last() {
        let g = grouped(
            Protocol::Smtp,
            &caps(&["PIPELINING", "X-FOO", "STARTTLS", "SIZE 10"]),
        );
        let names: Vec<&str> = g.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            vec![
                "security and authentication",
                "message format",
                "transfer",
                "other"
            ]
        );
        assert_eq!(g[3].1[0].1, "not known to mailtalk");
    }

    #[test]
    fn warns_about_unadvertised_extensions() {
        let c = caps(&["PIPELINING", "SIZE 100"]);
        assert_eq!(warnings(Protocol::Smtp, &c, "AUTH PLAIN x").len(), 1);
        assert_eq!(warnings(Protocol::Smtp, &c, "BDAT 10 LAST").len(), 1);
        assert_eq!(
            warnings(Protocol::Smtp, &c, "MAIL FROM:<a@b> SIZE=10 SMTPUTF8").len(),
            1
        );
        assert!(warnings(Protocol::Smtp, &c, "MAIL FROM:<a@b> SIZE=10").is_empty());
        assert!(warnings(Protocol::Smtp, &Capabilities::default(), "AUTH PLAIN").is_empty());
        let i = caps(&["IMAP4rev1", "AUTH=PLAIN", "LOGINDISABLED"]);
        assert_eq!(warnings(Protocol::Imap, &i, "IDLE").len(), 1);
        assert_eq!(warnings(Protocol::Imap, &i, "a1 idle").len(), 1);
        assert_eq!(warnings(Protocol::Imap, &i, "APPEND INBOX {5+}").len(), 1);
        assert_eq!(warnings(Protocol::Imap, &i, "LOGIN a b").len(), 1);
        assert!(warnings(Protocol::Imap, &i, "AUTHENTICATE PLAIN").is_empty());
        assert_eq!(
            warnings(Protocol::Imap, &i, "AUTHENTICATE CRAM-MD5").len(),
            1
        );
        let p = caps(&["USER", "UIDL"]);
        assert_eq!(warnings(Protocol::Pop3, &p, "STLS").len(), 1);
        assert_eq!(warnings(Protocol::Pop3, &p, "TOP 1 0").len(), 1);
        assert!(warnings(Protocol::Pop3, &p, "UIDL").is_empty());
    }
}
