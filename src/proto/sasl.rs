//! SASL client mechanisms (RFC 4422) as small state machines without I/O, plus the base64
//! framing used by SMTP `AUTH` (RFC 4954), IMAP `AUTHENTICATE` (RFC 3501) and POP3 `AUTH`
//! (RFC 5034), and the POP3 `APOP` digest (RFC 1939).
//!
//! The caller owns the wire: it sends the mechanism name (with [`encode_initial`] of
//! [`Client::initial_response`] when the protocol allows an initial response), decodes every
//! challenge with [`decode_challenge`], passes it to [`Client::respond`] and sends
//! [`encode`] of the answer. When `decode_challenge` or `respond` fails, the caller cancels
//! the exchange by sending `*` and reports the error. On success it calls
//! [`Client::verify_success`], which is where SCRAM checks that the server knows the password.
//!
//! Everything the server sends is untrusted: challenges are size-checked and parsed without
//! panicking. SCRAM passwords are prepared with SASLprep (RFC 4013, as RFC 5802 asks): a
//! password SASLprep refuses (a prohibited or unassigned character) is used as given, as
//! other clients do, so that the server's own preparation decides.
//!
//! The hashes, HMAC and PBKDF2 come from OpenSSL, which the TLS layer links anyway: one
//! audited implementation of the crypto instead of a second set of crates.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::secret::{wipe, Secret};

/// The largest decoded challenge accepted (the protocols' line limit is 64 KiB of base64).
pub const MAX_CHALLENGE: usize = 64 * 1024;

/// The largest SCRAM iteration count accepted (it is the amount of work the server makes the
/// client do).
pub const MAX_SCRAM_ITERATIONS: u32 = 10_000_000;

/// How many random bytes make a SCRAM client nonce (base64-encoded on the wire).
const NONCE_BYTES: usize = 24;

/// The longest piece of server text quoted in an error.
const MAX_QUOTED: usize = 200;

/// The SASL mechanisms mailtalk can perform as a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    Plain,
    Login,
    CramMd5,
    XOAuth2,
    OAuthBearer,
    ScramSha1,
    ScramSha256,
}

impl Mechanism {
    /// Every mechanism, the strongest password mechanisms first.
    pub const ALL: [Mechanism; 7] = [
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::OAuthBearer,
        Mechanism::XOAuth2,
    ];

    /// The mechanism with this registered name (case-insensitive).
    pub fn parse(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The registered (IANA) name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Whether the client speaks first (the mechanism has an initial response).
    pub fn client_first(self) -> bool {
        matches!(
            self,
            Mechanism::Plain
                | Mechanism::XOAuth2
                | Mechanism::OAuthBearer
                | Mechanism::ScramSha1
                | Mechanism::ScramSha256
        )
    }

    /// Whether the secret itself travels (base64 is not encryption): such a mechanism must only
    /// be used over TLS.
    pub fn plaintext_equivalent(self) -> bool {
        matches!(
            self,
            Mechanism::Plain | Mechanism::Login | Mechanism::XOAuth2 | Mechanism::OAuthBearer
        )
    }

    /// Whether the secret is an OAuth 2.0 bearer token rather than a password.
    pub fn uses_token(self) -> bool {
        matches!(self, Mechanism::XOAuth2 | Mechanism::OAuthBearer)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who authenticates, as whom, with what.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The authentication identity (user name; the account for XOAUTH2).
    pub user: String,
    /// The authorization identity, when it differs from `user` (PLAIN, SCRAM, OAUTHBEARER).
    pub authzid: Option<String>,
    /// The password, or the bearer token for XOAUTH2 and OAUTHBEARER.
    pub secret: Secret,
}

/// Why an exchange cannot go on. Server text quoted in a message has its control and
/// non-ASCII bytes written as `\xNN`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The challenge is not valid base64 (or too large); cancel with `*`.
    #[error("the server's challenge is not valid base64: {0}")]
    BadChallenge(String),
    /// The server's message does not follow the mechanism; cancel with `*`.
    #[error("SASL protocol error: {0}")]
    Protocol(String),
    /// SCRAM: the server's final message has no signature, or a wrong one.
    #[error(
        "the server signature is missing or wrong: the server did not prove it knows the password"
    )]
    ServerSignature,
    /// SCRAM: the server ended the exchange with `e=`.
    #[error("the server reported an authentication error: {0}")]
    Server(String),
    /// The user name, authorization identity, secret or host cannot be sent with this
    /// mechanism.
    #[error("invalid credentials: {0}")]
    InvalidCredentials(String),
    /// A cryptographic primitive failed (for example MD5 disabled by a FIPS policy).
    #[error("cryptographic failure: {0}")]
    Crypto(String),
}

impl From<openssl::error::ErrorStack> for SaslError {
    fn from(e: openssl::error::ErrorStack) -> SaslError {
        SaslError::Crypto(e.to_string())
    }
}

/// Decodes a challenge (the text after `334 ` or `+ `, without the line ending). An empty
/// text or `=` is an empty challenge. Anything that is not strict, padded base64 is
/// [`SaslError::BadChallenge`]: the caller must cancel with `*` (never guess).
pub fn decode_challenge(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    if text.is_empty() || text == b"=" {
        return Ok(Vec::new());
    }
    let max_text = (MAX_CHALLENGE / 3).saturating_add(1).saturating_mul(4);
    if text.len() > max_text {
        return Err(SaslError::BadChallenge(format!(
            "{} bytes is longer than the {MAX_CHALLENGE}-byte limit",
            text.len()
        )));
    }
    STANDARD
        .decode(text)
        .map_err(|e| SaslError::BadChallenge(e.to_string()))
}

/// Base64 of a response to a challenge. An empty response encodes as the empty string (an
/// empty line on the wire). For an initial response use [`encode_initial`]: there an empty
/// response must be sent as `=` (RFC 4954 §4, RFC 4959, RFC 5034).
pub fn encode(raw: &[u8]) -> String {
    STANDARD.encode(raw)
}

