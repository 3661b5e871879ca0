//! Our own prose for the explanation tables: what each code means, and for the codes people
//! meet most, the usual causes and what to check. The facts (codes, summaries, references)
//! are in `tables`; this file only adds words. Keep it ASCII and server-independent.

/// Prose for one code (or one pairing of a basic and an enhanced code).
pub(super) struct Note {
    /// The code: "550", "X.1.1", "5.7.1", "550 5.7.1", "X.1.YYY", "OVERQUOTA", "IN-USE".
    pub key: &'static str,
    /// A few words for the one-line explanation ("the mailbox does not exist"); may be empty.
    pub short: &'static str,
    /// A sentence or two: what it means.
    pub meaning: &'static str,
    pub causes: &'static [&'static str],
    pub checks: &'static [&'static str],
    /// IMAP: the responses (and commands) it comes with; empty otherwise.
    pub usage: &'static str,
}

const fn n(key: &'static str, short: &'static str, meaning: &'static str) -> Note {
    Note {
        key,
        short,
        meaning,
        causes: &[],
        checks: &[],
        usage: "",
    }
}

/// An IMAP note: like [`n`] with the responses it comes with.
const fn i(
    key: &'static str,
    usage: &'static str,
    short: &'static str,
    meaning: &'static str,
) -> Note {
    Note {
        key,
        short,
        meaning,
        causes: &[],
        checks: &[],
        usage,
    }
}

fn find(table: &'static [Note], key: &str) -> Option<&'static Note> {
    table.iter().find(|n| n.key.eq_ignore_ascii_case(key))
}

pub(super) fn basic(code: u16) -> Option<&'static Note> {
    find(BASIC, &format!("{code:03}"))
}

pub(super) fn enhanced(key: &str) -> Option<&'static Note> {
    find(ENHANCED, key)
}

pub(super) fn subcode(key: &str) -> Option<&'static Note> {
    find(SUBCODES, key)
}

pub(super) fn pair(key: &str) -> Option<&'static Note> {
    find(PAIRS, key)
}

pub(super) fn imap(code: &str) -> Option<&'static Note> {
    find(IMAP, code)
}

pub(super) fn pop3(code: &str) -> Option<&'static Note> {
    find(POP3, code)
}

pub(super) fn pop3_parent(parent: &str) -> Option<&'static str> {
    POP3_PARENTS
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(parent))
        .map(|(_, t)| *t)
}

/// The note for one context row of a basic code: matched on code, reference and the start of
/// the row's summary.
pub(super) fn basic_context(code: u16, reference: &str, summary: &str) -> Option<&'static str> {
    BASIC_CONTEXT
        .iter()
        .find(|(c, r, start, _)| *c == code && *r == reference && summary.starts_with(start))
        .map(|(_, _, _, t)| *t)
}

/// First digit of a basic reply code (RFC 5321 section 4.2.1).
pub(super) const BASIC_CLASSES: &[(u16, &str)] = &[
    (
        2,
        "success (positive completion); the command was carried out",
    ),
    (
        3,
        "intermediate (positive intermediate); the command was accepted and the server waits \
         for more input",
    ),
    (
        4,
        "temporary failure (transient negative completion); nothing was done, but the same \
         command may succeed later",
    ),
    (
        5,
        "permanent failure (permanent negative completion); nothing was done, and repeating \
         the command unchanged will fail again",
    ),
];

/// Second digit of a basic reply code (RFC 5321 section 4.2.1).
pub(super) const BASIC_CATEGORIES: &[(u16, &str)] = &[
    (0, "syntax"),
    (1, "information"),
    (2, "connections"),
    (3, "unspecified"),
    (4, "unspecified"),
    (5, "mail system"),
];

const POP3_PARENTS: &[(&str, &str)] = &[(
    "SYS",
    "a failure of the server system rather than of the user or the command.",
)];

// ---------------------------------------------------------------------------------------------
// SMTP basic reply codes.

