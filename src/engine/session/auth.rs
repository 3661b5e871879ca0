//! Authentication: SASL (`AUTH` / `AUTHENTICATE`), IMAP `LOGIN`, POP3 `USER`/`PASS` and `APOP`.
//!
//! Every line goes through the protocol machine, so secrets are shown as `<redacted>` in the
//! `Sent` events and the machine's mode (SASL response, continuation) stays right. Challenges are
//! shown decoded as `Info` events. Credentials that travel in cleartext (PLAIN, LOGIN, XOAUTH2,
//! OAUTHBEARER, IMAP `LOGIN`, POP3 `USER`/`PASS`) are refused on a connection without TLS unless
//! the caller allows it or the server is on loopback (security.md item 18); in that case nothing
//! is sent.

use std::fmt;

use super::{Session, SessionError, Sink};
use crate::engine::event::EventKind;
use crate::proto::imap::syntax::command_pieces;
use crate::proto::sasl::{self, Client, Credentials, Mechanism, SaslError};
use crate::proto::{
    Capabilities, CommandError, Credential, InputMode, Outcome, ProtoError, Protocol, Reply,
};
use crate::secret::wipe;

/// How to authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// A SASL mechanism: SMTP/LMTP `AUTH`, IMAP `AUTHENTICATE`, POP3 `AUTH`.
    Sasl(Mechanism),
    /// The IMAP `LOGIN` command.
    ImapLogin,
    /// POP3 `USER` then `PASS`.
    Pop3User,
    /// POP3 `APOP` (MD5 digest of the greeting's timestamp and the password).
    Apop,
}

impl AuthMethod {
    /// The name [`parse_method`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Sasl(m) => m.name(),
            AuthMethod::ImapLogin => "IMAP-LOGIN",
            AuthMethod::Pop3User => "USER",
            AuthMethod::Apop => "APOP",
        }
    }

    /// How the credentials of this method travel.
    pub fn credential(self) -> Credential {
        match self {
            AuthMethod::Sasl(m) => Credential::Sasl(Some(m)),
            AuthMethod::ImapLogin => Credential::ImapLogin,
            AuthMethod::Pop3User => Credential::Pop3Pass,
            AuthMethod::Apop => Credential::Apop,
        }
    }

    /// Whether the password (or token) itself travels, so that only TLS protects it.
    pub fn sends_cleartext(self) -> bool {
        self.credential().cleartext()
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`Session::authenticate`] is asked to do.
#[derive(Clone, Debug)]
pub struct AuthRequest {
    /// `None`: the strongest method the server offers (see [`choose_method`]).
    pub method: Option<AuthMethod>,
    pub creds: Credentials,
    /// Send cleartext credentials over a connection without TLS (`--allow-plaintext-auth`).
    pub allow_plaintext: bool,
}

/// How the server answered. A refusal is data, not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The server accepted the credentials (and, for SCRAM, proved it knows the password).
    Success(Reply),
    /// The server refused (SMTP 4xx/5xx, IMAP NO/BAD, POP3 -ERR).
    Failure(Reply),
}

impl AuthOutcome {
    pub fn reply(&self) -> &Reply {
        match self {
            AuthOutcome::Success(r) | AuthOutcome::Failure(r) => r,
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, AuthOutcome::Success(_))
    }
}

/// The mechanisms chosen automatically, strongest first. XOAUTH2 and OAUTHBEARER need a token
/// rather than a password, so they are used only when asked for.
const AUTO_ORDER: [Mechanism; 5] = [
    Mechanism::ScramSha256,
    Mechanism::ScramSha1,
    Mechanism::CramMd5,
    Mechanism::Plain,
    Mechanism::Login,
];

/// At most this many challenges are answered in one exchange.
const MAX_ROUNDS: usize = 16;

/// A method by name (case-insensitive): the SASL mechanisms (`PLAIN`, `LOGIN`, `CRAM-MD5`,
/// `XOAUTH2`, `OAUTHBEARER`, `SCRAM-SHA-1`, `SCRAM-SHA-256`), `IMAP-LOGIN` (the IMAP `LOGIN`
/// command), `USER` (POP3 `USER`/`PASS`) and `APOP`.
pub fn parse_method(name: &str) -> Option<AuthMethod> {
    if let Some(m) = Mechanism::parse(name) {
        return Some(AuthMethod::Sasl(m));
    }
    [
        AuthMethod::ImapLogin,
        AuthMethod::Pop3User,
        AuthMethod::Apop,
    ]
    .into_iter()
    .find(|m| m.name().eq_ignore_ascii_case(name))
}

/// The method to use. A requested method is checked against the protocol only (a SASL mechanism
/// the server does not advertise is still tried; [`Session::authenticate`] warns about it).
/// Without a request: the strongest advertised SASL mechanism among SCRAM-SHA-256,
/// SCRAM-SHA-1, CRAM-MD5, PLAIN and LOGIN; when there is none, IMAP `LOGIN` (unless the server
/// advertises LOGINDISABLED) or POP3 `USER`/`PASS`.
pub fn choose_method(
    protocol: Protocol,
    caps: &Capabilities,
    requested: Option<AuthMethod>,
) -> Result<AuthMethod, String> {
    if let Some(m) = requested {
        return match (m, protocol) {
            (AuthMethod::Sasl(_), _)
            | (AuthMethod::ImapLogin, Protocol::Imap)
            | (AuthMethod::Pop3User | AuthMethod::Apop, Protocol::Pop3) => Ok(m),
            _ => Err(format!("{m} is not a {protocol} authentication method")),
        };
    }
    let advertised = caps.auth_mechanisms();
    if let Some(m) = AUTO_ORDER
        .into_iter()
        .find(|m| advertised.iter().any(|a| a == m.name()))
    {
        return Ok(AuthMethod::Sasl(m));
    }
    match protocol {
        Protocol::Imap if caps.has("LOGINDISABLED") => Err(format!(
            "the server advertises LOGINDISABLED and {}; choose a mechanism explicitly",
            no_supported(&advertised)
        )),
        Protocol::Imap => Ok(AuthMethod::ImapLogin),
        Protocol::Pop3 => Ok(AuthMethod::Pop3User),
        Protocol::Smtp | Protocol::Lmtp => Err(format!(
            "the server {}; choose a mechanism explicitly",
            no_supported(&advertised)
        )),
    }
}