/// Base64 of an initial response, sent on the same line as the mechanism name; an empty
/// initial response is `=`.
pub fn encode_initial(raw: &[u8]) -> String {
    if raw.is_empty() {
        "=".to_string()
    } else {
        STANDARD.encode(raw)
    }
}

/// The POP3 `APOP` digest (RFC 1939 §7): lowercase hex MD5 of the greeting's timestamp
/// (including `<` and `>`) followed by the secret. Fails only when MD5 is unavailable.
pub fn apop_digest(timestamp: &[u8], secret: &Secret) -> Result<String, SaslError> {
    let mut data = Vec::with_capacity(timestamp.len().saturating_add(secret.len()));
    data.extend_from_slice(timestamp);
    data.extend_from_slice(secret.expose().as_bytes());
    let digest = hash(MessageDigest::md5(), &data);
    wipe(&mut data);
    Ok(hex(&digest?))
}

/// Lower-case hex, as CRAM-MD5 writes its digest.
pub(super) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// A SCRAM password after SASLprep (RFC 4013): mapped and NFKC-normalised; as given when
/// SASLprep refuses it. The copy is wiped when dropped.
pub(super) fn scram_password(password: &str) -> zeroize::Zeroizing<String> {
    let prepared = match stringprep::saslprep(password) {
        Ok(p) => p.into_owned(),
        Err(_) => password.to_string(),
    };
    zeroize::Zeroizing::new(prepared)
}

/// NUL, CR or LF (and ^A in a bearer token's framing): never in a credential.
fn forbidden_in(s: &str, token: bool) -> bool {
    s.bytes()
        .any(|b| matches!(b, 0 | b'\r' | b'\n') || (token && b == 0x01))
}

/// The checks every credential gets, for any method: a user name and a secret, neither empty
/// nor holding NUL, CR or LF (`token`: nor ^A). The error says which, for `method`.
pub fn check_user_and_secret(
    user: &str,
    secret: &Secret,
    method: &str,
    token: bool,
) -> Result<(), String> {
    let why = if user.is_empty() {
        Some(("user name", "is empty"))
    } else if forbidden_in(user, token) {
        Some(("user name", "contains a forbidden control character"))
    } else if secret.is_empty() {
        Some(("secret", "is empty"))
    } else if forbidden_in(secret.expose(), token) {
        Some(("secret", "contains a forbidden control character"))
    } else {
        None
    };
    match why {
        Some((what, why)) => Err(format!("the {what} {why} for {method}")),
        None => Ok(()),
    }
}

fn quote(bytes: &[u8]) -> String {
    crate::excerpt::excerpt(bytes, MAX_QUOTED)
}

/// RFC 5802 `saslname`: `=` as `=3D`, `,` as `=2C`.
pub(super) fn saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