pub(super) const BASIC: &[Note] = &[
    n(
        "211",
        "system status",
        "An informational reply to a request for system status or help. Its text is meant for \
         people; no format is defined.",
    ),
    n(
        "214",
        "help text",
        "The answer to HELP. The text usually lists the supported commands or points to \
         documentation; it is for people, not programs.",
    ),
    n(
        "220",
        "service ready",
        "The server is ready. As the first line of a session it is the greeting, usually with \
         the server's host name; in answer to STARTTLS it means the TLS handshake starts now.",
    ),
    n(
        "221",
        "closing the connection",
        "The server acknowledges QUIT (or ends the session itself) and closes the connection.",
    ),
    n(
        "235",
        "authenticated",
        "Authentication succeeded: the rest of the session runs as the authenticated user.",
    ),
    n(
        "250",
        "done",
        "The command succeeded. After the final dot of DATA it means the server has taken \
         responsibility for delivering the message.",
    ),
    n(
        "251",
        "not local, will forward",
        "The recipient is accepted although it is not local: the server will forward the \
         message.",
    ),
    n(
        "252",
        "cannot verify, will try",
        "The address could not be confirmed (many servers disable VRFY so that addresses \
         cannot be harvested), but mail to it will be accepted and delivery attempted.",
    ),
    n(
        "253",
        "queue run started",
        "ETRN: the server has started delivering the messages queued for the node and says how \
         many there are.",
    ),
    n(
        "334",
        "send the next authentication step",
        "AUTH is in progress: the text is a base64 challenge (often empty) and the server \
         waits for one base64 line in return, or '*' to cancel.",
    ),
    n(
        "354",
        "send the message",
        "DATA was accepted: send the header and body, then a line with only a dot on it.",
    ),
    Note {
        causes: &[
            "the server is overloaded, restarting or shutting down",
            "too many connections from your address at once, or too many in a short time",
            "the session was idle longer than the server allows",
            "too many errors or unknown commands in this session",
            "a reputation check (for example a DNS blocklist) makes the server defer you",
        ],
        checks: &[
            "the text: it usually names the reason (rate limit, timeout, shutdown)",
            "retry later, with fewer connections in parallel",
            "the server's mail log around the time of the reply",
            "whether the sending address is on a DNS blocklist",
        ],
        ..n(
            "421",
            "service not available, connection closing",
            "The server cannot serve this session now and closes the connection. It can come \
             as the greeting, at any command, or unprompted (timeout, shutdown). It is \
             temporary: a mail server retries later by itself.",
        )
    },
    n(
        "432",
        "password transition needed",
        "The user has to change the password (or complete a similar transition) before this \
         authentication mechanism can be used.",
    ),
    Note {
        causes: &[
            "the mailbox is locked or busy (delivery in progress, maintenance)",
            "greylisting or another policy that asks new senders to come back later",
            "the recipient or sender could not be verified right now (a lookup failed)",
            "a per-recipient rate limit",
        ],
        checks: &[
            "retry after a few minutes (a mail server does so by itself)",
            "the enhanced code: 4.2.1 busy mailbox, 4.7.1 policy or greylisting, 4.1.1 lookup",
            "for administrators: the recipient lookup back end (directory, database, next hop)",
        ],
        ..n(
            "450",
            "mailbox unavailable for now",
            "The mailbox could not be used this time: it may be busy or locked, or a policy \
             asks the client to come back later. Nothing was done; retry later.",
        )
    },
    Note {
        causes: &[
            "greylisting: first contact from this sender, address and recipient combination",
            "a lookup timed out: DNS, directory, database or a policy service",
            "a content filter or virus scanner was not reachable",
            "disk or queue problems on the server",
            "SPF evaluation returned a temporary error",
        ],
        checks: &[
            "retry later: greylisting lets the same sender through after a delay",
            "the enhanced code and the text (4.7.1 is often greylisting, 4.3.0 a local error)",
            "for administrators: the mail log, for the lookup or filter that failed",
        ],
        ..n(
            "451",
            "aborted by a local error",
            "The server ran into an error while processing the command and aborted it; \
             nothing was done. The problem is expected to be temporary.",
        )
    },
    Note {
        causes: &[
            "more recipients in this transaction than the server accepts (4.5.3)",
            "the server's disk or queue is full (4.3.1)",
            "the SIZE declared on MAIL FROM does not fit at the moment",
        ],
        checks: &[
            "send the remaining recipients in a new transaction after this one completes",
            "the enhanced code: 4.5.3 is a recipient limit, 4.3.1 a full system",
            "for administrators: free space on the queue file system",
        ],
        ..n(
            "452",
            "insufficient storage or too many recipients",
            "The server cannot take this now because of a resource limit. After RCPT it most \
             often means too many recipients: the ones refused should be sent in another \
             transaction. It can also mean the server's disk or queue is full.",
        )
    },
    n(
        "453",
        "no mail waiting",
        "On-Demand Mail Relay: in answer to ATRN, no mail is waiting for the requested \
         domains.",
    ),
    Note {
        causes: &[
            "STARTTLS: the server's certificate or private key is missing, unreadable or does \
             not match",
            "STARTTLS: a TLS library or configuration error on the server",
            "AUTH: the authentication back end (SASL service, directory, database) is down or \
             slow",
            "AUTH: a temporary lockout after too many attempts",
        ],
        checks: &[
            "the server log at the time of the STARTTLS or AUTH",
            "for administrators: certificate and key paths and permissions in the server \
             configuration",
            "whether the authentication service is running",
            "if TLS was required, do not continue without it",
        ],
        ..n(
            "454",
            "TLS or authentication temporarily unavailable",
            "A security step cannot be done right now. In answer to STARTTLS the server cannot \
             start TLS; in answer to AUTH its authentication back end failed temporarily.",
        )
    },
    n(
        "455",
        "parameters cannot be accommodated now",
        "The server cannot handle the parameters given on MAIL FROM or RCPT TO at the moment; \
         it may work later, or without the parameter.",
    ),
    n(
        "458",
        "cannot start the queue run",
        "ETRN: the server could not start delivering the queue for that node now; try again \
         later.",
    ),
    n(
        "459",
        "queue run not allowed",
        "ETRN: the server refuses to run the queue for that node, for the reason in the text.",
    ),
    Note {
        causes: &[
            "a typo in the command name",
            "a command the server does not implement",
            "a line longer than the server accepts",
            "HELO or EHLO sent to an LMTP server (LMTP uses LHLO)",
            "the port speaks another protocol, or expects TLS from the first byte (port 465)",
        ],
        checks: &[
            "the spelling, and the EHLO capability list",
            "whether the port expects implicit TLS rather than plain text",
            "the length of the line",
        ],
        ..n(
            "500",
            "command not recognised",
            "The server did not recognise the command, or the line was too long.",
        )
    },
    Note {
        causes: &[
            "no angle brackets around the address in MAIL FROM or RCPT TO",
            "a space after the colon (MAIL FROM: <a@example.org>) on a strict server",
            "a missing or malformed host name in HELO or EHLO",
            "characters that are not allowed in the address",
            "a malformed parameter (SIZE=abc) or bad base64 during AUTH",
        ],
        checks: &[
            "the exact form: MAIL FROM:<user@example.org>",
            "the EHLO argument: a fully qualified host name or an address literal like \
             [192.0.2.1]",
            "the enhanced code: 5.5.4 parameters, 5.1.3 or 5.1.7 address syntax, 5.5.2 syntax",
        ],
        ..n(
            "501",
            "syntax error in the arguments",
            "The command was recognised but its arguments are malformed, for example an \
             address without angle brackets or a bad host name in EHLO.",
        )
    },
    n(
        "502",
        "command not implemented",
        "The server knows the command but does not offer it (disabled or unsupported), for \
         example VRFY, EXPN, TURN or ETRN.",
    ),
    Note {
        causes: &[
            "MAIL before EHLO or HELO",
            "RCPT before MAIL, or DATA without any accepted recipient",
            "AUTH after a successful AUTH, or in the middle of a transaction",
            "an earlier command failed, so the transaction never started",
            "BDAT and DATA mixed in one transaction",
            "with pipelining: a command depending on a reply that failed",
        ],
        checks: &[
            "the earlier replies: one of them probably failed",
            "start over with RSET (or EHLO)",
            "whether authentication is required first (a 530 earlier)",
        ],
        ..n(
            "503",
            "commands in the wrong order",
            "The command is valid, but not at this point of the session: a required step is \
             missing or commands came in the wrong order.",
        )
    },
    n(
        "504",
        "parameter not implemented",
        "A parameter of the command is not supported: typically an AUTH mechanism the server \
         does not offer.",
    ),
    n(
        "521",
        "host accepts no mail",
        "This host never accepts mail (RFC 7504). It is sent instead of the 220 greeting by \
         hosts that exist for other purposes.",
    ),
    Note {
        causes: &[
            "MAIL FROM on a submission port without logging in first",
            "the server requires STARTTLS before anything else",
            "an earlier AUTH failed, so the session is not authenticated",
            "the server relays only for authenticated users",
        ],
        checks: &[
            "the EHLO capabilities: AUTH is often offered only after STARTTLS",
            "that you use the submission port (587 or 465) with credentials",
            "the order: EHLO, STARTTLS, EHLO again, AUTH, then MAIL",
        ],
        ..n(
            "530",
            "authentication or TLS required first",
            "The server requires a step before this command: STARTTLS (RFC 3207) or \
             authentication (RFC 4954). The text says which.",
        )
    },
    n(
        "534",
        "mechanism too weak",
        "The server's policy does not accept the chosen authentication mechanism, for example \
         a plain-text mechanism where a stronger one is required.",
    ),
    Note {
        causes: &[
            "wrong user name or password (some servers need the full address as user name)",
            "an encoding error in the AUTH data, such as a trailing newline inside the base64",
            "the account needs an application password or OAuth (two-factor login enabled)",
            "the account is locked or disabled, or SMTP authentication is off for it",
        ],
        checks: &[
            "the same credentials with another client or webmail",
            "decode the base64 you sent and compare it byte for byte",
            "whether the provider requires application passwords or XOAUTH2",
            "for administrators: the authentication log, which gives the real reason",
        ],
        ..n(
            "535",
            "credentials rejected",
            "Authentication failed: the server did not accept the user name and password (or \
             token).",
        )
    },
    n(
        "538",
        "encryption required for this mechanism",
        "The chosen mechanism is only allowed over an encrypted connection. RFC 4954 keeps \
         this code for historical reasons only; servers now tend to use 530 or 534.",
    ),
    Note {
        causes: &[
            "the recipient address does not exist (5.1.1)",
            "relaying denied: this server does not handle the domain and you are not \
             authenticated (5.7.1)",
            "policy refusal: the sending address, domain or message is not accepted (5.7.1)",
            "sender authentication failed: SPF, DKIM, DMARC, reverse DNS (5.7.23 to 5.7.27)",
            "the mailbox is disabled (5.2.1)",
        ],
        checks: &[
            "the enhanced code and the text, which name the reason",
            "the spelling of the address, and that the domain's MX records point to this \
             server",
            "whether you should authenticate and submit rather than relay",
            "blocklist listings for the sending address",
        ],
        ..n(
            "550",
            "refused",
            "The action was refused for good. For RCPT it classically means the mailbox does \
             not exist or is not available, but servers also use 550 for policy refusals; the \
             enhanced code and the text say which.",
        )
    },
    n(
        "551",
        "user not local",
        "The recipient is not handled here and the server will not forward; the text may name \
         the address to try instead. Rare today.",
    ),
    Note {
        causes: &[
            "the recipient's mailbox is over its quota (5.2.2)",
            "the message is larger than the server accepts (5.3.4, or 5.2.3 for a policy limit)",
            "the SIZE declared on MAIL FROM is above the limit",
            "attachments grow by about a third when base64-encoded",
        ],
        checks: &[
            "the SIZE value in the EHLO reply: the largest message the server takes",
            "the size of the message as sent, encoding included",
            "for a full mailbox: the recipient has to make room or get more quota",
        ],
        ..n(
            "552",
            "storage limit exceeded",
            "The action was aborted because a storage limit was exceeded: the recipient's \
             mailbox is full, or the message is too big.",
        )
    },
    Note {
        causes: &[
            "the address is malformed",
            "the sender address is not one the authenticated user may use",
            "a non-ASCII address without SMTPUTF8 support",
        ],
        checks: &[
            "the address syntax",
            "which sender addresses the account is allowed to use",
        ],
        ..n(
            "553",
            "address not allowed",
            "The address is not acceptable: its syntax is wrong, or this server does not let \
             you use it (for example a sender address you are not allowed to send as).",
        )
    },
    Note {
        causes: &[
            "as the greeting: the server will not talk to this client (for example a listed IP)",
            "after DATA: the message was rejected as spam or for its content or attachments",
            "a policy refusal (5.7.1)",
            "a message too big for the system (5.3.4)",
            "a security requirement was not met",
        ],
        checks: &[
            "the enhanced code and the text",
            "blocklist listings of the sending address",
            "the message: links, attachments, headers, authentication results",
            "after a 554 greeting: whether you connect from an address that may send here",
        ],
        ..n(
            "554",
            "transaction failed",
            "A permanent failure without a more specific code. As the greeting it means there \
             is no service for this client; after the message it means the message was \
             rejected, often for content or reputation.",
        )
    },
    Note {
        causes: &[
            "a parameter for an extension the server did not advertise in EHLO",
            "a malformed parameter value",
            "HELO was used instead of EHLO, so no extension is enabled",
        ],
        checks: &[
            "the EHLO capability list against the parameters sent",
            "use EHLO, not HELO, before extension parameters",
            "retry without the parameter",
        ],
        ..n(
            "555",
            "MAIL/RCPT parameter not recognised",
            "A parameter on MAIL FROM or RCPT TO (SIZE=, BODY=, SMTPUTF8, NOTIFY=, ...) is not \
             recognised or not supported.",
        )
    },
    n(
        "556",
        "domain accepts no mail",
        "The recipient's domain says it accepts no mail at all, typically with a null MX \
         record (RFC 7505). Retrying will not help.",
    ),
];