/// Why authenticating cannot work on this connection as it is, before anything is sent: no
/// AUTH offered (or only after STARTTLS), IMAP LOGINDISABLED without a mechanism.
fn nothing_offered(
    protocol: Protocol,
    caps: &Capabilities,
    requested: Option<AuthMethod>,
    tls: bool,
) -> Option<String> {
    let sasl = caps.auth_mechanisms();
    let starttls_first = !tls && caps.has(protocol.starttls_verb());
    let after_starttls = || {
        format!(
            "; it offers {} first, and most servers offer authentication only after it: use \
             :starttls (or --starttls), then authenticate",
            protocol.starttls_verb()
        )
    };
    match (protocol, requested) {
        (Protocol::Smtp | Protocol::Lmtp, _) if sasl.is_empty() => Some(if starttls_first {
            format!(
                "the server offers no AUTH here (no AUTH in its EHLO reply){}",
                after_starttls()
            )
        } else {
            "the server offers no AUTH here (no AUTH in its EHLO reply): this port may not take \
             authentication (submission is port 587 with STARTTLS, or 465)"
                .to_string()
        }),
        (Protocol::Imap, None | Some(AuthMethod::ImapLogin))
            if caps.has("LOGINDISABLED") && sasl.is_empty() =>
        {
            Some(if starttls_first {
                format!(
                    "the server disables LOGIN here (LOGINDISABLED){}",
                    after_starttls()
                )
            } else {
                "the server disables LOGIN (LOGINDISABLED) and offers no SASL mechanism".to_string()
            })
        }
        (Protocol::Imap | Protocol::Pop3, Some(AuthMethod::Sasl(m)))
            if sasl.is_empty() && starttls_first =>
        {
            Some(format!(
                "the server offers no SASL mechanism here, so {m} cannot work{}",
                after_starttls()
            ))
        }
        _ => None,
    }
}

fn no_supported(advertised: &[String]) -> String {
    if advertised.is_empty() {
        "advertises no SASL mechanism".to_string()
    } else {
        format!(
            "advertises no password mechanism mailtalk chooses by itself (only {})",
            advertised.join(" ")
        )
    }
}

/// The cleartext policy (security.md item 18): a method that sends the password itself is
/// refused on a connection without TLS unless `allow` is set or `host` is a loopback address.
pub fn check_plaintext_policy(
    method: AuthMethod,
    tls: bool,
    host: &str,
    allow: bool,
) -> Result<(), String> {
    cleartext_policy(method.sends_cleartext(), method.name(), tls, host, allow)
}

/// The cleartext policy for credentials in a line the user typed (IMAP `LOGIN`, POP3 `PASS`,
/// `AUTH`/`AUTHENTICATE` with a mechanism: their SASL responses follow the command, so refusing
/// the command keeps them off the wire too).
pub fn check_typed_credentials(
    cred: Credential,
    tls: bool,
    host: &str,
    allow: bool,
) -> Result<(), String> {
    let what = match cred {
        Credential::Sasl(Some(m)) => m.name(),
        Credential::Sasl(None) => "these",
        Credential::ImapLogin => "IMAP LOGIN",
        Credential::Pop3Pass => "POP3 PASS",
        Credential::Apop => "APOP",
    };
    cleartext_policy(cred.cleartext(), what, tls, host, allow)
}

/// The one rule behind both: cleartext credentials only over TLS, to loopback, or when allowed.
fn cleartext_policy(
    cleartext: bool,
    what: &str,
    tls: bool,
    host: &str,
    allow: bool,
) -> Result<(), String> {
    if !cleartext || tls || allow || crate::net::is_loopback_host(host) {
        return Ok(());
    }
    Err(format!(
        "refusing to send {what} credentials over a connection without TLS: use STARTTLS or \
         TLS, or --allow-plaintext-auth to send them anyway"
    ))
}

/// The checks of [`Client::validate`] for the methods that are not SASL.
fn validate_plain_creds(method: AuthMethod, creds: &Credentials) -> Result<(), String> {
    if creds.authzid.is_some() {
        return Err(format!(
            "{method} has no authorization identity; use a SASL mechanism such as PLAIN"
        ));
    }
    if method == AuthMethod::Apop && creds.user.bytes().any(|b| b == b' ' || b == b'\t') {
        return Err("invalid credentials: the user name contains a space for APOP".to_string());
    }
    sasl::check_user_and_secret(&creds.user, &creds.secret, method.name(), false)
        .map_err(|e| format!("invalid credentials: {e}"))
}

fn invalid(msg: String) -> SessionError {
    SessionError::Command(CommandError::Invalid(msg))
}

impl Session {
    /// Authenticates with `req`. Returns [`AuthOutcome::Failure`] when the server refuses;
    /// errors are for what could not be done: a refused cleartext method, invalid credentials,
    /// an unsupported method (nothing sent), a malformed challenge or SASL step (the exchange
    /// was cancelled with `*`), a SCRAM server that did not prove it knows the password
    /// ([`SessionError::Proto`]: treat the session as not authenticated), or the connection.
    ///
    /// When no capabilities are known yet, they are asked for first (EHLO/LHLO, CAPABILITY,
    /// CAPA). IMAP `LOGIN` sends its arguments as quoted strings, or as synchronising literals
    /// when they contain 8-bit characters.
    pub fn authenticate(
        &mut self,
        req: &AuthRequest,
        sink: Sink,
    ) -> Result<AuthOutcome, SessionError> {
        self.ready_for_auth()?;
        let protocol = self.protocol();
        if let Some(m) = req.method {
            choose_method(protocol, self.machine.capabilities(), Some(m)).map_err(invalid)?;
            self.check_auth_allowed(m, req)?;
        }
        let method = match req.method {
            Some(m) => {
                self.ensure_capabilities(sink)?;
                m
            }
            None => {
                let m = self.plan_auth(None, req.allow_plaintext, sink)?;
                sink(self.event(EventKind::Info(format!("authenticating with {m}"))));
                self.check_auth_allowed(m, req)?;
                m
            }
        };
        let caps = self.machine.capabilities().clone();
        match method {
            AuthMethod::Sasl(mech) => {
                if !caps.auth_mechanisms().iter().any(|a| a == mech.name()) {
                    sink(self.event(EventKind::Warning(format!(
                        "the server does not advertise the SASL mechanism {mech}; trying anyway"
                    ))));
                }
                self.sasl_exchange(mech, &req.creds, &caps, sink)
            }
            AuthMethod::ImapLogin => {
                if caps.has("LOGINDISABLED") {
                    sink(self.event(EventKind::Warning(
                        "the server advertises LOGINDISABLED; trying LOGIN anyway".to_string(),
                    )));
                }
                self.imap_login(&req.creds, sink)
            }
            AuthMethod::Pop3User => {
                if !caps.is_empty() && !caps.has("USER") {
                    sink(self.event(EventKind::Warning(
                        "the server does not advertise USER; trying anyway".to_string(),
                    )));
                }
                self.pop3_user(&req.creds, sink)
            }
            AuthMethod::Apop => self.apop(&req.creds, sink),
        }
    }

    fn ready_for_auth(&self) -> Result<(), SessionError> {
        if !self.is_open() {
            return Err(SessionError::NotConnected);
        }
        if self.machine.input_mode() != InputMode::Command {
            return Err(invalid(
                "finish the command in progress before authenticating".to_string(),
            ));
        }
        Ok(())
    }

    /// Decides how to authenticate before any secret is asked for: asks for the capabilities
    /// when none are known, says so when the server offers no way to authenticate here (with
    /// the step that would help, such as STARTTLS first), chooses the method and applies the
    /// cleartext policy. Nothing but the capability request is sent.
    pub fn plan_auth(
        &mut self,
        requested: Option<AuthMethod>,
        allow_plaintext: bool,
        sink: Sink,
    ) -> Result<AuthMethod, SessionError> {
        self.ready_for_auth()?;
        let protocol = self.protocol();
        if let Some(m) = requested {
            choose_method(protocol, self.machine.capabilities(), Some(m)).map_err(invalid)?;
        }
        self.ensure_capabilities(sink)?;
        let caps = self.machine.capabilities().clone();
        if let Some(why) = nothing_offered(protocol, &caps, requested, self.is_tls()) {
            return Err(invalid(why));
        }
        let method = choose_method(protocol, &caps, requested).map_err(invalid)?;
        check_plaintext_policy(
            method,
            self.is_tls(),
            &self.opts.target.host,
            allow_plaintext,
        )
        .map_err(invalid)?;
        Ok(method)
    }