pub(super) fn hmac(md: MessageDigest, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SaslError> {
    let pkey = PKey::hmac(key)?;
    let mut signer = Signer::new(md, &pkey)?;
    signer.update(data)?;
    Ok(signer.sign_to_vec()?)
}

/// Where a client is in its exchange.
#[derive(Debug)]
enum State {
    /// Nothing sent yet.
    Start,
    /// LOGIN: the user name was sent, the password is next.
    LoginUser,
    /// SCRAM: client-first sent; waiting for server-first.
    ScramFirst { gs2_header: String, bare: String },
    /// SCRAM: client-final sent; waiting for server-final (as a challenge or as additional
    /// data with success).
    ScramFinal { server_signature: Vec<u8> },
    /// Everything the client has to send was sent (SCRAM: the server signature was verified).
    Done,
    /// XOAUTH2 / OAUTHBEARER: an error challenge was acknowledged; the server will fail.
    ErrorAcknowledged,
    /// The exchange failed; only cancelling remains.
    Failed,
}

/// One SASL exchange from the client side. It performs no I/O: feed it decoded challenges,
/// send what it returns.
#[derive(Debug)]
pub struct Client {
    mech: Mechanism,
    creds: Credentials,
    host: String,
    port: u16,
    nonce: String,
    /// A problem found before anything was sent (invalid credentials, no randomness).
    problem: Option<SaslError>,
    state: State,
}

impl Client {
    /// A client for `mech`. `host` and `port` are the server's, used by OAUTHBEARER.
    /// Credentials that cannot be sent with this mechanism (see [`Client::validate`]) make
    /// [`Client::initial_response`] return `None` and [`Client::respond`] fail.
    pub fn new(mech: Mechanism, creds: Credentials, host: &str, port: u16) -> Client {
        let mut client = Client {
            mech,
            creds,
            host: host.to_string(),
            port,
            nonce: String::new(),
            problem: None,
            state: State::Start,
        };
        client.problem = client.check_credentials().err();
        if client.problem.is_none() && client.is_scram() {
            let mut bytes = [0u8; NONCE_BYTES];
            match openssl::rand::rand_bytes(&mut bytes) {
                Ok(()) => client.nonce = STANDARD.encode(bytes),
                Err(e) => client.problem = Some(e.into()),
            }
        }
        client
    }

    /// Uses a fixed SCRAM client nonce instead of a random one (for tests and reproducible
    /// transcripts). It must be printable ASCII without `,`.
    pub fn with_nonce(mut self, nonce: String) -> Client {
        let printable = |b: u8| (0x21..=0x7e).contains(&b) && b != b',';
        if nonce.is_empty() || !nonce.bytes().all(printable) {
            self.problem.get_or_insert(SaslError::InvalidCredentials(
                "a SCRAM nonce must be printable ASCII without ','".to_string(),
            ));
        }
        self.nonce = nonce;
        self
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mech
    }

    /// Whether the credentials can be sent with this mechanism. Call it before sending the
    /// `AUTH`/`AUTHENTICATE` command to fail early: NUL, CR and LF are refused everywhere,
    /// the user name must not be empty, the secret must not be empty, and XOAUTH2 and
    /// OAUTHBEARER also refuse `\x01` (their separator), in the host too.
    pub fn validate(&self) -> Result<(), SaslError> {
        match &self.problem {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn check_credentials(&self) -> Result<(), SaslError> {
        let oauth = self.mech.uses_token();
        let name = self.mech.name();
        let bad = |what: &str, why: &str| {
            Err(SaslError::InvalidCredentials(format!(
                "the {what} {why} for {name}"
            )))
        };
        check_user_and_secret(&self.creds.user, &self.creds.secret, name, oauth)
            .map_err(SaslError::InvalidCredentials)?;
        if let Some(authzid) = &self.creds.authzid {
            if forbidden_in(authzid, oauth) {
                return bad(
                    "authorization identity",
                    "contains a forbidden control character",
                );
            }
        }
        if self.mech == Mechanism::OAuthBearer
            && (self.host.is_empty() || forbidden_in(&self.host, oauth))
        {
            return bad("host name", "is empty or contains a control character");
        }
        Ok(())
    }

    fn is_scram(&self) -> bool {
        matches!(self.mech, Mechanism::ScramSha1 | Mechanism::ScramSha256)
    }

    fn digest(&self) -> MessageDigest {
        match self.mech {
            Mechanism::ScramSha1 => MessageDigest::sha1(),
            _ => MessageDigest::sha256(),
        }
    }

    /// The initial response (raw bytes, not base64) of a client-first mechanism, once; `None`
    /// for the other mechanisms, when it was already produced, or when the credentials are
    /// invalid. When the protocol cannot carry an initial response, do not call this: the
    /// server's first (empty) challenge given to [`Client::respond`] produces the same bytes.
    pub fn initial_response(&mut self) -> Option<Vec<u8>> {
        if self.problem.is_some() || !self.mech.client_first() {
            return None;
        }
        if !matches!(self.state, State::Start) {
            return None;
        }
        match self.first_message() {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                self.problem = Some(e);
                self.state = State::Failed;
                None
            }
        }
    }

    /// The first message of a client-first mechanism; moves the state on.
    fn first_message(&mut self) -> Result<Vec<u8>, SaslError> {
        let user = &self.creds.user;
        let secret = self.creds.secret.expose();
        let out = match self.mech {
            Mechanism::Plain => {
                let authzid = self.creds.authzid.as_deref().unwrap_or("");
                let mut v = Vec::with_capacity(
                    authzid
                        .len()
                        .saturating_add(user.len())
                        .saturating_add(secret.len())
                        .saturating_add(2),
                );
                v.extend_from_slice(authzid.as_bytes());
                v.push(0);
                v.extend_from_slice(user.as_bytes());
                v.push(0);
                v.extend_from_slice(secret.as_bytes());
                self.state = State::Done;
                v
            }
            Mechanism::XOAuth2 => {
                self.state = State::Done;
                format!("user={user}\x01auth=Bearer {secret}\x01\x01").into_bytes()
            }
            Mechanism::OAuthBearer => {
                let authzid = saslname(self.creds.authzid.as_deref().unwrap_or(user));
                self.state = State::Done;
                format!(
                    "n,a={authzid},\x01host={}\x01port={}\x01auth=Bearer {secret}\x01\x01",
                    self.host, self.port
                )
                .into_bytes()
            }
            Mechanism::ScramSha1 | Mechanism::ScramSha256 => {
                let gs2_header = match &self.creds.authzid {
                    Some(a) => format!("n,a={},", saslname(a)),
                    None => "n,,".to_string(),
                };
                let bare = format!("n={},r={}", saslname(user), self.nonce);
                let msg = format!("{gs2_header}{bare}").into_bytes();
                self.state = State::ScramFirst { gs2_header, bare };
                msg
            }
            Mechanism::Login | Mechanism::CramMd5 => {
                return Err(SaslError::Protocol(format!(
                    "{} has no initial response",
                    self.mech
                )))
            }
        };
        Ok(out)
    }

    /// Answers one challenge (already base64-decoded) with raw response bytes (base64-encode
    /// them with [`encode`]). An error means the exchange cannot go on: cancel with `*`.
    ///
    /// - PLAIN, XOAUTH2, OAUTHBEARER, SCRAM: a challenge before anything was sent (an empty
    ///   `334 `/`+ `) is answered with the initial response.
    /// - LOGIN: the first challenge gets the user name, the second the password (the prompt
    ///   texts are not checked).
    /// - CRAM-MD5: `user SP hex(HMAC-MD5(secret, challenge))`.
    /// - XOAUTH2: a challenge after the initial response is a JSON error; answered with an
    ///   empty response (the server then fails the exchange). OAUTHBEARER answers it with
    ///   `\x01` (RFC 7628 §3.2.3).
    /// - SCRAM: server-first gets client-final; server-final (`v=`) is verified and answered
    ///   with an empty response; `e=` is [`SaslError::Server`].
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        if let Some(e) = &self.problem {
            return Err(e.clone());
        }
        if challenge.len() > MAX_CHALLENGE {
            self.state = State::Failed;
            return Err(SaslError::Protocol(format!(
                "the challenge is longer than {MAX_CHALLENGE} bytes"
            )));
        }
        let result = self.step(challenge);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn step(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        match (self.mech, state) {
            (Mechanism::Login, State::Start) => {
                self.state = State::LoginUser;
                Ok(self.creds.user.as_bytes().to_vec())
            }
            (Mechanism::Login, State::LoginUser) => {
                self.state = State::Done;
                Ok(self.creds.secret.expose().as_bytes().to_vec())
            }
            (Mechanism::CramMd5, State::Start) => {
                if challenge.is_empty() {
                    return Err(SaslError::Protocol(
                        "the CRAM-MD5 challenge is empty".to_string(),
                    ));
                }
                let mac = hmac(
                    MessageDigest::md5(),
                    self.creds.secret.expose().as_bytes(),
                    challenge,
                )?;
                self.state = State::Done;
                Ok(format!("{} {}", self.creds.user, hex(&mac)).into_bytes())
            }
            (_, State::Start) => self.first_message(),
            (Mechanism::XOAuth2, State::Done) => {
                self.state = State::ErrorAcknowledged;
                Ok(Vec::new())
            }
            (Mechanism::OAuthBearer, State::Done) => {
                self.state = State::ErrorAcknowledged;
                Ok(vec![0x01])
            }
            (_, State::ScramFirst { gs2_header, bare }) => {
                let (msg, server_signature) = self.client_final(&gs2_header, &bare, challenge)?;
                self.state = State::ScramFinal { server_signature };
                Ok(msg)
            }
            (_, State::ScramFinal { server_signature }) => {
                check_server_final(challenge, &server_signature)?;
                self.state = State::Done;
                Ok(Vec::new())
            }
            (_, State::Failed) => Err(SaslError::Protocol(
                "the exchange has already failed".to_string(),
            )),
            (_, State::Done | State::ErrorAcknowledged | State::LoginUser) => {
                Err(SaslError::Protocol(format!(
                    "unexpected challenge after the last {} message: \"{}\"",
                    self.mech,
                    quote(challenge)
                )))
            }
        }
    }

    /// SCRAM: parses server-first and builds client-final; returns it with the expected
    /// server signature.
    fn client_final(
        &self,
        gs2_header: &str,
        bare: &str,
        server_first: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), SaslError> {
        let first = parse_server_first(server_first, &self.nonce)?;
        let md = self.digest();
        let without_proof = format!(
            "c={},r={}",
            STANDARD.encode(gs2_header.as_bytes()),
            first.nonce
        );
        let mut auth_message = Vec::with_capacity(
            bare.len()
                .saturating_add(server_first.len())
                .saturating_add(without_proof.len())
                .saturating_add(2),
        );
        auth_message.extend_from_slice(bare.as_bytes());
        auth_message.push(b',');
        auth_message.extend_from_slice(server_first);
        auth_message.push(b',');
        auth_message.extend_from_slice(without_proof.as_bytes());

        let mut salted = vec![0u8; md.size()];
        let iterations = usize::try_from(first.iterations)
            .map_err(|_| SaslError::Protocol("iteration count too large".to_string()))?;
        let prepared = scram_password(self.creds.secret.expose());
        openssl::pkcs5::pbkdf2_hmac(
            prepared.as_bytes(),
            &first.salt,
            iterations,
            md,
            &mut salted,
        )?;
        let keys = (|| -> Result<(Vec<u8>, Vec<u8>), SaslError> {
            let mut client_key = hmac(md, &salted, b"Client Key")?;
            let stored_key = hash(md, &client_key)?;
            let client_signature = hmac(md, &stored_key, &auth_message)?;
            let proof: Vec<u8> = client_key
                .iter()
                .zip(client_signature.iter())
                .map(|(k, s)| k ^ s)
                .collect();
            wipe(&mut client_key);
            let server_key = hmac(md, &salted, b"Server Key")?;
            let server_signature = hmac(md, &server_key, &auth_message)?;
            Ok((proof, server_signature))
        })();
        wipe(&mut salted);
        let (proof, server_signature) = keys?;
        let msg = format!("{without_proof},p={}", STANDARD.encode(&proof)).into_bytes();
        Ok((msg, server_signature))
    }

    /// Whether the client has sent everything it has to send, so that a success reply is an
    /// acceptable outcome. For SCRAM this is true once client-final was sent; the server
    /// signature still has to be checked with [`Client::verify_success`].
    pub fn is_complete(&self) -> bool {
        matches!(
            self.state,
            State::Done | State::ErrorAcknowledged | State::ScramFinal { .. }
        )
    }

    /// Call when the server reported success, with the success reply's additional data if
    /// it carried any (already base64-decoded). For SCRAM the server must have proven that it
    /// knows the password: either server-final was already verified as a challenge, or
    /// `additional_data` is a server-final whose `v=` matches. A missing or wrong signature is
    /// [`SaslError::ServerSignature`]; treat the session as not authenticated. Other
    /// mechanisms have nothing to verify (additional data is ignored).
    pub fn verify_success(&self, additional_data: Option<&[u8]>) -> Result<(), SaslError> {
        if !self.is_scram() {
            return Ok(());
        }
        match (&self.state, additional_data) {
            (State::ScramFinal { server_signature }, Some(data)) => {
                check_server_final(data, server_signature)
            }
            (State::Done, None) => Ok(()),
            // Already verified as a challenge: no second server-final is expected, but an
            // empty one is harmless.
            (State::Done, Some([])) => Ok(()),
            (State::Done, Some(_)) => Err(SaslError::Protocol(
                "a second server-final message after the server signature".to_string(),
            )),
            _ => Err(SaslError::ServerSignature),
        }
    }
}

/// The parts of a SCRAM server-first message.
struct ServerFirst {
    nonce: String,
    salt: Vec<u8>,
    iterations: u32,
}

/// Splits a SCRAM message into `(attribute, value)` pairs; attributes are single letters.
fn attributes(msg: &[u8]) -> Result<Vec<(u8, &[u8])>, SaslError> {
    msg.split(|&b| b == b',')
        .map(|part| match part {
            [name, b'=', value @ ..] if name.is_ascii_alphabetic() => Ok((*name, value)),
            _ => Err(SaslError::Protocol(format!(
                "malformed SCRAM attribute \"{}\"",
                quote(part)
            ))),
        })
        .collect()
}

fn parse_server_first(msg: &[u8], client_nonce: &str) -> Result<ServerFirst, SaslError> {
    if let Some(rest) = msg.strip_prefix(b"e=") {
        return Err(SaslError::Server(quote(rest)));
    }
    let attrs = attributes(msg)?;
    let mut it = attrs.into_iter();
    let missing =
        |what: &str| SaslError::Protocol(format!("server-first has no {what}: \"{}\"", quote(msg)));
    let nonce = match it.next() {
        Some((b'r', v)) => v,
        Some((b'm', _)) => {
            return Err(SaslError::Protocol(
                "server-first requires an unsupported extension (m=)".to_string(),
            ))
        }
        _ => return Err(missing("nonce (r=)")),
    };
    let salt = match it.next() {
        Some((b's', v)) => v,
        _ => return Err(missing("salt (s=)")),
    };
    let iterations = match it.next() {
        Some((b'i', v)) => v,
        _ => return Err(missing("iteration count (i=)")),
    };
    // Further attributes are extensions, ignored (RFC 5802 §7).

    if !nonce.starts_with(client_nonce.as_bytes()) {
        return Err(SaslError::Protocol(format!(
            "the server nonce does not start with the client nonce: \"{}\"",
            quote(nonce)
        )));
    }
    if !nonce.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(SaslError::Protocol(format!(
            "the server nonce has non-printable characters: \"{}\"",
            quote(nonce)
        )));
    }
    let nonce = String::from_utf8_lossy(nonce).into_owned();
    let salt = STANDARD
        .decode(salt)
        .map_err(|e| SaslError::Protocol(format!("the salt is not valid base64: {e}")))?;
    if salt.is_empty() {
        return Err(SaslError::Protocol("the salt is empty".to_string()));
    }
    let iterations = parse_iterations(iterations)?;
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

fn parse_iterations(text: &[u8]) -> Result<u32, SaslError> {
    let bad = || {
        SaslError::Protocol(format!(
            "the iteration count \"{}\" is not between 1 and {MAX_SCRAM_ITERATIONS}",
            quote(text)
        ))
    };
    if text.is_empty() || text.len() > 10 || !text.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let n = std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<u32>().ok());
    match n {
        Some(n) if (1..=MAX_SCRAM_ITERATIONS).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

/// Checks a SCRAM server-final message against the expected server signature.
fn check_server_final(msg: &[u8], expected: &[u8]) -> Result<(), SaslError> {
    if let Some(rest) = msg.strip_prefix(b"e=") {
        let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        return Err(SaslError::Server(quote(rest.get(..end).unwrap_or(rest))));
    }
    let attrs = attributes(msg).map_err(|_| SaslError::ServerSignature)?;
    let verifier = match attrs.first() {
        Some((b'v', v)) => *v,
        _ => return Err(SaslError::ServerSignature),
    };
    let got = STANDARD
        .decode(verifier)
        .map_err(|_| SaslError::ServerSignature)?;
    if got.len() == expected.len() && openssl::memcmp::eq(&got, expected) {
        Ok(())
    } else {
        Err(SaslError::ServerSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, secret: &str) -> Credentials {
        Credentials {
            user: user.to_string(),
            authzid: None,
            secret: Secret::new(secret.to_string()),
        }
    }

    fn client(mech: Mechanism, user: &str, secret: &str) -> Client {
        Client::new(mech, creds(user, secret), "imap.example.com", 993)
    }

    #[test]
    fn mechanism_names() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::parse(m.name()), Some(m));
            assert_eq!(Mechanism::parse(&m.name().to_lowercase()), Some(m));
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!(
            Mechanism::parse("scram-sha-256"),
            Some(Mechanism::ScramSha256)
        );
        assert_eq!(Mechanism::parse("SCRAM-SHA-256-PLUS"), None);
        assert_eq!(Mechanism::parse("GSSAPI"), None);
        assert_eq!(Mechanism::parse(""), None);
        assert!(Mechanism::Plain.client_first() && Mechanism::Plain.plaintext_equivalent());
        assert!(!Mechanism::Login.client_first() && Mechanism::Login.plaintext_equivalent());
        assert!(!Mechanism::CramMd5.client_first() && !Mechanism::CramMd5.plaintext_equivalent());
        assert!(Mechanism::XOAuth2.client_first() && Mechanism::XOAuth2.plaintext_equivalent());
        assert!(Mechanism::OAuthBearer.client_first());
        assert!(Mechanism::OAuthBearer.plaintext_equivalent());
        assert!(Mechanism::ScramSha1.client_first());
        assert!(!Mechanism::ScramSha256.plaintext_equivalent());
    }

    #[test]
    fn plain_rfc4616() {
        let mut c = Client::new(
            Mechanism::Plain,
            Credentials {
                user: "Kurt".into(),
                authzid: Some("Ursel".into()),
                secret: Secret::new("xipj3plmq".into()),
            },
            "h",
            25,
        );
        assert!(!c.is_complete());
        assert_eq!(c.initial_response().unwrap(), b"Ursel\0Kurt\0xipj3plmq");
        assert!(c.is_complete());
        assert_eq!(c.initial_response(), None);
        assert!(c.verify_success(None).is_ok());

        let mut c = client(Mechanism::Plain, "tim", "tanstaaftanstaaf");
        assert_eq!(c.initial_response().unwrap(), b"\0tim\0tanstaaftanstaaf");
        assert_eq!(
            encode_initial(b"\0tim\0tanstaaftanstaaf"),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
    }

    #[test]
    fn plain_without_initial_response() {
        let mut c = client(Mechanism::Plain, "tim", "tanstaaftanstaaf");
        assert_eq!(c.respond(b"").unwrap(), b"\0tim\0tanstaaftanstaaf");
        assert!(c.is_complete());
        let err = c.respond(b"again").unwrap_err();
        assert!(matches!(err, SaslError::Protocol(_)), "{err}");
    }

    #[test]
    fn login_order() {
        let mut c = client(Mechanism::Login, "tim", "tanstaaf");
        assert_eq!(c.initial_response(), None);
        assert_eq!(c.respond(b"Username:").unwrap(), b"tim");
        assert!(!c.is_complete());
        // The prompt text is not checked, the order is.
        assert_eq!(c.respond(b"Username:").unwrap(), b"tanstaaf");
        assert!(c.is_complete());
        assert!(c.respond(b"Password:").is_err());
    }

    #[test]
    fn cram_md5_rfc2195() {
        let mut c = client(Mechanism::CramMd5, "tim", "tanstaaftanstaaf");
        assert_eq!(c.initial_response(), None);
        let challenge =
            decode_challenge(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+").unwrap();
        assert_eq!(challenge, b"<1896.697170952@postoffice.reston.mci.net>");
        let resp = c.respond(&challenge).unwrap();
        assert_eq!(resp, b"tim b913a602c7eda7a495b4e6e7334d3890");
        assert_eq!(
            encode(&resp),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
        assert!(c.is_complete());
        assert!(c.respond(b"more").is_err());
    }

    #[test]
    fn cram_md5_empty_challenge() {
        let mut c = client(Mechanism::CramMd5, "tim", "x");
        assert!(matches!(c.respond(b""), Err(SaslError::Protocol(_))));
        assert!(
            c.respond(b"<1.2@h>").is_err(),
            "a failed exchange stays failed"
        );
    }

    #[test]
    fn xoauth2_exact() {
        let mut c = client(
            Mechanism::XOAuth2,
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        let ir = c.initial_response().unwrap();
        assert_eq!(
            ir,
            b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        assert_eq!(
            encode_initial(&ir),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
        assert!(c.is_complete());
        // An error challenge (JSON) gets an empty response.
        let err = br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#;
        assert_eq!(c.respond(err).unwrap(), b"");
        assert!(c.is_complete());
        assert!(c.respond(b"again").is_err());
    }

    #[test]
    fn oauthbearer_rfc7628() {
        let mut c = Client::new(
            Mechanism::OAuthBearer,
            creds(
                "user@example.com",
                "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
            ),
            "server.example.com",
            143,
        );
        let ir = c.initial_response().unwrap();
        assert_eq!(
            ir,
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert_eq!(
            encode_initial(&ir),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
        );
        let err = br#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#;
        assert_eq!(c.respond(err).unwrap(), b"\x01");
        assert!(c.is_complete());
        assert!(c.respond(b"again").is_err());
    }

    #[test]
    fn oauthbearer_escapes_authzid() {
        let mut c = Client::new(
            Mechanism::OAuthBearer,
            Credentials {
                user: "u".into(),
                authzid: Some("a,b=c".into()),
                secret: Secret::new("tok".into()),
            },
            "h",
            587,
        );
        assert_eq!(
            c.initial_response().unwrap(),
            b"n,a=a=2Cb=3Dc,\x01host=h\x01port=587\x01auth=Bearer tok\x01\x01"
        );
    }

    const SHA1_FIRST: &[u8] =
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    const SHA1_FINAL: &[u8] = b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";
    const SHA256_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const SHA256_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn scram1() -> Client {
        client(Mechanism::ScramSha1, "user", "pencil").with_nonce("fyko+d2lbbFgONRv9qkxdawL".into())
    }

    fn scram256() -> Client {
        client(Mechanism::ScramSha256, "user", "pencil").with_nonce("rOprNGfwEbeRWgbNEkqO".into())
    }

    #[test]
    fn scram_sha1_rfc5802() {
        let mut c = scram1();
        assert_eq!(
            c.initial_response().unwrap(),
            b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        assert!(!c.is_complete());
        assert_eq!(
            c.respond(SHA1_FIRST).unwrap(),
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
                .to_vec()
        );
        assert!(c.is_complete());
        // Success before server-final: the server proved nothing.
        assert_eq!(c.verify_success(None), Err(SaslError::ServerSignature));
        assert_eq!(c.respond(SHA1_FINAL).unwrap(), b"");
        assert!(c.is_complete());
        assert_eq!(c.verify_success(None), Ok(()));
        assert_eq!(c.verify_success(Some(b"")), Ok(()));
        assert!(c.respond(SHA1_FINAL).is_err());
    }

    #[test]
    fn scram_sha256_rfc7677() {
        let mut c = scram256();
        assert_eq!(
            c.initial_response().unwrap(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        assert_eq!(
            c.respond(SHA256_FIRST).unwrap(),
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
                .to_vec()
        );
        assert_eq!(c.respond(SHA256_FINAL).unwrap(), b"");
        assert_eq!(c.verify_success(None), Ok(()));
    }

    #[test]
    fn scram_server_final_as_additional_data() {
        let mut c = scram256();
        c.initial_response().unwrap();
        c.respond(SHA256_FIRST).unwrap();
        assert_eq!(c.verify_success(Some(SHA256_FINAL)), Ok(()));
        assert_eq!(
            c.verify_success(Some(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=")),
            Err(SaslError::ServerSignature)
        );
        assert_eq!(c.verify_success(Some(b"")), Err(SaslError::ServerSignature));
    }

    #[test]
    fn scram_without_initial_response() {
        let mut c = scram1();
        assert_eq!(
            c.respond(b"").unwrap(),
            b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        assert!(c
            .respond(SHA1_FIRST)
            .unwrap()
            .ends_with(b"p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
    }

    #[test]
    fn scram_bad_server_signature() {
        let mut c = scram1();
        c.initial_response().unwrap();
        c.respond(SHA1_FIRST).unwrap();
        assert_eq!(
            c.respond(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            Err(SaslError::ServerSignature)
        );
        assert_eq!(c.verify_success(None), Err(SaslError::ServerSignature));

        for bad in [
            &b"v="[..],
            b"v=!!!",
            b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ",
            b"x=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
            b"",
            b"garbage",
            // The SHA-256 signature for the SHA-256 vector is not the SHA-1 one.
            SHA256_FINAL,
        ] {
            let mut c = scram1();
            c.initial_response().unwrap();
            c.respond(SHA1_FIRST).unwrap();
            assert_eq!(c.respond(bad), Err(SaslError::ServerSignature), "{bad:?}");
            assert!(
                c.respond(SHA1_FINAL).is_err(),
                "a failed exchange stays failed"
            );
        }
    }

    #[test]
    fn scram_server_error() {
        let mut c = scram1();
        c.initial_response().unwrap();
        c.respond(SHA1_FIRST).unwrap();
        assert_eq!(
            c.respond(b"e=invalid-proof"),
            Err(SaslError::Server("invalid-proof".into()))
        );
        assert_eq!(c.verify_success(None), Err(SaslError::ServerSignature));

        let mut c = scram1();
        c.initial_response().unwrap();
        assert_eq!(
            c.respond(b"e=unknown-user"),
            Err(SaslError::Server("unknown-user".into()))
        );
        // Control bytes from the server are kept as sent: the renderer shows them visibly.
        let mut c = scram1();
        c.initial_response().unwrap();
        c.respond(SHA1_FIRST).unwrap();
        assert_eq!(
            c.respond(b"e=bad\x1b[31m"),
            Err(SaslError::Server("bad\x1b[31m".into()))
        );
    }

    fn first_error(server_first: &[u8]) -> SaslError {
        let mut c = scram1();
        c.initial_response().unwrap();
        let err = c.respond(server_first).unwrap_err();
        assert!(!c.is_complete());
        err
    }

    #[test]
    fn scram_wrong_server_nonce() {
        let err =
            first_error(b"r=XXXX+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
        assert!(
            matches!(&err, SaslError::Protocol(m) if m.contains("nonce")),
            "{err}"
        );
        // A truncated client nonce is not ours either.
        let err = first_error(b"r=fyko+d2lbbFgONRv9qkxdaw,s=QSXCR+Q6sek8bf92,i=4096");
        assert!(
            matches!(&err, SaslError::Protocol(m) if m.contains("nonce")),
            "{err}"
        );
    }

    #[test]
    fn scram_iteration_counts() {
        for bad in [
            &b"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=0"[..],
            b"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=",
            b"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=-1",
            b"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=10000001",
            b"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4294967296",
            b"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=99999999999999999999",
            b"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=+4096",
            b"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4096 ",
        ] {
            let err = first_error(bad);
            assert!(
                matches!(&err, SaslError::Protocol(m) if m.contains("iteration")),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(parse_iterations(b"1"), Ok(1));
        assert_eq!(parse_iterations(b"10000000"), Ok(MAX_SCRAM_ITERATIONS));
    }

    #[test]
    fn scram_missing_or_bad_attributes() {
        let cases: [(&[u8], &str); 9] = [
            (b"r=fyko+d2lbbFgONRv9qkxdawLx,i=4096", "salt"),
            (b"r=fyko+d2lbbFgONRv9qkxdawLx,s=,i=4096", "salt"),
            (b"r=fyko+d2lbbFgONRv9qkxdawLx,s=***,i=4096", "salt"),
            (
                b"r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92",
                "iteration",
            ),
            (
                b"s=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawLx,i=4096",
                "nonce",
            ),
            (
                b"m=ext,r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4096",
                "extension",
            ),
            (b"", "attribute"),
            (
                b"r=fyko+d2lbbFgONRv9qkxdawLx,,s=QSXCR+Q6sek8bf92,i=4096",
                "attribute",
            ),
            (
                b"r=fyko+d2lbbFgONRv9qkxdawL\x7f,s=QSXCR+Q6sek8bf92,i=4096",
                "non-printable",
            ),
        ];
        for (msg, what) in cases {
            let err = first_error(msg);
            assert!(
                matches!(&err, SaslError::Protocol(m) if m.contains(what)),
                "{msg:?}: {err}"
            );
        }
    }

    #[test]
    fn scram_ignores_extensions_after_iterations() {
        let mut c = scram1();
        c.initial_response().unwrap();
        let mut first = SHA1_FIRST.to_vec();
        first.extend_from_slice(b",x=ext");
        // The extension is part of AuthMessage, so the proof differs from the RFC's; it is
        // still computed, not rejected.
        let resp = c.respond(&first).unwrap();
        assert!(resp.starts_with(b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p="));
        assert!(!resp.ends_with(b"p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
    }

    #[test]
    fn scram_authzid_and_escaping() {
        let mut c = Client::new(
            Mechanism::ScramSha256,
            Credentials {
                user: "us=er,1".into(),
                authzid: Some("ad,min".into()),
                secret: Secret::new("pencil".into()),
            },
            "h",
            143,
        )
        .with_nonce("abc".into());
        assert_eq!(
            c.initial_response().unwrap(),
            b"n,a=ad=2Cmin,n=us=3Der=2C1,r=abc"
        );
        let resp = c.respond(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=1").unwrap();
        // c= is base64 of the gs2 header "n,a=ad=2Cmin,".
        assert!(
            resp.starts_with(b"c=bixhPWFkPTJDbWluLA==,r=abcdef,p="),
            "{resp:?}"
        );
    }

    #[test]
    fn random_nonce() {
        let mut a = client(Mechanism::ScramSha1, "user", "pencil");
        let mut b = client(Mechanism::ScramSha1, "user", "pencil");
        let a = a.initial_response().unwrap();
        let b = b.initial_response().unwrap();
        assert_ne!(a, b);
        let nonce = a.strip_prefix(b"n,,n=user,r=").unwrap();
        assert_eq!(nonce.len(), 32);
        assert_eq!(STANDARD.decode(nonce).unwrap().len(), NONCE_BYTES);
    }

    #[test]
    fn bad_nonce_rejected() {
        for nonce in ["", "a,b", "a b", "é"] {
            let c = client(Mechanism::ScramSha1, "user", "pencil").with_nonce(nonce.into());
            assert!(
                matches!(c.validate(), Err(SaslError::InvalidCredentials(_))),
                "{nonce:?}"
            );
        }
    }

    #[test]
    fn invalid_credentials() {
        let cases: [(Mechanism, &str, &str); 8] = [
            (Mechanism::Plain, "a\0b", "pw"),
            (Mechanism::Plain, "", "pw"),
            (Mechanism::Plain, "tim", ""),
            (Mechanism::Plain, "tim", "p\0w"),
            (Mechanism::Login, "tim\r\n", "pw"),
            (Mechanism::CramMd5, "tim", "pw\n"),
            (Mechanism::XOAuth2, "tim\x01", "tok"),
            (Mechanism::OAuthBearer, "tim", "to\x01k"),
        ];
        for (mech, user, secret) in cases {
            let mut c = client(mech, user, secret);
            assert!(
                matches!(c.validate(), Err(SaslError::InvalidCredentials(_))),
                "{mech} {user:?}"
            );
            assert_eq!(c.initial_response(), None);
            assert!(matches!(
                c.respond(b""),
                Err(SaslError::InvalidCredentials(_))
            ));
        }
        let mut bad_authzid = creds("tim", "pw");
        bad_authzid.authzid = Some("x\ny".into());
        assert!(Client::new(Mechanism::Plain, bad_authzid, "h", 1)
            .validate()
            .is_err());
        let c = Client::new(Mechanism::OAuthBearer, creds("tim", "tok"), "h\x01x", 1);
        assert!(c.validate().is_err());
        // \x01 is only the OAuth separator; PLAIN may carry it.
        assert!(client(Mechanism::Plain, "tim", "p\x01w").validate().is_ok());
        assert!(client(Mechanism::ScramSha1, "tim", "pencil")
            .validate()
            .is_ok());
    }

    #[test]
    fn secrets_not_in_debug() {
        let mut c = scram1();
        c.initial_response().unwrap();
        c.respond(SHA1_FIRST).unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("pencil"), "{text}");
        let text = format!("{:?}", client(Mechanism::Plain, "tim", "tanstaaf"));
        assert!(!text.contains("tanstaaf"), "{text}");
    }

    #[test]
    fn challenges_are_strict_base64() {
        assert_eq!(decode_challenge(b"").unwrap(), b"");
        assert_eq!(decode_challenge(b"=").unwrap(), b"");
        assert_eq!(decode_challenge(b"VXNlcm5hbWU6").unwrap(), b"Username:");
        assert_eq!(decode_challenge(b"UGFzc3dvcmQ6").unwrap(), b"Password:");
        for bad in [
            &b"not base64!"[..],
            b"VXNlcm5hbWU",
            b"VXNlcm5hbWU6 ",
            b" VXNlcm5hbWU6",
            b"VXNl\r\ncm5hbWU6",
            b"Ready for more",
            b"==",
            b"VXNlcm5hbWU6=",
            b"QQ",
            b"QR==",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(decode_challenge(bad), Err(SaslError::BadChallenge(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn challenge_size_limits() {
        let big = STANDARD.encode(vec![b'a'; MAX_CHALLENGE]);
        assert_eq!(
            decode_challenge(big.as_bytes()).unwrap().len(),
            MAX_CHALLENGE
        );
        let too_big = STANDARD.encode(vec![b'a'; MAX_CHALLENGE + 3]);
        assert!(matches!(
            decode_challenge(too_big.as_bytes()),
            Err(SaslError::BadChallenge(_))
        ));
        let mut c = client(Mechanism::CramMd5, "tim", "pw");
        assert!(matches!(
            c.respond(&vec![b'<'; MAX_CHALLENGE + 1]),
            Err(SaslError::Protocol(_))
        ));
    }

    #[test]
    fn encoding() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode_initial(b""), "=");
        assert_eq!(encode(b"tim"), "dGlt");
        assert_eq!(encode_initial(b"tim"), "dGlt");
    }

    #[test]
    fn apop_rfc1939() {
        let secret = Secret::new("tanstaaf".into());
        assert_eq!(
            apop_digest(b"<1896.697170952@dbc.mtview.ca.us>", &secret).unwrap(),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn scram_passwords_are_prepared_with_saslprep() {
        // RFC 4013 section 3 examples: soft hyphen mapped to nothing, NBSP to space, NFKC.
        assert_eq!(scram_password("I\u{ad}X").as_str(), "IX");
        assert_eq!(scram_password("user").as_str(), "user");
        assert_eq!(scram_password("a\u{a0}b").as_str(), "a b");
        assert_eq!(scram_password("\u{aa}").as_str(), "a");
        assert_eq!(scram_password("\u{2168}").as_str(), "IX");
        // Prohibited (a control character): used as given.
        assert_eq!(scram_password("a\u{7}b").as_str(), "a\u{7}b");
        // The proof is the one of the prepared password.
        let proof_of = |pw: &str| {
            let mut c = client(Mechanism::ScramSha256, "user", pw)
                .with_nonce("rOprNGfwEbeRWgbNEkqO".into());
            c.initial_response().unwrap();
            c.respond(SHA256_FIRST).unwrap()
        };
        assert_eq!(proof_of("pencil"), proof_of("pen\u{ad}cil"));
        assert_ne!(proof_of("pencil"), proof_of("pencils"));
    }

    #[test]
    fn quoting_server_text() {
        assert_eq!(
            quote(&[b'a'; MAX_QUOTED + 5]).len(),
            MAX_QUOTED + '…'.len_utf8()
        );
    }
}