/// One note for each context row of a basic code: (code, reference, start of the summary,
/// note).
const BASIC_CONTEXT: &[(u16, &str, &str, &str)] = &[
    (
        220,
        "RFC5321",
        "<domain>",
        "the greeting; the client sends EHLO next",
    ),
    (
        252,
        "RFC5321",
        "Cannot VRFY",
        "VRFY answered without confirming the address",
    ),
    (
        354,
        "RFC5321",
        "Start mail",
        "the message ends with a line holding a single dot",
    ),
    (
        554,
        "RFC5321",
        "No SMTP service",
        "a greeting that refuses service; the client should send QUIT",
    ),
    (
        555,
        "RFC5321",
        "MAIL FROM/RCPT TO",
        "an unknown or unsupported parameter on MAIL FROM or RCPT TO",
    ),
    (
        521,
        "RFC7504",
        "Host does not",
        "the greeting of a host that takes no mail",
    ),
    (
        556,
        "RFC7504",
        "Domain does not",
        "the recipient domain publishes a null MX",
    ),
    (
        220,
        "RFC3207",
        "Ready to start",
        "start the TLS handshake now; nothing more in plain text",
    ),
    (
        501,
        "RFC3207",
        "Syntax error",
        "STARTTLS takes no arguments",
    ),
    (
        454,
        "RFC3207",
        "TLS not available",
        "TLS cannot start now; a client that requires TLS must stop here",
    ),
    (
        530,
        "RFC3207",
        "Must issue",
        "the server accepts this command only after STARTTLS",
    ),
    (
        554,
        "RFC3207",
        "Command refused",
        "the TLS session does not meet the server's security requirements",
    ),
    (235, "RFC4954", "Authentication Succeeded", "AUTH completed"),
    (
        334,
        "RFC4954",
        "Server challenge",
        "send the next base64 line, or '*' to cancel",
    ),
    (
        432,
        "RFC4954",
        "A password",
        "a password change is needed before this mechanism can be used",
    ),
    (
        454,
        "RFC4954",
        "Temporary authentication",
        "retry the authentication later",
    ),
    (
        500,
        "RFC4954",
        "Authentication Exchange",
        "a line of the AUTH exchange was too long",
    ),
    (
        501,
        "RFC4954",
        "Authentication cancelled",
        "the client sent '*'",
    ),
    (
        501,
        "RFC4954",
        "Client response",
        "the line sent was not valid base64",
    ),
    (
        501,
        "RFC4954",
        "Initial response",
        "this mechanism may not carry data on the AUTH line itself",
    ),
    (
        503,
        "RFC4954",
        "AUTH after",
        "AUTH is allowed once, and not inside a mail transaction",
    ),
    (
        504,
        "RFC4954",
        "Authentication mechanism",
        "the server does not offer this mechanism",
    ),
    (
        530,
        "RFC4954",
        "Authentication required",
        "log in before this command",
    ),
    (
        534,
        "RFC4954",
        "Authentication mechanism",
        "policy rejects this mechanism",
    ),
    (
        535,
        "RFC4954",
        "Authentication credentials",
        "the credentials were rejected",
    ),
    (
        538,
        "RFC4954",
        "Encryption required",
        "this mechanism needs an encrypted connection (historical)",
    ),
    (
        452,
        "RFC1870",
        "Insufficient system storage",
        "the declared size does not fit now; retry later",
    ),
    (
        552,
        "RFC1870",
        "Message size exceeds",
        "the declared or actual size is above the server's maximum",
    ),
    (
        250,
        "RFC1985",
        "OK, queuing",
        "the queue run for the node has started",
    ),
    (
        251,
        "RFC1985",
        "OK, no messages",
        "nothing is queued for the node",
    ),
    (
        252,
        "RFC1985",
        "OK, pending messages",
        "the queue run started for messages already pending",
    ),
    (
        253,
        "RFC1985",
        "OK, <n> pending",
        "the queue run started; the text gives the count",
    ),
    (458, "RFC1985", "Unable to queue", "try ETRN again later"),
    (
        459,
        "RFC1985",
        "Node not allowed",
        "this client may not run that node's queue",
    ),
    (
        250,
        "RFC2645",
        "Requested mail action",
        "the roles reverse: the client now acts as the server",
    ),
    (
        450,
        "RFC2645",
        "ATRN request refused",
        "the server will not turn the line around now",
    ),
    (
        451,
        "RFC2645",
        "Unable to process",
        "a temporary problem; retry ATRN later",
    ),
    (
        453,
        "RFC2645",
        "You have no mail",
        "nothing is waiting for the domains asked for",
    ),
    (
        502,
        "RFC2645",
        "Command not implemented",
        "an ODMR server offers only EHLO, AUTH, ATRN and QUIT",
    ),
    (
        530,
        "RFC2645",
        "Authentication required",
        "AUTH must come before ATRN",
    ),
    (
        250,
        "RFC3030",
        "BDAT chunk received",
        "the chunk was accepted",
    ),
    (
        503,
        "RFC3030",
        "Bad sequence",
        "BDAT after the LAST chunk, DATA after BDAT, or DATA with BODY=BINARYMIME",
    ),
    (
        500,
        "RFC2033",
        "HELO/EHLO not accepted",
        "an LMTP server greets with LHLO only",
    ),
    (
        503,
        "RFC2033",
        "DATA with no",
        "LMTP DATA needs at least one accepted recipient",
    ),
];

// ---------------------------------------------------------------------------------------------
// SMTP enhanced status codes: class and subject sub-codes.

pub(super) const SUBCODES: &[Note] = &[
    n(
        "2.XXX.YYY",
        "success",
        "Success: the action was carried out. The rest of the code may report something done \
         on the way, such as a conversion.",
    ),
    n(
        "4.XXX.YYY",
        "temporary failure",
        "Persistent transient failure: the message is fine as it is, but a temporary condition \
         stopped or delayed it. Trying again later may succeed.",
    ),
    n(
        "5.XXX.YYY",
        "permanent failure",
        "Permanent failure: sending the same thing again will fail again. The message, the \
         address or the setup has to change first.",
    ),
    n(
        "X.0.YYY",
        "other",
        "No more specific subject is given; the server's text carries the reason.",
    ),
    n(
        "X.1.YYY",
        "address",
        "A problem with an address (sender or recipient): its syntax, or whether it exists. \
         The sender can usually correct it.",
    ),
    n(
        "X.2.YYY",
        "mailbox",
        "A problem with the recipient's mailbox, which exists but cannot take the message \
         (full, disabled); it is up to the recipient to fix.",
    ),
    n(
        "X.3.YYY",
        "mail system",
        "A problem with the receiving mail system as a whole: full, not accepting mail, \
         misconfigured or missing a feature.",
    ),
    n(
        "X.4.YYY",
        "network or routing",
        "A problem in the network or routing: DNS, connections, routing loops, congestion or \
         a message that waited too long.",
    ),
    n(
        "X.5.YYY",
        "protocol",
        "A problem in the SMTP dialogue itself: invalid commands, syntax, parameters or too \
         many recipients.",
    ),
    n(
        "X.6.YYY",
        "content or media",
        "A problem with the message content or its format: media types, conversions, \
         internationalised headers or addresses.",
    ),
    n(
        "X.7.YYY",
        "security or policy",
        "A security or policy decision: authentication, authorisation, encryption, spam \
         filtering and sender authentication checks.",
    ),
];