    /// The cleartext policy and the credential checks; nothing has been sent when this fails.
    fn check_auth_allowed(
        &self,
        method: AuthMethod,
        req: &AuthRequest,
    ) -> Result<(), SessionError> {
        check_plaintext_policy(
            method,
            self.is_tls(),
            &self.opts.target.host,
            req.allow_plaintext,
        )
        .map_err(invalid)?;
        match method {
            AuthMethod::Sasl(mech) => self
                .sasl_client(mech, &req.creds)
                .validate()
                .map_err(|e| invalid(e.to_string())),
            _ => validate_plain_creds(method, &req.creds).map_err(invalid),
        }
    }

    fn sasl_client(&self, mech: Mechanism, creds: &Credentials) -> Client {
        Client::new(
            mech,
            creds.clone(),
            &self.opts.target.host,
            self.opts.target.port,
        )
    }

    /// Sends a line that may carry a secret through the machine and waits for the reply; the
    /// copies of the line are wiped.
    fn send_secret_line(&mut self, mut line: Vec<u8>, sink: Sink) -> Result<Reply, SessionError> {
        let out = self.machine.command(&line);
        wipe(&mut line);
        let mut out = out?;
        let written = self.write(&out.wire, &out.display, out.secret, false, sink);
        wipe(&mut out.wire);
        written?;
        self.wait(sink)
    }

    fn sasl_exchange(
        &mut self,
        mech: Mechanism,
        creds: &Credentials,
        caps: &Capabilities,
        sink: Sink,
    ) -> Result<AuthOutcome, SessionError> {
        let protocol = self.protocol();
        let mut client = self.sasl_client(mech, creds);
        client.validate().map_err(|e| invalid(e.to_string()))?;
        let mut line = crate::proto::auth_command(protocol, &mech.to_string(), None);
        let ir_allowed = match protocol {
            Protocol::Smtp | Protocol::Lmtp | Protocol::Pop3 => true,
            Protocol::Imap => caps.has("SASL-IR"),
        };
        // An initial response that did not fit on the command line: it answers the server's
        // first (empty) challenge instead.
        let mut held_back: Option<Vec<u8>> = None;
        if ir_allowed && mech.client_first() {
            if let Some(mut ir) = client.initial_response() {
                let encoded = zeroize::Zeroizing::new(sasl::encode_initial(&ir));
                let len = line.len().saturating_add(1).saturating_add(encoded.len());
                if protocol == Protocol::Pop3 && len > crate::proto::POP3_MAX_AUTH_LINE {
                    held_back = Some(std::mem::take(&mut ir));
                } else {
                    wipe(&mut line);
                    line = crate::proto::auth_command(protocol, &mech.to_string(), Some(&encoded));
                }
                wipe(&mut ir);
            }
        }
        let mut reply = self.send_secret_line(line, sink)?;
        let mut rounds = 0usize;
        loop {
            match reply.outcome {
                Outcome::Continue => {}
                Outcome::Ok => {
                    if let Err(e) = client.verify_success(None) {
                        return Err(SessionError::Proto(ProtoError::Violation(format!(
                            "{mech}: {e}"
                        ))));
                    }
                    return Ok(AuthOutcome::Success(reply));
                }
                _ => return Ok(AuthOutcome::Failure(reply)),
            }
            rounds = rounds.saturating_add(1);
            if rounds > MAX_ROUNDS {
                return self.cancel_sasl(
                    format!("more than {MAX_ROUNDS} challenges in one {mech} exchange"),
                    sink,
                );
            }
            let challenge =
                match sasl::decode_challenge(crate::proto::challenge_text(protocol, &reply)) {
                    Ok(c) => c,
                    Err(e) => {
                        let detail = match e {
                            SaslError::BadChallenge(d) => d,
                            other => other.to_string(),
                        };
                        return self
                            .cancel_sasl(format!("invalid base64 challenge ({detail})"), sink);
                    }
                };
            sink(self.event(EventKind::Challenge(challenge.clone())));
            let response = match held_back.take() {
                Some(first) if challenge.is_empty() => Ok(first),
                Some(mut first) => {
                    wipe(&mut first);
                    Err(SaslError::Protocol(format!(
                        "{mech} expects an empty first challenge"
                    )))
                }
                None => client.respond(&challenge),
            };
            let mut response = match response {
                Ok(r) => r,
                Err(e) => return self.cancel_sasl(e.to_string(), sink),
            };
            let encoded = sasl::encode(&response).into_bytes();
            wipe(&mut response);
            reply = self.send_secret_line(encoded, sink)?;
        }
    }

    /// Cancels a SASL exchange with `*`, waits for the server's answer and reports `why`.
    fn cancel_sasl(&mut self, why: String, sink: Sink) -> Result<AuthOutcome, SessionError> {
        self.command_and_wait(b"*", sink)?;
        Err(invalid(format!("{why}; exchange cancelled")))
    }

    /// `LOGIN user password`, each a quoted string or (8-bit) a synchronising literal.
    fn imap_login(&mut self, creds: &Credentials, sink: Sink) -> Result<AuthOutcome, SessionError> {
        let mut pieces = command_pieces(
            "LOGIN",
            &[creds.user.as_bytes(), creds.secret.expose().as_bytes()],
        );
        let last = pieces.len().saturating_sub(1);
        let mut result = None;
        for (i, piece) in pieces.iter_mut().enumerate() {
            let sent = self.send_secret_line(std::mem::take(piece), sink);
            match sent {
                Err(e) => {
                    result = Some(Err(e));
                    break;
                }
                Ok(reply) if i == last => {
                    result = Some(Ok(match reply.outcome {
                        Outcome::Ok => AuthOutcome::Success(reply),
                        _ => AuthOutcome::Failure(reply),
                    }));
                }
                Ok(reply) if reply.outcome != Outcome::Continue => {
                    result = Some(Ok(AuthOutcome::Failure(reply)));
                    break;
                }
                Ok(_) => {}
            }
        }
        for p in pieces.iter_mut() {
            wipe(p);
        }
        result.unwrap_or_else(|| Err(invalid("LOGIN could not be sent".to_string())))
    }

    fn pop3_user(&mut self, creds: &Credentials, sink: Sink) -> Result<AuthOutcome, SessionError> {
        let user = crate::proto::pop3::Command::User(creds.user.clone()).line();
        let reply = self.command_and_wait(&user, sink)?;
        if reply.outcome != Outcome::Ok {
            return Ok(AuthOutcome::Failure(reply));
        }
        let mut pass = crate::proto::pop3::Command::Pass(creds.secret.expose().to_string());
        let line = pass.line();
        if let crate::proto::pop3::Command::Pass(p) = &mut pass {
            zeroize::Zeroize::zeroize(p);
        }
        let reply = self.send_secret_line(line, sink)?;
        Ok(match reply.outcome {
            Outcome::Ok => AuthOutcome::Success(reply),
            _ => AuthOutcome::Failure(reply),
        })
    }

    fn apop(&mut self, creds: &Credentials, sink: Sink) -> Result<AuthOutcome, SessionError> {
        let timestamp = self.machine.apop_timestamp().map(<[u8]>::to_vec);
        let Some(timestamp) = timestamp else {
            return Err(invalid(
                "the server's greeting has no <timestamp>, so APOP is not possible".to_string(),
            ));
        };
        let digest =
            sasl::apop_digest(&timestamp, &creds.secret).map_err(|e| invalid(e.to_string()))?;
        let line = crate::proto::pop3::Command::Apop {
            name: creds.user.clone(),
            digest,
        }
        .line();
        let reply = self.send_secret_line(line, sink)?;
        Ok(match reply.outcome {
            Outcome::Ok => AuthOutcome::Success(reply),
            _ => AuthOutcome::Failure(reply),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::Event;
    use crate::engine::mock::{connect, infos, sent, warnings, Conn, Fake};
    use crate::secret::Secret;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use openssl::hash::{hash, MessageDigest};
    use openssl::pkey::PKey;
    use openssl::sign::Signer;

    fn creds(user: &str, secret: &str) -> Credentials {
        Credentials {
            user: user.into(),
            authzid: None,
            secret: Secret::new(secret.into()),
        }
    }

    fn req(method: Option<AuthMethod>, user: &str, secret: &str) -> AuthRequest {
        AuthRequest {
            method,
            creds: creds(user, secret),
            allow_plaintext: false,
        }
    }

    fn b64(s: &[u8]) -> String {
        STANDARD.encode(s)
    }

    fn caps(items: &[&str]) -> Capabilities {
        Capabilities {
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// No Sent event shows any of `secrets`, and every secret line is flagged.
    fn assert_no_secret(events: &[Event], secrets: &[&str]) {
        for line in sent(events) {
            for s in secrets {
                assert!(!line.contains(s), "secret {s:?} shown in {line:?}");
            }
        }
        for e in events {
            if let EventKind::Sent { .. } = e.kind {
                let dbg = format!("{e:?}");
                for s in secrets {
                    assert!(!dbg.contains(s), "secret {s:?} in {dbg}");
                }
            }
        }
    }

    #[test]
    fn method_names() {
        assert_eq!(
            parse_method("scram-sha-256"),
            Some(AuthMethod::Sasl(Mechanism::ScramSha256))
        );
        assert_eq!(
            parse_method("PLAIN"),
            Some(AuthMethod::Sasl(Mechanism::Plain))
        );
        assert_eq!(
            parse_method("login"),
            Some(AuthMethod::Sasl(Mechanism::Login))
        );
        assert_eq!(parse_method("imap-login"), Some(AuthMethod::ImapLogin));
        assert_eq!(parse_method("USER"), Some(AuthMethod::Pop3User));
        assert_eq!(parse_method("apop"), Some(AuthMethod::Apop));
        assert_eq!(parse_method("GSSAPI"), None);
        assert_eq!(parse_method(""), None);
        for m in [
            AuthMethod::ImapLogin,
            AuthMethod::Pop3User,
            AuthMethod::Apop,
        ] {
            assert_eq!(parse_method(m.name()), Some(m));
        }
        for m in Mechanism::ALL {
            assert_eq!(parse_method(&m.to_string()), Some(AuthMethod::Sasl(m)));
        }
    }

    #[test]
    fn choosing_the_strongest_advertised_mechanism() {
        let pick = |p, items: &[&str]| choose_method(p, &caps(items), None);
        use AuthMethod::Sasl;
        assert_eq!(
            pick(Protocol::Smtp, &["AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1"]),
            Ok(Sasl(Mechanism::ScramSha1))
        );
        assert_eq!(
            pick(
                Protocol::Smtp,
                &["AUTH SCRAM-SHA-1 SCRAM-SHA-256", "AUTH=PLAIN"]
            ),
            Ok(Sasl(Mechanism::ScramSha256))
        );
        assert_eq!(
            pick(Protocol::Smtp, &["AUTH LOGIN PLAIN"]),
            Ok(Sasl(Mechanism::Plain))
        );
        assert_eq!(
            pick(Protocol::Lmtp, &["AUTH LOGIN XOAUTH2"]),
            Ok(Sasl(Mechanism::Login))
        );
        assert_eq!(
            pick(
                Protocol::Imap,
                &["IMAP4rev1", "AUTH=CRAM-MD5", "AUTH=PLAIN"]
            ),
            Ok(Sasl(Mechanism::CramMd5))
        );
        assert_eq!(
            pick(Protocol::Pop3, &["SASL PLAIN", "USER"]),
            Ok(Sasl(Mechanism::Plain))
        );
        // Tokens are never chosen by themselves.
        assert_eq!(
            pick(Protocol::Smtp, &["AUTH XOAUTH2 OAUTHBEARER GSSAPI"]),
            Err(
                "the server advertises no password mechanism mailtalk chooses by itself (only \
                 XOAUTH2 OAUTHBEARER GSSAPI); choose a mechanism explicitly"
                    .into()
            )
        );
        assert_eq!(
            pick(Protocol::Smtp, &["PIPELINING"]),
            Err("the server advertises no SASL mechanism; choose a mechanism explicitly".into())
        );
        // Fallbacks.
        assert_eq!(
            pick(Protocol::Imap, &["IMAP4rev1"]),
            Ok(AuthMethod::ImapLogin)
        );
        assert_eq!(
            pick(Protocol::Imap, &["IMAP4rev1", "AUTH=GSSAPI"]),
            Ok(AuthMethod::ImapLogin)
        );
        assert_eq!(
            pick(Protocol::Imap, &["IMAP4rev1", "LOGINDISABLED"]),
            Err(
                "the server advertises LOGINDISABLED and advertises no SASL mechanism; \
                 choose a mechanism explicitly"
                    .into()
            )
        );
        assert_eq!(pick(Protocol::Pop3, &[]), Ok(AuthMethod::Pop3User));
    }

    #[test]
    fn requested_methods_are_checked_against_the_protocol() {
        let none = caps(&[]);
        let ask = |p, m| choose_method(p, &none, Some(m));
        let xoauth = AuthMethod::Sasl(Mechanism::XOAuth2);
        assert_eq!(ask(Protocol::Smtp, xoauth), Ok(xoauth));
        assert_eq!(
            ask(Protocol::Imap, AuthMethod::ImapLogin),
            Ok(AuthMethod::ImapLogin)
        );
        assert_eq!(ask(Protocol::Pop3, AuthMethod::Apop), Ok(AuthMethod::Apop));
        assert_eq!(
            ask(Protocol::Pop3, AuthMethod::Pop3User),
            Ok(AuthMethod::Pop3User)
        );
        assert_eq!(
            ask(Protocol::Smtp, AuthMethod::ImapLogin),
            Err("IMAP-LOGIN is not a smtp authentication method".into())
        );
        assert_eq!(
            ask(Protocol::Imap, AuthMethod::Apop),
            Err("APOP is not a imap authentication method".into())
        );
        assert!(ask(Protocol::Lmtp, AuthMethod::Pop3User).is_err());
    }

    #[test]
    fn plaintext_policy() {
        let plain = AuthMethod::Sasl(Mechanism::Plain);
        let remote = "mail.example.com";
        for m in [
            plain,
            AuthMethod::Sasl(Mechanism::Login),
            AuthMethod::Sasl(Mechanism::XOAuth2),
            AuthMethod::Sasl(Mechanism::OAuthBearer),
            AuthMethod::ImapLogin,
            AuthMethod::Pop3User,
        ] {
            let err = check_plaintext_policy(m, false, remote, false).unwrap_err();
            assert!(err.contains("--allow-plaintext-auth"), "{err}");
            assert!(err.contains(m.name()), "{err}");
            assert_eq!(check_plaintext_policy(m, true, remote, false), Ok(()));
            assert_eq!(check_plaintext_policy(m, false, remote, true), Ok(()));
            for lo in ["127.0.0.1", "::1", "[::1]", "localhost", "127.8.9.10"] {
                assert_eq!(check_plaintext_policy(m, false, lo, false), Ok(()), "{lo}");
            }
            assert!(check_plaintext_policy(m, false, "10.0.0.1", false).is_err());
        }
        for m in [
            AuthMethod::Sasl(Mechanism::CramMd5),
            AuthMethod::Sasl(Mechanism::ScramSha1),
            AuthMethod::Sasl(Mechanism::ScramSha256),
            AuthMethod::Apop,
        ] {
            assert_eq!(check_plaintext_policy(m, false, remote, false), Ok(()));
        }
    }

    #[test]
    fn plain_credential_checks() {
        let m = AuthMethod::Pop3User;
        assert_eq!(validate_plain_creds(m, &creds("u", "p")), Ok(()));
        assert!(validate_plain_creds(m, &creds("", "p")).is_err());
        assert!(validate_plain_creds(m, &creds("u", "")).is_err());
        assert!(validate_plain_creds(m, &creds("u\r\nDELE 1", "p")).is_err());
        assert!(validate_plain_creds(m, &creds("u", "p\0")).is_err());
        assert_eq!(validate_plain_creds(m, &creds("u v", "p")), Ok(()));
        assert!(validate_plain_creds(AuthMethod::Apop, &creds("u v", "p")).is_err());
        let mut c = creds("u", "p");
        c.authzid = Some("admin".into());
        assert!(validate_plain_creds(AuthMethod::ImapLogin, &c).is_err());
    }

    // ----- end to end -----

    #[test]
    fn smtp_plain_with_initial_response() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 mx ESMTP\r\n");
            c.expect(b"EHLO client.test");
            c.send(b"250-mx\r\n250 AUTH LOGIN PLAIN\r\n");
            c.expect(format!("AUTH PLAIN {}", b64(b"\0alice\0s3cret")).as_bytes());
            c.send(b"235 2.7.0 Authentication successful\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, "alice", "s3cret"), &mut |e| ev.push(e))
            .unwrap();
        assert!(out.is_success());
        assert_eq!(out.reply().code_value(), Some(235));
        drop(s);
        fake.join();
        assert_eq!(sent(&ev), vec!["EHLO client.test", "AUTH PLAIN <redacted>"]);
        assert!(infos(&ev).contains(&"authenticating with PLAIN".to_string()));
        assert_no_secret(&ev, &["s3cret", &b64(b"\0alice\0s3cret")]);
        assert!(ev.iter().any(|e| matches!(
            &e.kind,
            EventKind::Sent { secret: true, display, .. } if display == b"AUTH PLAIN <redacted>"
        )));
    }

    #[test]
    fn imap_plain_without_sasl_ir_waits_for_the_empty_challenge() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
            c.expect(b"A001 AUTHENTICATE PLAIN");
            c.send(b"+ \r\n");
            c.expect(b64(b"\0bob\0pw").as_bytes());
            c.send(b"A001 OK [CAPABILITY IMAP4rev1 IDLE] done\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Imap, &fake, &mut ev);
        let r = req(Some(AuthMethod::Sasl(Mechanism::Plain)), "bob", "pw");
        let out = s.authenticate(&r, &mut |e| ev.push(e)).unwrap();
        assert!(out.is_success());
        assert!(s.capabilities().has("IDLE"));
        fake.join();
        assert_eq!(sent(&ev), vec!["A001 AUTHENTICATE PLAIN", "<redacted>"]);
        assert!(infos(&ev).contains(&"challenge: (empty)".to_string()));
        assert_no_secret(&ev, &[&b64(b"\0bob\0pw")]);
    }

    #[test]
    fn imap_plain_with_sasl_ir() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n");
            c.expect(format!("A001 AUTHENTICATE PLAIN {}", b64(b"\0bob\0pw")).as_bytes());
            c.send(b"A001 NO [AUTHENTICATIONFAILED] wrong\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Imap, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, "bob", "pw"), &mut |e| ev.push(e))
            .unwrap();
        match out {
            AuthOutcome::Failure(r) => assert_eq!(r.outcome, Outcome::No),
            other => panic!("{other:?}"),
        }
        fake.join();
        assert_eq!(sent(&ev), vec!["A001 AUTHENTICATE PLAIN <redacted>"]);
    }

    #[test]
    fn smtp_login_two_steps() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 mx ESMTP\r\n");
            c.expect(b"EHLO client.test");
            c.send(b"250-mx\r\n250 AUTH LOGIN\r\n");
            c.expect(b"AUTH LOGIN");
            c.send(b"334 VXNlcm5hbWU6\r\n");
            c.expect(b64(b"carol").as_bytes());
            c.send(b"334 UGFzc3dvcmQ6\r\n");
            c.expect(b64(b"hunter2").as_bytes());
            c.send(b"535 5.7.8 no\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, "carol", "hunter2"), &mut |e| ev.push(e))
            .unwrap();
        assert_eq!(out.reply().code_value(), Some(535));
        assert!(!out.is_success());
        assert_eq!(s.input_mode(), InputMode::Command);
        fake.join();
        assert_eq!(
            sent(&ev),
            vec!["EHLO client.test", "AUTH LOGIN", "<redacted>", "<redacted>"]
        );
        let infos = infos(&ev);
        assert!(infos.contains(&"challenge: Username:".to_string()));
        assert!(infos.contains(&"challenge: Password:".to_string()));
        assert_no_secret(&ev, &["hunter2", &b64(b"hunter2")]);
    }

    #[test]
    fn pop3_cram_md5_rfc2195() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"+OK ready\r\n");
            c.expect(b"CAPA");
            c.send(b"+OK\r\nSASL CRAM-MD5 PLAIN\r\nUSER\r\n.\r\n");
            c.expect(b"AUTH CRAM-MD5");
            c.send(b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
            c.expect(b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
            c.send(b"+OK maildrop locked\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Pop3, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, "tim", "tanstaaftanstaaf"), &mut |e| ev.push(e))
            .unwrap();
        assert!(out.is_success());
        fake.join();
        assert_eq!(sent(&ev), vec!["CAPA", "AUTH CRAM-MD5", "<redacted>"]);
        assert!(infos(&ev)
            .contains(&"challenge: <1896.697170952@postoffice.reston.mci.net>".to_string()));
        // Not a cleartext method: allowed on a non-loopback host without TLS.
        assert_eq!(
            check_plaintext_policy(
                AuthMethod::Sasl(Mechanism::CramMd5),
                false,
                "pop.example",
                false
            ),
            Ok(())
        );
    }

    /// The server side of SCRAM: checks the client proof and returns server-first and the
    /// server signature for the given client-first message.
    struct ScramServer {
        md: MessageDigest,
        password: &'static str,
        salt: &'static [u8],
        iterations: usize,
        server_nonce: &'static str,
    }

    fn hmac(md: MessageDigest, key: &[u8], data: &[u8]) -> Vec<u8> {
        let pkey = PKey::hmac(key).unwrap();
        let mut s = Signer::new(md, &pkey).unwrap();
        s.update(data).unwrap();
        s.sign_to_vec().unwrap()
    }

    impl ScramServer {
        fn server_first(&self, client_first: &[u8]) -> (String, String) {
            let text = String::from_utf8(client_first.to_vec()).unwrap();
            let bare = text.strip_prefix("n,,").expect("gs2 header").to_string();
            let cnonce = bare.split(",r=").nth(1).unwrap().to_string();
            assert!(cnonce.len() >= 24, "client nonce {cnonce}");
            let first = format!(
                "r={cnonce}{},s={},i={}",
                self.server_nonce,
                b64(self.salt),
                self.iterations
            );
            (bare, first)
        }

        /// Checks client-final; returns server-final (`v=…`) or panics.
        fn server_final(&self, bare: &str, first: &str, client_final: &[u8]) -> String {
            let text = String::from_utf8(client_final.to_vec()).unwrap();
            let (without_proof, proof) = text.split_once(",p=").unwrap();
            let auth_message = format!("{bare},{first},{without_proof}");
            let mut salted = vec![0u8; self.md.size()];
            openssl::pkcs5::pbkdf2_hmac(
                self.password.as_bytes(),
                self.salt,
                self.iterations,
                self.md,
                &mut salted,
            )
            .unwrap();
            let client_key = hmac(self.md, &salted, b"Client Key");
            let stored = hash(self.md, &client_key).unwrap();
            let sig = hmac(self.md, &stored, auth_message.as_bytes());
            let want: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
            assert_eq!(STANDARD.decode(proof).unwrap(), want, "client proof");
            let server_key = hmac(self.md, &salted, b"Server Key");
            let server_sig = hmac(self.md, &server_key, auth_message.as_bytes());
            format!("v={}", b64(&server_sig))
        }
    }

    fn scram_server() -> ScramServer {
        ScramServer {
            md: MessageDigest::sha256(),
            password: "pencil",
            salt: b"known salt 16byt",
            iterations: 4096,
            server_nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        }
    }

    #[test]
    fn smtp_scram_sha256_server_final_as_challenge() {
        let fake = Fake::start(|c: &mut Conn| {
            let scram = scram_server();
            c.send(b"220 mx ESMTP\r\n");
            c.expect(b"EHLO client.test");
            c.send(b"250-mx\r\n250 AUTH PLAIN SCRAM-SHA-256\r\n");
            let line = c.line();
            let ir = line.strip_prefix(b"AUTH SCRAM-SHA-256 ").expect("IR");
            let client_first = STANDARD.decode(ir).unwrap();
            let (bare, first) = scram.server_first(&client_first);
            c.send(format!("334 {}\r\n", b64(first.as_bytes())).as_bytes());
            let client_final = STANDARD.decode(c.line()).unwrap();
            let fin = scram.server_final(&bare, &first, &client_final);
            c.send(format!("334 {}\r\n", b64(fin.as_bytes())).as_bytes());
            c.expect(b"");
            c.send(b"235 2.7.0 ok\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, "user", "pencil"), &mut |e| ev.push(e))
            .unwrap();
        assert!(out.is_success());
        fake.join();
        assert_eq!(
            sent(&ev),
            vec![
                "EHLO client.test",
                "AUTH SCRAM-SHA-256 <redacted>",
                "<redacted>",
                "<redacted>"
            ]
        );
        let infos = infos(&ev);
        assert!(infos
            .iter()
            .any(|i| i.starts_with("challenge: r=")
                && i.ends_with(",s=a25vd24gc2FsdCAxNmJ5dA==,i=4096")));
        assert!(infos.iter().any(|i| i.starts_with("challenge: v=")));
        assert_no_secret(&ev, &["pencil"]);
    }

    #[test]
    fn imap_scram_sha256_dovecot_style() {
        let fake = Fake::start(|c: &mut Conn| {
            let scram = scram_server();
            c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256] ready\r\n");
            c.expect(b"A001 AUTHENTICATE SCRAM-SHA-256");
            c.send(b"+ \r\n");
            let client_first = STANDARD.decode(c.line()).unwrap();
            let (bare, first) = scram.server_first(&client_first);
            c.send(format!("+ {}\r\n", b64(first.as_bytes())).as_bytes());
            let client_final = STANDARD.decode(c.line()).unwrap();
            let fin = scram.server_final(&bare, &first, &client_final);
            c.send(format!("+ {}\r\n", b64(fin.as_bytes())).as_bytes());
            c.expect(b"");
            c.send(b"A001 OK Logged in\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Imap, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, "user", "pencil"), &mut |e| ev.push(e))
            .unwrap();
        assert!(out.is_success());
        fake.join();
        assert_no_secret(&ev, &["pencil"]);
    }

    #[test]
    fn scram_success_without_server_proof_is_an_error() {
        let fake = Fake::start(|c: &mut Conn| {
            let scram = scram_server();
            c.send(b"220 mx ESMTP\r\n");
            c.expect(b"EHLO client.test");
            c.send(b"250-mx\r\n250 AUTH SCRAM-SHA-256\r\n");
            let line = c.line();
            let ir = line.strip_prefix(b"AUTH SCRAM-SHA-256 ").unwrap();
            let (bare, first) = scram.server_first(&STANDARD.decode(ir).unwrap());
            c.send(format!("334 {}\r\n", b64(first.as_bytes())).as_bytes());
            let client_final = STANDARD.decode(c.line()).unwrap();
            scram.server_final(&bare, &first, &client_final);
            // Success without the server signature: an impostor that accepts anything.
            c.send(b"235 2.7.0 ok\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let err = s
            .authenticate(&req(None, "user", "pencil"), &mut |e| ev.push(e))
            .unwrap_err();
        assert!(matches!(err, SessionError::Proto(_)), "{err}");
        assert!(
            err.to_string()
                .contains("the server did not prove it knows the password"),
            "{err}"
        );
        fake.join();
    }

    #[test]
    fn scram_wrong_server_signature_cancels() {
        let fake = Fake::start(|c: &mut Conn| {
            let scram = scram_server();
            c.send(b"220 mx ESMTP\r\n");
            c.expect(b"EHLO client.test");
            c.send(b"250-mx\r\n250 AUTH SCRAM-SHA-256\r\n");
            let line = c.line();
            let ir = line.strip_prefix(b"AUTH SCRAM-SHA-256 ").unwrap();
            let (_, first) = scram.server_first(&STANDARD.decode(ir).unwrap());
            c.send(format!("334 {}\r\n", b64(first.as_bytes())).as_bytes());
            c.line();
            let wrong = format!("v={}", b64(&[7u8; 32]));
            c.send(format!("334 {}\r\n", b64(wrong.as_bytes())).as_bytes());
            c.expect(b"*");
            c.send(b"501 5.7.0 cancelled\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let err = s
            .authenticate(&req(None, "user", "pencil"), &mut |e| ev.push(e))
            .unwrap_err();
        assert!(
            err.to_string().contains("server signature") && err.to_string().contains("cancelled"),
            "{err}"
        );
        assert!(!err.is_fatal());
        assert_eq!(s.input_mode(), InputMode::Command);
        fake.join();
        assert_eq!(sent(&ev).last().map(String::as_str), Some("*"));
    }

    #[test]
    fn invalid_base64_challenge_is_cancelled() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 mx ESMTP\r\n");
            c.expect(b"EHLO client.test");
            c.send(b"250-mx\r\n250 AUTH CRAM-MD5\r\n");
            c.expect(b"AUTH CRAM-MD5");
            c.send(b"334 not*base64!\r\n");
            c.expect(b"*");
            c.send(b"501 5.7.0 Authentication aborted\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let err = s
            .authenticate(&req(None, "u", "p"), &mut |e| ev.push(e))
            .unwrap_err();
        match &err {
            SessionError::Command(CommandError::Invalid(msg)) => {
                assert!(msg.starts_with("invalid base64 challenge ("), "{msg}");
                assert!(msg.ends_with("; exchange cancelled"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.input_mode(), InputMode::Command);
        assert_eq!(s.last_reply().and_then(|r| r.code_value()), Some(501));
        fake.join();
        assert_eq!(sent(&ev), vec!["EHLO client.test", "AUTH CRAM-MD5", "*"]);
    }

    #[test]
    fn imap_login_quotes_arguments() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"* OK [CAPABILITY IMAP4rev1] ready\r\n");
            c.expect(br#"A001 LOGIN "d\"q\\s" "p w\"""#);
            c.send(b"A001 OK logged in\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Imap, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, r#"d"q\s"#, "p w\""), &mut |e| ev.push(e))
            .unwrap();
        assert!(out.is_success());
        fake.join();
        assert_eq!(sent(&ev), vec![r#"A001 LOGIN "d\"q\\s" <redacted>"#]);
        assert!(infos(&ev).contains(&"authenticating with IMAP-LOGIN".to_string()));
    }

    #[test]
    fn imap_login_sends_8bit_as_literals() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"* OK [CAPABILITY IMAP4rev1] ready\r\n");
            c.expect("A001 LOGIN {5}".as_bytes());
            c.send(b"+ go ahead\r\n");
            c.expect(b"j\xc3\xb6rg {9}");
            c.send(b"+ go ahead\r\n");
            c.expect("gehe1m€".as_bytes());
            c.send(b"A001 OK logged in\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Imap, &fake, &mut ev);
        let r = req(Some(AuthMethod::ImapLogin), "jörg", "gehe1m€");
        let out = s.authenticate(&r, &mut |e| ev.push(e)).unwrap();
        assert!(out.is_success());
        fake.join();
        assert_eq!(
            sent(&ev),
            vec!["A001 LOGIN {5}", "<redacted> {9}", "<redacted>"]
        );
        assert_no_secret(&ev, &["gehe1m"]);
    }

    #[test]
    fn imap_login_literal_refused() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"* OK [CAPABILITY IMAP4rev1] ready\r\n");
            c.expect(br#"A001 LOGIN "u" {2}"#);
            c.send(b"A001 BAD no literals\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Imap, &fake, &mut ev);
        let r = req(Some(AuthMethod::ImapLogin), "u", "é");
        let out = s.authenticate(&r, &mut |e| ev.push(e)).unwrap();
        assert_eq!(out.reply().outcome, Outcome::Bad);
        assert_eq!(s.input_mode(), InputMode::Command);
        fake.join();
    }

    #[test]
    fn imap_logindisabled_without_sasl_is_an_error() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED STARTTLS] ready\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Imap, &fake, &mut ev);
        let err = s
            .authenticate(&req(None, "u", "p"), &mut |e| ev.push(e))
            .unwrap_err();
        assert!(err.to_string().contains("LOGINDISABLED"), "{err}");
        fake.join();
    }

    #[test]
    fn pop3_initial_response_too_long_for_the_line_waits_for_the_challenge() {
        let secret = "x".repeat(200);
        let response = b64(format!("\0u\0{secret}").as_bytes());
        let short = b64(b"\0u\0pw");
        let fake = Fake::start(move |c: &mut Conn| {
            c.send(b"+OK ready\r\n");
            c.expect(b"CAPA");
            c.send(b"+OK\r\nSASL PLAIN\r\n.\r\n");
            c.expect(b"AUTH PLAIN");
            c.send(b"+ \r\n");
            c.expect(response.as_bytes());
            c.send(b"-ERR [AUTH] no\r\n");
            c.expect(format!("AUTH PLAIN {short}").as_bytes());
            c.send(b"+OK\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Pop3, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, "u", &"x".repeat(200)), &mut |e| ev.push(e))
            .unwrap();
        assert!(!out.is_success());
        let out = s
            .authenticate(&req(None, "u", "pw"), &mut |e| ev.push(e))
            .unwrap();
        assert!(out.is_success());
        fake.join();
        assert_eq!(
            sent(&ev),
            vec!["CAPA", "AUTH PLAIN", "<redacted>", "AUTH PLAIN <redacted>"]
        );
        assert_no_secret(&ev, &["xxxxxxxx"]);
    }

    #[test]
    fn pop3_user_pass() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"+OK POP3 ready\r\n");
            c.expect(b"CAPA");
            c.send(b"-ERR no CAPA\r\n");
            c.expect(b"USER dave");
            c.send(b"+OK\r\n");
            c.expect(b"PASS open sesame");
            c.send(b"+OK 2 messages\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Pop3, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, "dave", "open sesame"), &mut |e| ev.push(e))
            .unwrap();
        assert!(out.is_success());
        fake.join();
        assert_eq!(sent(&ev), vec!["CAPA", "USER dave", "PASS <redacted>"]);
        assert_no_secret(&ev, &["sesame"]);
    }

    #[test]
    fn pop3_user_refused() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"+OK POP3 ready\r\n");
            c.expect(b"CAPA");
            c.send(b"+OK\r\nSASL GSSAPI\r\n.\r\n");
            c.expect(b"USER dave");
            c.send(b"-ERR unknown\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Pop3, &fake, &mut ev);
        let out = s
            .authenticate(&req(None, "dave", "pw"), &mut |e| ev.push(e))
            .unwrap();
        assert_eq!(out.reply().outcome, Outcome::PermFail);
        assert!(!out.is_success());
        fake.join();
        assert_eq!(sent(&ev), vec!["CAPA", "USER dave"]);
        assert_eq!(
            warnings(&ev),
            vec!["the server does not advertise USER; trying anyway"]
        );
    }

    #[test]
    fn pop3_apop_rfc1939() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
            c.expect(b"CAPA");
            c.send(b"+OK\r\nUSER\r\n.\r\n");
            c.expect(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb");
            c.send(b"+OK maildrop has 1 message\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Pop3, &fake, &mut ev);
        let r = req(Some(AuthMethod::Apop), "mrose", "tanstaaf");
        let out = s.authenticate(&r, &mut |e| ev.push(e)).unwrap();
        assert!(out.is_success());
        fake.join();
        assert_eq!(sent(&ev), vec!["CAPA", "APOP mrose <redacted>"]);
    }

    #[test]
    fn apop_without_timestamp_sends_nothing() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"+OK POP3 server ready\r\n");
            c.expect(b"CAPA");
            c.send(b"+OK\r\nUSER\r\n.\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Pop3, &fake, &mut ev);
        let r = req(Some(AuthMethod::Apop), "mrose", "tanstaaf");
        let err = s.authenticate(&r, &mut |e| ev.push(e)).unwrap_err();
        assert!(err.to_string().contains("timestamp"), "{err}");
        fake.join();
    }

    #[test]
    fn cleartext_refused_for_a_remote_host_sends_nothing() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 mx ESMTP\r\n");
            c.expect(b"EHLO client.test");
            c.send(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        // The policy looks at the target's host name, not at the address connected to.
        s.opts.target.host = "mail.example.com".into();
        // Requested method: refused before anything is sent (the EHLO below is the test's).
        let r = req(Some(AuthMethod::Sasl(Mechanism::Plain)), "u", "p");
        let err = s.authenticate(&r, &mut |e| ev.push(e)).unwrap_err();
        assert!(err.to_string().contains("--allow-plaintext-auth"), "{err}");
        assert!(!err.is_fatal());
        assert!(sent(&ev).is_empty());
        // Chosen method: the capabilities are learned, then PLAIN is refused.
        let err = s
            .authenticate(&req(None, "u", "p"), &mut |e| ev.push(e))
            .unwrap_err();
        assert!(err.to_string().contains("refusing to send PLAIN"), "{err}");
        assert_eq!(sent(&ev), vec!["EHLO client.test"]);
        fake.join();
    }

    #[test]
    fn cleartext_allowed_when_asked() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 mx ESMTP\r\n");
            c.expect(b"EHLO client.test");
            c.send(b"250-mx\r\n250 AUTH PLAIN\r\n");
            c.expect(format!("AUTH PLAIN {}", b64(b"\0u\0p")).as_bytes());
            c.send(b"235 ok\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        s.opts.target.host = "mail.example.com".into();
        let mut r = req(None, "u", "p");
        r.allow_plaintext = true;
        assert!(s
            .authenticate(&r, &mut |e| ev.push(e))
            .unwrap()
            .is_success());
        fake.join();
    }

    #[test]
    fn invalid_credentials_send_nothing() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n");
            c.silent();
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Imap, &fake, &mut ev);
        for r in [
            req(
                Some(AuthMethod::Sasl(Mechanism::Plain)),
                "u\r\nA2 LOGOUT",
                "p",
            ),
            req(Some(AuthMethod::Sasl(Mechanism::Plain)), "u", ""),
            req(Some(AuthMethod::ImapLogin), "u", "p\nx"),
            req(Some(AuthMethod::Apop), "u", "p"),
            req(None, "", "p"),
        ] {
            let err = s.authenticate(&r, &mut |e| ev.push(e)).unwrap_err();
            assert!(matches!(err, SessionError::Command(_)), "{err}");
        }
        assert!(sent(&ev).is_empty());
        fake.join();
    }

    #[test]
    fn unadvertised_mechanism_is_tried_with_a_warning() {
        let fake = Fake::start(|c: &mut Conn| {
            c.send(b"220 mx ESMTP\r\n");
            c.expect(b"EHLO client.test");
            c.send(b"250-mx\r\n250 AUTH PLAIN\r\n");
            c.expect(
                format!("AUTH XOAUTH2 {}", b64(b"user=u\x01auth=Bearer tok\x01\x01")).as_bytes(),
            );
            c.send(b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n");
            c.expect(b"");
            c.send(b"535 5.7.8 bad token\r\n");
        });
        let mut ev = Vec::new();
        let mut s = connect(Protocol::Smtp, &fake, &mut ev);
        let r = req(Some(AuthMethod::Sasl(Mechanism::XOAuth2)), "u", "tok");
        let out = s.authenticate(&r, &mut |e| ev.push(e)).unwrap();
        assert_eq!(out.reply().code_value(), Some(535));
        fake.join();
        assert_eq!(
            warnings(&ev),
            vec!["the server does not advertise the SASL mechanism XOAUTH2; trying anyway"]
        );
        assert!(infos(&ev).contains(&"challenge: {\"status\":\"401\"}".to_string()));
        assert_no_secret(&ev, &["tok"]);
    }

    #[test]
    fn typed_credentials_are_recognised() {
        use super::super::{check_plaintext_policy, AuthMethod};
        use crate::proto::sasl::Mechanism;
        use crate::proto::{classify, LineContext, Protocol};
        let t =
            |p: Protocol, line: &str| classify(&LineContext::new(p), line.as_bytes()).credentials;
        assert_eq!(
            t(Protocol::Imap, "a1 LOGIN u p"),
            Some(Credential::ImapLogin)
        );
        assert_eq!(t(Protocol::Imap, "login u p"), Some(Credential::ImapLogin));
        assert_eq!(
            t(Protocol::Imap, "AUTHENTICATE PLAIN"),
            Some(Credential::Sasl(Some(Mechanism::Plain)))
        );
        assert_eq!(t(Protocol::Pop3, "PASS secret"), Some(Credential::Pop3Pass));
        assert_eq!(t(Protocol::Pop3, "USER alice"), None);
        assert_eq!(
            t(Protocol::Smtp, "auth login"),
            Some(Credential::Sasl(Some(Mechanism::Login)))
        );
        assert_eq!(t(Protocol::Smtp, "MAIL FROM:<a@b>"), None);
        assert_eq!(t(Protocol::Smtp, "AUTH"), None);
        // Typed credentials follow the same policy.
        let plain = Credential::Sasl(Some(Mechanism::Plain));
        assert!(check_typed_credentials(plain, false, "mx.example.com", false).is_err());
        assert!(check_typed_credentials(plain, false, "::1", false).is_ok());
        assert!(check_typed_credentials(Credential::Apop, false, "mx.example.com", false).is_ok());
        // What the policy makes of them.
        let m = AuthMethod::Sasl(Mechanism::Plain);
        assert!(check_plaintext_policy(m, false, "mx.example.com", false).is_err());
        assert!(check_plaintext_policy(m, true, "mx.example.com", false).is_ok());
        assert!(check_plaintext_policy(m, false, "127.0.0.1", false).is_ok());
        assert!(check_plaintext_policy(m, false, "mx.example.com", true).is_ok());
        let cram = AuthMethod::Sasl(Mechanism::CramMd5);
        assert!(check_plaintext_policy(cram, false, "mx.example.com", false).is_ok());
    }
}