// ---------------------------------------------------------------------------------------------
// SMTP enhanced status codes: one note per enumerated code (X.s.d), plus class-specific notes
// (4.7.0, 5.7.1, ...) whose meaning is added to the general one and whose lists replace it.

pub(super) const ENHANCED: &[Note] = &[
    n(
        "X.0.0",
        "no specific status",
        "A catch-all code with no more specific meaning; the text carries the reason.",
    ),
    n(
        "X.1.0",
        "address problem",
        "Something is wrong with an address that no more specific code covers.",
    ),
    Note {
        causes: &[
            "a typo in the part of the address before the @",
            "the account was deleted or renamed",
            "the server's user or alias data is out of date",
            "the domain's mail is split between servers and this one does not know the user",
        ],
        checks: &[
            "the spelling of the address",
            "that the domain's MX records point to the server you are talking to",
            "for administrators: the user, alias and virtual-domain tables",
            "4.1.1 (instead of 5.1.1) means the lookup failed for now, not that the user is \
             unknown",
        ],
        ..n(
            "X.1.1",
            "the mailbox does not exist",
            "The recipient is unknown at the destination: there is no such user or mailbox.",
        )
    },
    Note {
        causes: &[
            "a typo in the domain",
            "the domain has expired or has no mail records",
        ],
        checks: &["dig MX domain, and dig A domain when there is no MX"],
        ..n(
            "X.1.2",
            "the destination domain is not valid",
            "The domain part of the recipient address is wrong: it does not exist or cannot \
             take mail.",
        )
    },
    n(
        "X.1.3",
        "recipient address syntax is wrong",
        "The recipient address is not syntactically valid.",
    ),
    n(
        "X.1.4",
        "address is ambiguous",
        "The recipient address matches more than one mailbox, and the server cannot tell \
         which one is meant.",
    ),
    n(
        "X.1.5",
        "address is valid",
        "The recipient address is fine: a success detail, for example after RCPT.",
    ),
    n(
        "X.1.6",
        "mailbox moved, no forwarding address",
        "The mailbox existed but has moved, and no new address is known.",
    ),
    n(
        "X.1.7",
        "sender address syntax is wrong",
        "The sender (MAIL FROM) address is malformed, or replies to it could not be returned.",
    ),
    Note {
        causes: &[
            "the sender domain does not resolve or has no mail records",
            "a made-up or internal-only domain in MAIL FROM (localhost, .local, .lan)",
        ],
        checks: &[
            "dig MX and A of the sender domain",
            "the envelope sender your application or server sets",
        ],
        ..n(
            "X.1.8",
            "sender domain is not valid",
            "The sender's domain is not valid (it does not exist or cannot receive mail), so \
             bounces could never be delivered.",
        )
    },
    n(
        "X.1.9",
        "relayed to a non-compliant system",
        "A success detail: the message was handed to a system that does not send delivery \
         reports, so nothing more will be known.",
    ),
    n(
        "X.1.10",
        "recipient domain has a null MX",
        "The recipient's domain publishes a null MX (RFC 7505): it says it takes no mail.",
    ),
    n(
        "X.2.0",
        "mailbox problem",
        "Something is wrong with the recipient's mailbox that no more specific code covers.",
    ),
    n(
        "X.2.1",
        "mailbox disabled",
        "The mailbox exists but does not take messages: it is disabled or suspended.",
    ),
    Note {
        causes: &[
            "the recipient has used up the mailbox quota",
            "a sudden burst of large messages",
        ],
        checks: &[
            "nothing the sender can fix: tell the recipient by another route",
            "for administrators: the quota of that mailbox",
            "as 4.2.2 the server will retry; as 5.2.2 the message bounces",
        ],
        ..n(
            "X.2.2",
            "the mailbox is full",
            "The recipient's mailbox is over its quota.",
        )
    },
    n(
        "X.2.3",
        "message too big for the recipient's limit",
        "The message is larger than the recipient or site allows by policy.",
    ),
    n(
        "X.2.4",
        "mailing list expansion problem",
        "The recipient is a mailing list that could not be expanded.",
    ),
    n(
        "X.3.0",
        "mail system problem",
        "Something is wrong with the receiving mail system that no more specific code \
         covers.",
    ),
    n(
        "X.3.1",
        "the mail system is full",
        "The server has no room (disk or queue) for the message right now.",
    ),
    n(
        "X.3.2",
        "not accepting messages",
        "The host does not accept mail from the network now (maintenance, shutdown) or at \
         all.",
    ),
    n(
        "X.3.3",
        "feature not supported",
        "The system lacks a feature that the message or command needs.",
    ),
    Note {
        causes: &[
            "the message is bigger than the server's size limit",
            "attachments grow by about a third when base64-encoded",
        ],
        checks: &[
            "the SIZE value in the EHLO reply",
            "send large files by another route (a link) or compress them",
        ],
        ..n(
            "X.3.4",
            "message too big",
            "The message is larger than the receiving system can handle.",
        )
    },
    n(
        "X.3.5",
        "system misconfigured",
        "The receiving mail system is configured incorrectly.",
    ),
    n(
        "X.3.6",
        "priority was changed",
        "MT-PRIORITY: the message was accepted, but at another priority than requested.",
    ),
    n(
        "X.4.0",
        "network or routing problem",
        "A network or routing problem that no more specific code covers.",
    ),
    n(
        "X.4.1",
        "no answer from the next host",
        "The next host did not answer: the connection timed out or was refused.",
    ),
    n(
        "X.4.2",
        "bad connection",
        "The connection broke or was unusable during the transaction.",
    ),
    n(
        "X.4.3",
        "directory server failure",
        "A lookup needed to route the message (usually DNS) failed.",
    ),
    n(
        "X.4.4",
        "unable to route",
        "No usable route to the destination was found, for example no MX or address \
         records.",
    ),
    n(
        "X.4.5",
        "mail system congestion",
        "The system is too busy to take the message now.",
    ),
    n(
        "X.4.6",
        "routing loop",
        "The message went round in a loop between systems (too many hops).",
    ),
    n(
        "X.4.7",
        "delivery time expired",
        "The message waited in the queue too long and was given up (as 4.4.7: delivery is \
         delayed).",
    ),
    n(
        "X.5.0",
        "protocol problem",
        "A protocol problem that no more specific code covers.",
    ),
    n(
        "X.5.1",
        "invalid command",
        "The command is not valid here: unknown, or not allowed at this point of the session.",
    ),
    n("X.5.2", "syntax error", "The command could not be parsed."),
    Note {
        causes: &[
            "more RCPT commands than the server accepts for one message",
            "a per-message or per-hour recipient limit of the account",
        ],
        checks: &[
            "send the refused recipients in another transaction",
            "split large mailings into batches",
        ],
        ..n(
            "X.5.3",
            "too many recipients",
            "The transaction has more recipients than allowed. As 4.5.3 the refused ones can \
             go in another transaction; as 5.5.3 the message has to be split.",
        )
    },
    n(
        "X.5.4",
        "invalid arguments",
        "The command is valid but its arguments or parameters are not.",
    ),
    n(
        "X.5.5",
        "wrong protocol version",
        "The two sides do not agree on the protocol version.",
    ),
    n(
        "X.5.6",
        "authentication line too long",
        "A line of the AUTH exchange was longer than the server accepts.",
    ),
    n(
        "X.6.0",
        "content or media problem",
        "A content problem that no more specific code covers.",
    ),
    n(
        "X.6.1",
        "media type not supported",
        "The message contains a media type the destination cannot handle.",
    ),
    n(
        "X.6.2",
        "conversion needed but not allowed",
        "The content would have to be converted for delivery, but conversion is prohibited.",
    ),
    n(
        "X.6.3",
        "conversion needed but not supported",
        "The content would have to be converted for delivery, but the system cannot do it.",
    ),
    n(
        "X.6.4",
        "converted with loss",
        "The message was delivered, but a conversion lost some of its content.",
    ),
    n(
        "X.6.5",
        "conversion failed",
        "A conversion needed for delivery failed.",
    ),
    n(
        "X.6.6",
        "content not available",
        "BURL: the message content referred to by a URL could not be fetched.",
    ),
    n(
        "X.6.7",
        "non-ASCII address not allowed",
        "An internationalised (non-ASCII) address cannot be used for this sender or \
         recipient (SMTPUTF8).",
    ),
    n(
        "X.6.8",
        "UTF-8 reply needed but not allowed",
        "The answer would have to contain UTF-8, but the client has not enabled SMTPUTF8.",
    ),
    n(
        "X.6.9",
        "UTF-8 headers cannot be delivered",
        "The message has UTF-8 header fields, but the path to a recipient does not support \
         SMTPUTF8, so it is rejected.",
    ),
    n(
        "X.6.10",
        "deprecated duplicate of X.6.8",
        "Registered by mistake as a duplicate of X.6.8 and deprecated; read it as X.6.8.",
    ),
    n(
        "X.7.0",
        "security or policy problem",
        "A security or policy condition that no more specific code covers.",
    ),
    Note {
        causes: &[
            "relaying denied: the server does not handle that domain and you are not logged in",
            "the sending address or network is blocklisted or has a poor reputation",
            "the sender or recipient is blocked by a local policy",
            "the message was classified as spam",
        ],
        checks: &[
            "the text, which usually names the policy",
            "log in (AUTH) when sending through your own server",
            "that the recipient's MX is the server you are talking to",
            "blocklist listings of the sending address",
        ],
        ..n(
            "X.7.1",
            "not authorised, refused by policy",
            "The sender is not allowed to deliver this message to this recipient: relaying \
             denied, a blocklist or another site policy.",
        )
    },
    n(
        "X.7.2",
        "list expansion prohibited",
        "The sender is not allowed to send to this mailing list.",
    ),
    n(
        "X.7.3",
        "security conversion not possible",
        "The message would need a security conversion (for example re-encryption) that \
         cannot be done.",
    ),
    n(
        "X.7.4",
        "security feature not supported",
        "A security feature that was asked for is not supported.",
    ),
    n(
        "X.7.5",
        "cryptographic failure",
        "A cryptographic operation (decryption, signature) on the message failed.",
    ),
    n(
        "X.7.6",
        "algorithm not supported",
        "The message uses a cryptographic algorithm the destination does not support.",
    ),
    n(
        "X.7.7",
        "message integrity failure",
        "The message failed an integrity check: it may have been changed in transit.",
    ),
    Note {
        causes: &[
            "wrong user name or password",
            "an encoding mistake in the AUTH data",
            "an application password or OAuth token is required",
            "the account may not use SMTP authentication",
        ],
        checks: &[
            "the credentials with another client",
            "decode the base64 you sent",
            "for administrators: the authentication log",
        ],
        ..n(
            "X.7.8",
            "bad credentials",
            "The authentication credentials are not valid.",
        )
    },
    n(
        "X.7.9",
        "mechanism too weak",
        "The authentication mechanism is too weak for the server's policy.",
    ),
    n(
        "X.7.10",
        "encryption needed",
        "This operation needs an encrypted connection.",
    ),
    n(
        "X.7.11",
        "encryption required for this mechanism",
        "The chosen authentication mechanism is only allowed over an encrypted connection.",
    ),
    n(
        "X.7.12",
        "password transition needed",
        "A password change is needed before this mechanism can be used.",
    ),
    n(
        "X.7.13",
        "account disabled",
        "The user account is disabled.",
    ),
    n(
        "X.7.14",
        "trust relationship required",
        "The operation needs a trust relationship between the systems that is not in place.",
    ),
    n(
        "X.7.15",
        "priority too low",
        "MT-PRIORITY: the message's priority is too low to be accepted now.",
    ),
    n(
        "X.7.16",
        "too big for its priority",
        "MT-PRIORITY: the message is too big for the priority it asked for.",
    ),
    n(
        "X.7.17",
        "mailbox owner has changed",
        "RRVS: the mailbox changed owner after the date the sender gave, so it was not \
         delivered.",
    ),
    n(
        "X.7.18",
        "domain owner has changed",
        "RRVS: the domain changed owner after the date the sender gave.",
    ),
    n(
        "X.7.19",
        "RRVS check not possible",
        "RRVS: the server cannot tell whether the mailbox changed owner, so it does not \
         deliver.",
    ),
    Note {
        causes: &[
            "the message is not DKIM-signed",
            "the signature broke in transit (a relay or list changed the message)",
            "the DKIM public key in DNS is missing or does not match",
        ],
        checks: &[
            "the Authentication-Results header of a message that got through",
            "dig TXT selector._domainkey.domain",
            "that nothing rewrites the message after signing",
        ],
        ..n(
            "X.7.20",
            "no passing DKIM signature",
            "The receiving policy needs a valid DKIM signature and the message has none that \
             verifies.",
        )
    },
    n(
        "X.7.21",
        "no acceptable DKIM signature",
        "DKIM signatures verify, but none meets the receiver's requirements (for example the \
         wrong signing domain or a weak key).",
    ),
    Note {
        causes: &[
            "the message is signed by a domain that is not the From domain",
            "the From domain has no DKIM key of its own set up",
        ],
        checks: &[
            "the d= tag of the DKIM-Signature against the From header's domain",
            "sign with the From domain (DMARC alignment)",
        ],
        ..n(
            "X.7.22",
            "no author-matched DKIM signature",
            "No valid DKIM signature comes from the domain in the From header.",
        )
    },
    Note {
        causes: &[
            "the sending IP is not listed in the sender domain's SPF record",
            "mail sent through a new provider or relay not yet in SPF",
            "forwarding: the forwarder's address is not allowed by the original sender's SPF",
        ],
        checks: &[
            "dig TXT of the MAIL FROM domain (or the HELO name when MAIL FROM is empty)",
            "that the record includes every service that sends for the domain",
        ],
        ..n(
            "X.7.23",
            "SPF check failed",
            "The sending address is not permitted by the SPF record of the sender's domain.",
        )
    },
    n(
        "X.7.24",
        "SPF check error",
        "SPF could not be evaluated: the record is malformed, needs too many lookups, or DNS \
         failed (as 4.7.24 a retry may work).",
    ),
    Note {
        causes: &[
            "the sending IP has no PTR record",
            "the PTR name does not resolve back to the same IP",
            "a generic or dynamic-looking PTR name",
        ],
        checks: &[
            "dig -x IP, then dig A of the name it returns",
            "ask whoever owns the IP range (the hosting provider) to set the PTR",
        ],
        ..n(
            "X.7.25",
            "reverse DNS check failed",
            "The sending IP address fails the receiver's reverse DNS check.",
        )
    },
    Note {
        causes: &[
            "DMARC failure: neither SPF nor DKIM passes in alignment with the From domain",
            "the message is forwarded and both checks broke on the way",
        ],
        checks: &[
            "SPF, DKIM and DMARC records of the From domain",
            "the Authentication-Results header of a test message",
        ],
        ..n(
            "X.7.26",
            "several authentication checks failed",
            "More than one sender authentication check failed (typically SPF and DKIM, which \
             in practice often means DMARC failed).",
        )
    },
    Note {
        causes: &["the sender domain publishes a null MX: it declares it receives no mail"],
        checks: &["use a sender address whose domain can receive mail (bounces)"],
        ..n(
            "X.7.27",
            "sender domain has a null MX",
            "The sender's domain has a null MX, so bounces could never be returned; the \
             message is refused.",
        )
    },
    n(
        "X.7.28",
        "mail flood detected",
        "The receiver saw a sudden flood of similar messages (for example subscription \
         bombing) and refuses more.",
    ),
    n(
        "X.7.29",
        "ARC validation failed",
        "The message's ARC chain (authentication results kept by intermediaries) does not \
         validate.",
    ),
    n(
        "X.7.30",
        "REQUIRETLS not supported",
        "The message demands REQUIRETLS, but the next hop cannot guarantee TLS all the way.",
    ),
    // Class-specific notes.
    Note {
        causes: &[
            "rate limiting: too many messages or connections in a short time",
            "TLS is temporarily unavailable on the server",
            "a temporary failure of the authentication back end",
            "a temporary policy decision (reputation still being assessed)",
        ],
        checks: &[
            "the text: it names the condition",
            "slow down and retry later",
            "for administrators: TLS and authentication service logs",
        ],
        ..n(
            "4.7.0",
            "temporary security or policy problem",
            "As 4.7.0 it is temporary: very often a rate limit, or TLS or authentication that \
             is not available right now.",
        )
    },
    Note {
        causes: &[
            "authentication is required before sending",
            "TLS is required before this command",
            "a security policy refusal without a more specific code",
        ],
        checks: &[
            "log in with AUTH (after STARTTLS) before MAIL",
            "the EHLO capabilities before and after STARTTLS",
        ],
        ..n(
            "5.7.0",
            "security requirement not met",
            "As 5.7.0 it most often means authentication (or TLS) is required first.",
        )
    },
    Note {
        causes: &[
            "greylisting: first contact from this sender, address and recipient",
            "a temporary policy block or rate limit for this sender",
            "the sender's reputation is still being evaluated",
        ],
        checks: &[
            "retry after a few minutes; greylisting passes on retry",
            "the text, which often says 'greylisted' or 'try again later'",
        ],
        ..n(
            "4.7.1",
            "deferred by policy (often greylisting)",
            "As 4.7.1 the refusal is temporary: usually greylisting or a temporary policy \
             block.",
        )
    },
    n(
        "5.7.1",
        "refused by policy",
        "As 5.7.1 the refusal is final until something changes: authentication, the sending \
         address's reputation, or the site's policy.",
    ),
    Note {
        causes: &[
            "the mailbox is locked by a delivery or maintenance in progress",
            "too many messages arriving for this recipient in a short time",
        ],
        checks: &["retry later (a mail server does so by itself)"],
        ..n(
            "4.2.1",
            "mailbox busy or temporarily unavailable",
            "As 4.2.1 the mailbox is temporarily unavailable: busy, locked or receiving too \
             fast.",
        )
    },
    n(
        "4.2.2",
        "the mailbox is full (will retry)",
        "As 4.2.2 the sending server keeps the message and retries, in case room is made.",
    ),
];

// ---------------------------------------------------------------------------------------------
// Basic and enhanced code together: notes for the combinations people meet most. The meaning
// is added to the enhanced code's; the lists replace its lists.

pub(super) const PAIRS: &[Note] = &[
    Note {
        causes: &[
            "relaying denied: you asked this server to deliver to a domain it does not handle, \
             without logging in",
            "the sending address or network is blocked by policy or a blocklist",
            "the recipient does not accept mail from this sender",
        ],
        checks: &[
            "when sending through your own server: log in (AUTH) on the submission port",
            "when delivering to the recipient's server: that its MX points to this host",
            "the text, and blocklist listings of the sending address",
        ],
        ..n(
            "550 5.7.1",
            "relaying denied or refused by policy",
            "With 550 this is the classic answer to relaying without authentication, and to \
             policy refusals of a sender or recipient.",
        )
    },
    Note {
        causes: &[
            "the message was classified as spam or its content is not allowed",
            "the sending address or domain is on a blocklist",
            "the sending host is refused outright (as a greeting or after EHLO)",
        ],
        checks: &[
            "the text, which usually names the filter or list",
            "blocklist listings of the sending address",
            "the message content and its SPF, DKIM and DMARC results",
        ],
        ..n(
            "554 5.7.1",
            "message or sender rejected by policy",
            "With 554 it usually comes after the message (or instead of service) and means the \
             message or its sender was rejected by a content or reputation policy.",
        )
    },
    Note {
        causes: &[
            "too many connections from your address at once",
            "too many messages or commands in a short time",
            "the server limits new or low-reputation senders",
        ],
        checks: &[
            "fewer parallel connections, and a pause before retrying",
            "the text, which often gives the limit",
        ],
        ..n(
            "421 4.7.0",
            "rate limited, connection closing",
            "With 421 this usually means a rate or connection limit was hit and the server \
             ends the session.",
        )
    },
    Note {
        causes: &["greylisting: the first delivery attempt from a new sender is deferred"],
        checks: &[
            "retry after a few minutes (mail servers do this by themselves)",
            "for repeated deferrals: whether the retry comes from the same IP address",
        ],
        ..n(
            "451 4.7.1",
            "greylisted, retry later",
            "With 451 this is the typical greylisting answer: come back later and it will be \
             accepted.",
        )
    },
    n(
        "454 4.7.0",
        "TLS or authentication temporarily unavailable",
        "With 454 it answers either STARTTLS (TLS cannot start, usually a certificate or key \
         problem on the server) or AUTH (a temporary authentication failure).",
    ),
    n(
        "530 5.7.0",
        "authentication or TLS required",
        "With 530 the server wants AUTH (or STARTTLS) before this command.",
    ),
    n("535 5.7.8", "bad user name or password", ""),
    n("552 5.2.2", "the mailbox is full", ""),
    n("552 5.3.4", "the message is too big", ""),
    n(
        "452 4.5.3",
        "too many recipients; send the rest separately",
        "",
    ),
    Note {
        causes: &[
            "MAIL before EHLO, RCPT before MAIL, or DATA before any accepted RCPT",
            "an earlier command in the transaction failed",
        ],
        checks: &[
            "the replies to the earlier commands",
            "start again with RSET",
        ],
        ..n("503 5.5.1", "commands in the wrong order", "")
    },
    n("501 5.5.4", "malformed or invalid arguments", ""),
    n("555 5.5.4", "unsupported MAIL/RCPT parameter", ""),
    n("450 4.2.1", "mailbox busy, retry later", ""),
    n("550 5.1.1", "the mailbox does not exist", ""),
];

// ---------------------------------------------------------------------------------------------
// IMAP response codes.

pub(super) const IMAP: &[Note] = &[
    i(
        "NEWNAME",
        "NO (obsolete)",
        "the mailbox was renamed (obsolete code)",
        "An obsolete code from IMAP2bis/RFC 2060 that gave the new name of a renamed \
         mailbox. Current servers do not send it; treat it like a plain failure.",
    ),
    i(
        "REFERRAL",
        "OK, NO, BYE",
        "the resource is on another server",
        "The mailbox or server is elsewhere; the code carries an IMAP URL of the right place. \
         mailtalk does not follow referrals by itself.",
    ),
    Note {
        causes: &[
            "an administrative notice (maintenance, migration, shutdown)",
            "account state: password about to expire, quota nearly full, account locked",
            "a security notice: plain-text login refused, unusual login",
        ],
        checks: &[
            "read the text: it is addressed to the user",
            "with NO or BAD the text also says why the command failed",
        ],
        ..i(
            "ALERT",
            "OK, NO, BAD, BYE",
            "a message the user must read",
            "The text is a message from the server that must be shown to the user as it is.",
        )
    },
    i(
        "BADCHARSET",
        "NO (SEARCH)",
        "charset not supported",
        "The command used a character set the server does not support; the code may list \
         the ones it does.",
    ),
    i(
        "PARSE",
        "untagged NO or OK",
        "message headers or MIME could not be parsed",
        "The server could not parse the header or MIME structure of a message. The message is \
         still there, but some of its data may be incomplete.",
    ),
    i(
        "PERMANENTFLAGS",
        "OK (SELECT, EXAMINE)",
        "the flags that can be stored",
        "Lists the flags the client can change for good in this mailbox; \\* means new \
         keywords can be created.",
    ),
    i(
        "READ-ONLY",
        "OK (SELECT, EXAMINE)",
        "the mailbox is read-only",
        "The mailbox is open read-only (EXAMINE, or no write rights): flags cannot be changed \
         and nothing can be expunged.",
    ),
    i(
        "READ-WRITE",
        "OK (SELECT)",
        "the mailbox is read-write",
        "The mailbox is open for reading and writing.",
    ),
    Note {
        causes: &[
            "the folder name is misspelled or differs in case",
            "a wrong hierarchy separator or namespace prefix (INBOX.Sent against Sent)",
            "the folder was deleted or never created",
        ],
        checks: &[
            "LIST \"\" \"*\" for the existing names and the separator",
            "NAMESPACE for the personal prefix",
            "CREATE the mailbox, then retry",
        ],
        ..i(
            "TRYCREATE",
            "NO (APPEND, COPY, MOVE)",
            "the target mailbox does not exist; CREATE it first",
            "The target mailbox does not exist. Creating it and retrying may work.",
        )
    },
    i(
        "UIDNEXT",
        "OK (SELECT, EXAMINE)",
        "the next UID",
        "The UID the next new message will probably get.",
    ),
    i(
        "UIDVALIDITY",
        "OK (SELECT, EXAMINE)",
        "the UID validity value",
        "The UID validity value of the mailbox. When it changes, every UID cached for the \
         mailbox is void.",
    ),
    i(
        "UNSEEN",
        "OK (SELECT, EXAMINE)",
        "the first unseen message",
        "The sequence number of the first unseen message (IMAP4rev1).",
    ),
    i(
        "UNKNOWN-CTE",
        "NO (FETCH BINARY)",
        "unknown content-transfer-encoding",
        "The server cannot decode the content-transfer-encoding of the part asked for with \
         BINARY.",
    ),
    i(
        "UIDNOTSTICKY",
        "OK, NO (SELECT)",
        "UIDs are not kept",
        "The mailbox does not keep UIDs between sessions: they may change.",
    ),
    i(
        "APPENDUID",
        "OK (APPEND)",
        "UID of the appended message",
        "UIDPLUS: the UID validity and the UID the appended message got.",
    ),
    i(
        "COPYUID",
        "OK (COPY, MOVE)",
        "UIDs of the copied messages",
        "UIDPLUS: the UID validity of the target, the source UIDs and the UIDs they got \
         there.",
    ),
    i(
        "URLMECH",
        "OK (GENURLAUTH, RESETKEY)",
        "URLAUTH mechanisms",
        "The URLAUTH mechanisms the server supports.",
    ),
    i(
        "TOOBIG",
        "NO (APPEND with CATENATE)",
        "the resulting message is too big",
        "The message built by APPEND (with CATENATE) is larger than the server accepts.",
    ),
    i(
        "BADURL",
        "NO (APPEND with CATENATE, URLFETCH)",
        "an IMAP URL could not be resolved",
        "An IMAP URL in the command could not be resolved or is not allowed.",
    ),
    i(
        "HIGHESTMODSEQ",
        "OK (SELECT, EXAMINE)",
        "the highest mod-sequence",
        "CONDSTORE: the highest mod-sequence value of the mailbox.",
    ),
    i(
        "NOMODSEQ",
        "OK (SELECT, EXAMINE)",
        "no mod-sequences here",
        "CONDSTORE: this mailbox does not support mod-sequences.",
    ),
    i(
        "MODIFIED",
        "OK, NO (STORE UNCHANGEDSINCE)",
        "some messages changed and were not stored",
        "Some messages changed since the given mod-sequence and were left alone; the code \
         lists them.",
    ),
    i(
        "COMPRESSIONACTIVE",
        "NO (COMPRESS)",
        "compression is already on",
        "COMPRESS was refused because compression is already active.",
    ),
    i(
        "CLOSED",
        "OK (untagged, SELECT, EXAMINE)",
        "the previous mailbox is closed",
        "The previously selected mailbox is closed; what follows is about the new one.",
    ),
    i(
        "NOTSAVED",
        "OK, NO (SEARCH SAVE)",
        "the search result was not saved",
        "The search result variable ($) was not saved (the search failed, or saving was not \
         possible).",
    ),
    i(
        "BADCOMPARATOR",
        "NO, BAD (COMPARATOR)",
        "comparator not supported",
        "The comparator asked for is not supported.",
    ),
    i(
        "ANNOTATE",
        "NO (STORE, APPEND)",
        "annotation refused",
        "An annotation was refused: too big (TOOBIG) or too many (TOOMANY).",
    ),
    i(
        "ANNOTATIONS",
        "OK (SELECT, EXAMINE)",
        "annotation support of the mailbox",
        "How the mailbox supports annotations: NONE, READ-ONLY, or the largest size allowed.",
    ),
    i(
        "TEMPFAIL",
        "NO (CONVERT)",
        "temporary conversion failure",
        "A conversion failed temporarily; retry later.",
    ),
    i(
        "MAXCONVERTMESSAGES",
        "NO (CONVERT)",
        "too many messages to convert at once",
        "The command asked to convert more messages at once than the server allows; the code \
         gives the limit.",
    ),
    i(
        "MAXCONVERTPARTS",
        "NO (CONVERT)",
        "too many body parts to convert at once",
        "The command asked to convert more body parts at once than the server allows.",
    ),
    i(
        "NOUPDATE",
        "NO, OK (ESEARCH CONTEXT)",
        "the search context will not be updated",
        "The server will not keep this search context up to date.",
    ),
    i(
        "NOTIFICATIONOVERFLOW",
        "OK (untagged)",
        "NOTIFY was switched off",
        "The server could not keep up with notifications and switched NOTIFY off; the client \
         has to resynchronise.",
    ),
    i(
        "BADEVENT",
        "NO (NOTIFY)",
        "NOTIFY event not supported",
        "NOTIFY asked for an event the server does not support.",
    ),
    i(
        "UNDEFINED-FILTER",
        "NO (SEARCH FILTER)",
        "no such search filter",
        "The search names a filter that is not defined.",
    ),
    i(
        "METADATA",
        "NO, OK (GETMETADATA, SETMETADATA)",
        "a metadata limit or refusal",
        "A metadata limit or refusal; the word after METADATA says which (LONGENTRIES, \
         MAXSIZE, TOOMANY, NOPRIVATE).",
    ),
    Note {
        causes: &[
            "the authentication back end (directory, database, single sign-on) is down",
            "mail storage is temporarily unreachable",
            "the account is being migrated or under maintenance",
        ],
        checks: &[
            "retry after a short wait",
            "whether other users are affected",
            "for administrators: the server log, for the failing subsystem",
        ],
        ..i(
            "UNAVAILABLE",
            "NO",
            "a subsystem is temporarily unavailable; retry later",
            "Something the server depends on is unavailable right now. The command may work \
             later.",
        )
    },
    Note {
        causes: &[
            "wrong user name or password",
            "the user name needs another form (full address or local part only)",
            "an application password or OAuth is required",
            "the account may not log in this way, or plain-text login is not allowed",
            "too many failed attempts: a temporary lockout",
        ],
        checks: &[
            "the credentials with another client or webmail",
            "CAPABILITY: LOGINDISABLED means no LOGIN before TLS",
            "whether the provider requires application passwords or XOAUTH2",
            "for administrators: the authentication log, which gives the real reason",
        ],
        ..i(
            "AUTHENTICATIONFAILED",
            "NO (LOGIN, AUTHENTICATE)",
            "login failed (wrong credentials, or login not allowed)",
            "Authentication failed. Servers deliberately do not say whether the user name or \
             the password was wrong.",
        )
    },
    i(
        "AUTHORIZATIONFAILED",
        "NO (AUTHENTICATE)",
        "not allowed to act as that user",
        "The credentials are right, but they do not allow acting as the requested \
         authorisation identity (for example an administrator logging in as another user \
         without that right).",
    ),
    i(
        "EXPIRED",
        "NO (LOGIN, AUTHENTICATE)",
        "credentials expired",
        "The credentials were valid but have expired (for example the password); renew them.",
    ),
    Note {
        causes: &[
            "LOGIN or AUTHENTICATE PLAIN over a connection without TLS",
            "the server requires TLS for every login",
        ],
        checks: &[
            "STARTTLS first, or implicit TLS on port 993",
            "CAPABILITY before and after TLS (LOGINDISABLED, STARTTLS)",
        ],
        ..i(
            "PRIVACYREQUIRED",
            "NO",
            "needs an encrypted connection (TLS)",
            "The operation is not allowed without privacy protection: the server wants TLS \
             first.",
        )
    },
    Note {
        causes: &[
            "the account is blocked or suspended",
            "the account is not set up on this server",
            "an action that only an administrator can take is needed",
        ],
        checks: &[
            "the text after the code",
            "ask the mail administrator of the account",
        ],
        ..i(
            "CONTACTADMIN",
            "NO",
            "contact the administrator",
            "The user cannot fix this alone: an administrator of the account has to act.",
        )
    },
    Note {
        causes: &[
            "missing access rights (ACL) on a shared or public mailbox",
            "writing to a read-only or system mailbox",
            "deleting or renaming a mailbox you do not own",
        ],
        checks: &[
            "MYRIGHTS mailbox",
            "GETACL mailbox (needs the right to administer it)",
            "who owns the mailbox",
        ],
        ..i(
            "NOPERM",
            "NO",
            "access rights do not allow it",
            "The access control list of the mailbox does not allow this operation for this \
             user.",
        )
    },
    Note {
        causes: &[
            "another client or session is working on the same mailbox",
            "server maintenance on the mailbox (index rebuild, migration)",
            "a stale lock left by a crash",
        ],
        checks: &[
            "retry after a short wait",
            "close the other clients of the account",
            "for administrators: lock files and running maintenance jobs",
        ],
        ..i(
            "INUSE",
            "NO",
            "in use or locked; retry later",
            "Something else holds the resource right now (a lock). The same command may work \
             in a moment.",
        )
    },
    Note {
        causes: &[
            "another client expunged messages at the same time",
            "server-side rules or retention removed messages",
        ],
        checks: &[
            "use UID commands instead of sequence numbers",
            "NOOP to receive the pending EXPUNGE responses, then retry",
        ],
        ..i(
            "EXPUNGEISSUED",
            "NO, OK",
            "another session expunged messages",
            "Some of the requested messages were expunged by another session while the \
             command ran.",
        )
    },
    i(
        "CORRUPTION",
        "NO",
        "corrupt data on the server",
        "The server found corrupt data (an index or a message file) while handling the \
         command.",
    ),
    Note {
        causes: &[
            "a server bug triggered by this command or this data",
            "mailbox data the server cannot handle",
        ],
        checks: &[
            "for administrators: the server log at that time",
            "whether a simpler form of the command works",
            "report the command and the server version to its maintainers",
        ],
        ..i(
            "SERVERBUG",
            "NO",
            "internal server error",
            "The server hit an internal error it knows to be its own fault. Retrying the same \
             command is likely to fail again.",
        )
    },
    Note {
        causes: &[
            "a command that does not fit the session state (for example about expunged \
             messages)",
            "a request the server considers wasteful or abusive",
        ],
        checks: &[
            "the command against the RFC",
            "the text: servers usually say what they object to",
        ],
        ..i(
            "CLIENTBUG",
            "OK, NO, BAD",
            "the server thinks the client misbehaved",
            "The server thinks the client did something wrong even though the command was \
             well-formed. The command may still have been carried out.",
        )
    },
    Note {
        causes: &[
            "a mailbox name the server's storage cannot represent",
            "an operation its storage does not support",
        ],
        checks: &[
            "use another name or another way",
            "the text for the exact restriction",
        ],
        ..i(
            "CANNOT",
            "NO",
            "can never succeed on this server",
            "This operation can never succeed on this server, whoever tries and however \
             often.",
        )
    },
    Note {
        causes: &[
            "too many mailboxes, keywords or sessions",
            "a command covering too many messages",
            "a name or value that is too long",
        ],
        checks: &[
            "split the operation into smaller pieces",
            "the text for which limit was hit",
        ],
        ..i(
            "LIMIT",
            "NO",
            "a server limit was reached",
            "The command hit a limit of this server's implementation or configuration.",
        )
    },
    Note {
        causes: &[
            "the account's storage quota is used up",
            "a message-count quota is reached",
            "the quota of a shared mailbox is full",
        ],
        checks: &[
            "GETQUOTAROOT INBOX for the usage and the limits",
            "delete or archive mail, and expunge the Trash",
            "for administrators: the quota of the account",
        ],
        ..i(
            "OVERQUOTA",
            "NO (APPEND, COPY, MOVE, CREATE); untagged OK as a warning",
            "the operation would exceed a quota",
            "The operation would go over a quota, so nothing was stored.",
        )
    },
    Note {
        causes: &[
            "a mailbox of that name already exists (perhaps with another case)",
            "another client created it first",
        ],
        checks: &[
            "LIST \"\" \"*\"",
            "use the existing mailbox or another name",
        ],
        ..i(
            "ALREADYEXISTS",
            "NO (CREATE, RENAME)",
            "the target already exists",
            "CREATE or RENAME named a mailbox that already exists.",
        )
    },
    Note {
        causes: &[
            "a typo or different case in the mailbox name",
            "a wrong hierarchy separator or namespace prefix",
            "another client deleted the mailbox",
        ],
        checks: &["LIST \"\" \"*\"", "NAMESPACE"],
        ..i(
            "NONEXISTENT",
            "NO (SELECT, EXAMINE, DELETE, RENAME, STATUS, ...)",
            "the mailbox does not exist",
            "The mailbox (or other object) named in the command does not exist. For APPEND, \
             COPY and MOVE servers send TRYCREATE instead.",
        )
    },
    i(
        "USEATTR",
        "NO (CREATE)",
        "special-use attribute refused",
        "CREATE asked for a special-use attribute (\\Sent, \\Trash, ...) that the server does \
         not support or will not give to this mailbox.",
    ),
    i(
        "DOWNGRADED",
        "OK",
        "messages were downgraded from UTF-8",
        "Some messages were converted from UTF-8 for a client that has not enabled UTF-8; the \
         code lists their UIDs.",
    ),
    i(
        "MAILBOXID",
        "OK (CREATE)",
        "the new mailbox's object ID",
        "OBJECTID: the ID of the mailbox just created.",
    ),
    i(
        "CAPABILITY",
        "OK (greeting, LOGIN, AUTHENTICATE)",
        "the capability list",
        "The server's capabilities, sent along so the client need not ask with CAPABILITY.",
    ),
    i(
        "HASCHILDREN",
        "NO (DELETE)",
        "the mailbox has children",
        "The mailbox has child mailboxes, so the operation (usually DELETE) is refused until \
         they are gone.",
    ),
    i(
        "UIDREQUIRED",
        "NO, BAD",
        "use UIDs, not sequence numbers",
        "The server does not allow message sequence numbers here; use UID commands.",
    ),
    i(
        "INPROGRESS",
        "OK (untagged)",
        "progress of a long command",
        "A progress report for a long-running command: how much is done out of how much.",
    ),
    i(
        "TOOMANY",
        "NO",
        "the request covers too many messages",
        "The request covers more messages than the server handles at once; split it (the \
         UIDBATCHES command helps).",
    ),
    i(
        "TOOFEW",
        "NO (UIDBATCHES)",
        "batch size below the server's minimum",
        "UIDBATCHES asked for batches smaller than the server's minimum.",
    ),
];

// ---------------------------------------------------------------------------------------------
// POP3 response codes.

pub(super) const POP3: &[Note] = &[
    Note {
        causes: &[
            "a client checking mail more often than the server allows",
            "several devices polling the same account",
        ],
        checks: &[
            "CAPA: LOGIN-DELAY n gives the minimum number of seconds between logins",
            "poll less often",
        ],
        ..n(
            "LOGIN-DELAY",
            "logged in too soon after the last login",
            "The server refuses the login because the previous one was too recent.",
        )
    },
    Note {
        causes: &[
            "another client (phone, desktop) is connected to the same mailbox",
            "an earlier session did not end cleanly and still holds the lock",
            "a server-side process is working on the mailbox",
        ],
        checks: &[
            "close the other clients and retry in a minute",
            "for administrators: stale lock files",
        ],
        ..n(
            "IN-USE",
            "the maildrop is locked by another session",
            "The credentials were accepted, but the mailbox is locked by another session; \
             POP3 allows one session per mailbox at a time.",
        )
    },
    Note {
        causes: &[
            "mail storage or a back end is broken or misconfigured",
            "the account is not set up correctly on the server",
        ],
        checks: &[
            "ask the mail administrator",
            "for administrators: the server log",
        ],
        ..n(
            "SYS/PERM",
            "permanent server-side error",
            "A problem of the server system, not of the user or the command, that will not go \
             away by retrying.",
        )
    },
    Note {
        causes: &[
            "storage or a back end is temporarily unreachable",
            "the server is overloaded or under maintenance",
        ],
        checks: &["retry later", "for administrators: the server log"],
        ..n(
            "SYS/TEMP",
            "temporary server-side error; retry later",
            "A temporary problem of the server system, not of the user or the command.",
        )
    },
    Note {
        causes: &[
            "wrong user name or password",
            "an application password or OAuth is required",
            "POP3 access is disabled for the account",
            "plain-text login is refused without TLS",
        ],
        checks: &[
            "the credentials with another client",
            "STLS before USER/PASS, or implicit TLS on port 995",
            "whether POP3 is enabled for the account",
        ],
        ..n(
            "AUTH",
            "authentication failed",
            "The failure is about the credentials, not the system: wrong user name or \
             password, or this account may not log in this way.",
        )
    },
    n(
        "UTF8",
        "needs UTF-8 mode",
        "The message contains UTF-8 that needs UTF-8 mode: send the UTF8 command first.",
    ),
];
