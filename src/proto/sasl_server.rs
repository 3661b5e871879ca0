//! SASL from the server side (RFC 4422): PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195) and
//! SCRAM-SHA-256 (RFC 5802, RFC 7677), checked against [`Credentials`]. No I/O and no framing:
//! the SMTP, IMAP and POP3 machines base64-decode the client's lines, check for the `*` that
//! cancels, and write the challenges this returns in their own syntax (`334 …`, `+ …`).
//!
//! CRAM-MD5 and SCRAM need the password itself ([`Lookup::Known`]). When the server accepts any
//! credentials ([`Lookup::AnyAccepted`]), CRAM-MD5 accepts any response; SCRAM cannot, because
//! the server has to prove it knows the password in its final message: it fails with a reason
//! that says to configure users.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::hash::{hash, MessageDigest};

use super::sasl::{hex, hmac, saslname, scram_password, SaslError, MAX_CHALLENGE};
use super::server::{Credentials, Lookup};

/// SCRAM iteration count the server asks for (RFC 7677 recommends at least 4096).
pub const SCRAM_ITERATIONS: u32 = 4096;

/// The mechanisms the embedded server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerMech {
    Plain,
    Login,
    CramMd5,
    ScramSha256,
}

impl ServerMech {
    /// Every mechanism, in the order they are advertised.
    pub const ALL: [ServerMech; 4] = [
        ServerMech::Plain,
        ServerMech::Login,
        ServerMech::CramMd5,
        ServerMech::ScramSha256,
    ];

    /// The mechanism of a name as a client sends it (any case).
    pub fn parse(name: &str) -> Option<ServerMech> {
        ServerMech::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    pub fn name(self) -> &'static str {
        match self {
            ServerMech::Plain => "PLAIN",
            ServerMech::Login => "LOGIN",
            ServerMech::CramMd5 => "CRAM-MD5",
            ServerMech::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Whether the password crosses the wire as it is (PLAIN, LOGIN): such mechanisms are for
    /// TLS or loopback only.
    pub fn plaintext(self) -> bool {
        matches!(self, ServerMech::Plain | ServerMech::Login)
    }
}

/// What the server answers next.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Send this challenge (raw bytes: the protocol base64-encodes it) and wait for a response.
    Challenge(Vec<u8>),
    /// Authenticated as `user`. `additional`: data to send with the success reply, where the
    /// protocol allows it (always `None` here: SCRAM's final message goes as a challenge).
    Success {
        user: String,
        additional: Option<Vec<u8>>,
    },
    /// Refused; `user` when the client named one, `why` for the log (never to the client, and
    /// never holding the password).
    Failure { user: Option<String>, why: String },
}

/// Decodes a client's response line (base64, without the line ending). An empty line or `=`
/// is an empty response. The `*` that cancels is the caller's to check first.
pub fn decode_response(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    if text.is_empty() || text == b"=" {
        return Ok(Vec::new());
    }
    let max_text = (MAX_CHALLENGE / 3).saturating_add(1).saturating_mul(4);
    if text.len() > max_text {
        return Err(SaslError::Protocol(format!(
            "a response of {} bytes is longer than the limit",
            text.len()
        )));
    }
    STANDARD
        .decode(text)
        .map_err(|e| SaslError::Protocol(format!("the response is not valid base64: {e}")))
}

#[derive(Debug)]
enum State {
    /// PLAIN without an initial response: the empty challenge was sent.
    PlainWait,
    LoginUser,
    LoginPassword {
        user: String,
    },
    Cram {
        challenge: Vec<u8>,
    },
    /// The server-first message was sent.
    ScramFinal {
        user: String,
        gs2_header: Vec<u8>,
        nonce: String,
        salt: Vec<u8>,
        /// client-first-message-bare "," server-first-message
        auth_start: Vec<u8>,
    },
    /// The server-final message was sent as a challenge; an empty response completes.
    ScramDone {
        user: String,
    },
    Over,
}

/// One server-side exchange.
#[derive(Debug)]
pub struct Exchange {
    mech: ServerMech,
    state: State,
    hostname: String,
}

fn failure(user: Option<&str>, why: impl Into<String>) -> Progress {
    Progress::Failure {
        user: user.map(str::to_string),
        why: why.into(),
    }
}

fn random_token(bytes: usize) -> Vec<u8> {
    let mut buf = vec![0u8; bytes];
    if openssl::rand::rand_bytes(&mut buf).is_err() {
        // Without randomness no challenge may be issued; an all-zero buffer would be guessable,
        // so the caller sees an empty token and refuses (see `start`).
        return Vec::new();
    }
    buf
}

/// Equal in constant time (for digests of equal length).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

impl Exchange {
    /// Starts an exchange; `initial` is the decoded initial response when the client sent one.
    pub fn start(
        mech: ServerMech,
        initial: Option<Vec<u8>>,
        creds: &dyn Credentials,
        hostname: &str,
    ) -> (Exchange, Progress) {
        let mut ex = Exchange {
            mech,
            state: State::Over,
            hostname: hostname.to_string(),
        };
        let progress = match (mech, initial) {
            (ServerMech::Plain, Some(r)) => ex.plain(&r, creds),
            (ServerMech::Plain, None) => {
                ex.state = State::PlainWait;
                Progress::Challenge(Vec::new())
            }
            (ServerMech::Login, Some(r)) if !r.is_empty() => ex.login_user(&r),
            (ServerMech::Login, _) => {
                ex.state = State::LoginUser;
                Progress::Challenge(b"Username:".to_vec())
            }
            (ServerMech::CramMd5, Some(r)) if !r.is_empty() => {
                failure(None, "CRAM-MD5 has no initial response")
            }
            (ServerMech::CramMd5, _) => {
                let token = random_token(12);
                if token.is_empty() {
                    return (ex, failure(None, "no random bytes for a challenge"));
                }
                let challenge = format!("<{}@{}>", hex(&token), ex.hostname).into_bytes();
                ex.state = State::Cram {
                    challenge: challenge.clone(),
                };
                Progress::Challenge(challenge)
            }
            (ServerMech::ScramSha256, Some(r)) if !r.is_empty() => ex.scram_first(&r, creds),
            (ServerMech::ScramSha256, _) => {
                // The client speaks first; an empty challenge asks it to.
                ex.state = State::ScramFinal {
                    user: String::new(),
                    gs2_header: Vec::new(),
                    nonce: String::new(),
                    salt: Vec::new(),
                    auth_start: Vec::new(),
                };
                Progress::Challenge(Vec::new())
            }
        };
        (ex, progress)
    }

    pub fn mechanism(&self) -> ServerMech {
        self.mech
    }

    /// The client's next response (decoded).
    pub fn step(&mut self, response: &[u8], creds: &dyn Credentials) -> Progress {
        match std::mem::replace(&mut self.state, State::Over) {
            State::PlainWait => self.plain(response, creds),
            State::LoginUser => self.login_user(response),
            State::LoginPassword { user } => {
                if creds.check(&user, response) {
                    success(user)
                } else {
                    failure(Some(&user), "wrong user name or password")
                }
            }
            State::Cram { challenge } => cram(&challenge, response, creds),
            State::ScramFinal { user, .. } if user.is_empty() => self.scram_first(response, creds),
            State::ScramFinal {
                user,
                gs2_header,
                nonce,
                salt,
                auth_start,
            } => self.scram_final(
                user,
                &gs2_header,
                &nonce,
                &salt,
                auth_start,
                response,
                creds,
            ),
            State::ScramDone { user } => {
                if response.is_empty() {
                    success(user)
                } else {
                    failure(Some(&user), "SCRAM: expected an empty response at the end")
                }
            }
            State::Over => failure(None, "the exchange is over"),
        }
    }

    fn plain(&mut self, msg: &[u8], creds: &dyn Credentials) -> Progress {
        let mut parts = msg.splitn(3, |&b| b == 0);
        let (Some(authz), Some(user), Some(pass)) = (parts.next(), parts.next(), parts.next())
        else {
            return failure(
                None,
                "PLAIN: the response is not authzid NUL user NUL password",
            );
        };
        let Ok(user) = std::str::from_utf8(user) else {
            return failure(None, "PLAIN: the user name is not UTF-8");
        };
        if !authz.is_empty() && authz != user.as_bytes() {
            return failure(
                Some(user),
                "PLAIN: acting for another identity is not allowed",
            );
        }
        if user.is_empty() {
            return failure(None, "PLAIN: empty user name");
        }
        if creds.check(user, pass) {
            success(user.to_string())
        } else {
            failure(Some(user), "wrong user name or password")
        }
    }

    fn login_user(&mut self, response: &[u8]) -> Progress {
        match std::str::from_utf8(response) {
            Ok(user) if !user.is_empty() => {
                self.state = State::LoginPassword {
                    user: user.to_string(),
                };
                Progress::Challenge(b"Password:".to_vec())
            }
            _ => failure(None, "LOGIN: empty or non-UTF-8 user name"),
        }
    }

    fn scram_first(&mut self, msg: &[u8], creds: &dyn Credentials) -> Progress {
        let Ok(text) = std::str::from_utf8(msg) else {
            return failure(None, "SCRAM: the first message is not UTF-8");
        };
        // gs2-header: "n,," or "y,," (no channel binding), optionally "a=authzid".
        let mut fields = text.splitn(3, ',');
        let (Some(cb), Some(authz), Some(bare)) = (fields.next(), fields.next(), fields.next())
        else {
            return failure(None, "SCRAM: malformed client-first message");
        };
        if cb.starts_with("p=") {
            return failure(None, "SCRAM: channel binding is not offered");
        }
        if cb != "n" && cb != "y" {
            return failure(None, "SCRAM: malformed gs2 header");
        }
        let mut user = None;
        let mut cnonce = None;
        for attr in bare.split(',') {
            if let Some(v) = attr.strip_prefix("n=") {
                user = Some(v.replace("=2C", ",").replace("=3D", "="));
            } else if let Some(v) = attr.strip_prefix("r=") {
                cnonce = Some(v.to_string());
            } else if attr.starts_with("m=") {
                return failure(None, "SCRAM: mandatory extensions are not supported");
            }
        }
        let (Some(user), Some(cnonce)) = (user, cnonce) else {
            return failure(None, "SCRAM: the first message lacks n= or r=");
        };
        if user.is_empty() || cnonce.is_empty() {
            return failure(None, "SCRAM: empty user name or nonce");
        }
        if !authz.is_empty() && authz.strip_prefix("a=") != Some(saslname(&user).as_str()) {
            return failure(
                Some(&user),
                "SCRAM: acting for another identity is not allowed",
            );
        }
        match creds.password(&user) {
            Lookup::Known(_) => {}
            Lookup::AnyAccepted => {
                return failure(
                    Some(&user),
                    "SCRAM-SHA-256 needs configured users (the server must know the password \
                     to prove itself)",
                )
            }
            Lookup::Unknown => {
                // Go on with a made-up salt so the exchange does not tell that the user is
                // unknown; the proof cannot match.
            }
        }
        let snonce = random_token(18);
        let salt = random_token(16);
        if snonce.is_empty() || salt.is_empty() {
            return failure(Some(&user), "no random bytes for a nonce");
        }
        let nonce = format!("{cnonce}{}", STANDARD.encode(&snonce));
        let server_first = format!(
            "r={nonce},s={},i={SCRAM_ITERATIONS}",
            STANDARD.encode(&salt)
        );
        let mut auth_start = Vec::with_capacity(bare.len().saturating_add(server_first.len()));
        auth_start.extend_from_slice(bare.as_bytes());
        auth_start.push(b',');
        auth_start.extend_from_slice(server_first.as_bytes());
        let gs2_len = text.len().saturating_sub(bare.len());
        self.state = State::ScramFinal {
            user,
            gs2_header: text.as_bytes().get(..gs2_len).unwrap_or(&[]).to_vec(),
            nonce,
            salt,
            auth_start,
        };
        Progress::Challenge(server_first.into_bytes())
    }

    #[allow(clippy::too_many_arguments)]
    fn scram_final(
        &mut self,
        user: String,
        gs2_header: &[u8],
        nonce: &str,
        salt: &[u8],
        mut auth_message: Vec<u8>,
        msg: &[u8],
        creds: &dyn Credentials,
    ) -> Progress {
        let Ok(text) = std::str::from_utf8(msg) else {
            return failure(Some(&user), "SCRAM: the final message is not UTF-8");
        };
        let Some((without_proof, proof)) = text.rsplit_once(",p=") else {
            return failure(Some(&user), "SCRAM: the final message has no proof");
        };
        let mut binding = None;
        let mut rnonce = None;
        for attr in without_proof.split(',') {
            if let Some(v) = attr.strip_prefix("c=") {
                binding = Some(v);
            } else if let Some(v) = attr.strip_prefix("r=") {
                rnonce = Some(v);
            }
        }
        if binding != Some(STANDARD.encode(gs2_header).as_str()) {
            return failure(Some(&user), "SCRAM: wrong channel-binding data");
        }
        if rnonce != Some(nonce) {
            return failure(Some(&user), "SCRAM: the nonce does not match");
        }
        let Ok(proof) = STANDARD.decode(proof) else {
            return failure(Some(&user), "SCRAM: the proof is not base64");
        };
        let Lookup::Known(password) = creds.password(&user) else {
            return failure(Some(&user), "wrong user name or password");
        };
        auth_message.push(b',');
        auth_message.extend_from_slice(without_proof.as_bytes());
        let md = MessageDigest::sha256();
        let keys = (|| -> Result<ScramKeys, SaslError> {
            let prepared = scram_password(password.expose());
            let mut salted = zeroize::Zeroizing::new(vec![0u8; md.size()]);
            let iterations = usize::try_from(SCRAM_ITERATIONS)
                .map_err(|_| SaslError::Protocol("iterations".to_string()))?;
            openssl::pkcs5::pbkdf2_hmac(prepared.as_bytes(), salt, iterations, md, &mut salted)?;
            let client_key = hmac(md, &salted, b"Client Key")?;
            let stored_key = hash(md, &client_key)?.to_vec();
            let client_signature = hmac(md, &stored_key, &auth_message)?;
            let server_key = hmac(md, &salted, b"Server Key")?;
            let server_signature = hmac(md, &server_key, &auth_message)?;
            Ok((stored_key, client_signature, server_signature))
        })();
        let Ok((stored_key, client_signature, server_signature)) = keys else {
            return failure(Some(&user), "SCRAM: a cryptographic primitive failed");
        };
        if proof.len() != client_signature.len() {
            return failure(Some(&user), "wrong user name or password");
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature.iter())
            .map(|(p, s)| p ^ s)
            .collect();
        let Ok(recovered) = hash(md, &client_key) else {
            return failure(Some(&user), "SCRAM: a cryptographic primitive failed");
        };
        if !same(&recovered, &stored_key) {
            return failure(Some(&user), "wrong user name or password");
        }
        let server_final = format!("v={}", STANDARD.encode(&server_signature)).into_bytes();
        self.state = State::ScramDone { user };
        Progress::Challenge(server_final)
    }
}

/// SCRAM's stored key, client signature and server signature.
type ScramKeys = (Vec<u8>, Vec<u8>, Vec<u8>);

fn success(user: String) -> Progress {
    Progress::Success {
        user,
        additional: None,
    }
}

fn cram(challenge: &[u8], response: &[u8], creds: &dyn Credentials) -> Progress {
    let Ok(text) = std::str::from_utf8(response) else {
        return failure(None, "CRAM-MD5: the response is not UTF-8");
    };
    let Some((user, digest)) = text.rsplit_once(' ') else {
        return failure(None, "CRAM-MD5: expected \"user digest\"");
    };
    if user.is_empty() || digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return failure(Some(user), "CRAM-MD5: malformed digest");
    }
    match creds.password(user) {
        Lookup::AnyAccepted => success(user.to_string()),
        Lookup::Unknown => failure(Some(user), "wrong user name or password"),
        Lookup::Known(password) => {
            let Ok(expected) = hmac(
                MessageDigest::md5(),
                password.expose().as_bytes(),
                challenge,
            ) else {
                return failure(Some(user), "CRAM-MD5: MD5 is unavailable");
            };
            if same(
                hex(&expected).as_bytes(),
                digest.to_ascii_lowercase().as_bytes(),
            ) {
                success(user.to_string())
            } else {
                failure(Some(user), "wrong user name or password")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::sasl::{Client, Credentials as ClientCreds, Mechanism};
    use crate::secret::Secret;

    struct Users(Vec<(&'static str, &'static str)>);

    impl Credentials for Users {
        fn check(&self, user: &str, password: &[u8]) -> bool {
            if self.0.is_empty() {
                return true;
            }
            self.0
                .iter()
                .any(|(u, p)| u.eq_ignore_ascii_case(user) && p.as_bytes() == password)
        }
        fn password(&self, user: &str) -> Lookup {
            if self.0.is_empty() {
                return Lookup::AnyAccepted;
            }
            match self.0.iter().find(|(u, _)| u.eq_ignore_ascii_case(user)) {
                Some((_, p)) => Lookup::Known(Secret::new(p.to_string())),
                None => Lookup::Unknown,
            }
        }
    }

    fn alice() -> Users {
        Users(vec![("alice", "wonderland")])
    }

    fn ok(p: &Progress, who: &str) -> bool {
        matches!(p, Progress::Success { user, .. } if user == who)
    }

    /// Runs mailtalk's own client against the server side, as the wire would.
    fn with_client(mech: Mechanism, server: ServerMech, pass: &str, creds: &Users) -> Progress {
        let mut client = Client::new(
            mech,
            ClientCreds {
                user: "alice".to_string(),
                authzid: None,
                secret: Secret::new(pass.to_string()),
            },
            "mx.test",
            25,
        );
        let initial = client.initial_response();
        let (mut ex, mut p) = Exchange::start(server, initial, creds, "mx.test");
        for _ in 0..5 {
            match p {
                Progress::Challenge(c) => match client.respond(&c) {
                    Ok(r) => p = ex.step(&r, creds),
                    Err(e) => return failure(None, e.to_string()),
                },
                done => return done,
            }
        }
        p
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let c = alice();
        let (_, p) = Exchange::start(
            ServerMech::Plain,
            Some(b"\0alice\0wonderland".to_vec()),
            &c,
            "h",
        );
        assert!(ok(&p, "alice"));
        let (mut ex, p) = Exchange::start(ServerMech::Plain, None, &c, "h");
        assert_eq!(p, Progress::Challenge(Vec::new()));
        assert!(ok(&ex.step(b"alice\0alice\0wonderland", &c), "alice"));
        let (_, p) = Exchange::start(ServerMech::Plain, Some(b"\0alice\0nope".to_vec()), &c, "h");
        assert!(matches!(p, Progress::Failure { user: Some(u), .. } if u == "alice"));
        let (_, p) = Exchange::start(
            ServerMech::Plain,
            Some(b"bob\0alice\0wonderland".to_vec()),
            &c,
            "h",
        );
        assert!(matches!(p, Progress::Failure { .. }));
        let (_, p) = Exchange::start(ServerMech::Plain, Some(b"garbage".to_vec()), &c, "h");
        assert!(matches!(p, Progress::Failure { user: None, .. }));
    }

    #[test]
    fn login_asks_for_user_then_password() {
        let c = alice();
        let (mut ex, p) = Exchange::start(ServerMech::Login, None, &c, "h");
        assert_eq!(p, Progress::Challenge(b"Username:".to_vec()));
        assert_eq!(
            ex.step(b"alice", &c),
            Progress::Challenge(b"Password:".to_vec())
        );
        assert!(ok(&ex.step(b"wonderland", &c), "alice"));
        assert!(matches!(ex.step(b"again", &c), Progress::Failure { .. }));
    }

    #[test]
    fn every_mechanism_against_the_client_side() {
        let c = alice();
        for (m, s) in [
            (Mechanism::Plain, ServerMech::Plain),
            (Mechanism::Login, ServerMech::Login),
            (Mechanism::CramMd5, ServerMech::CramMd5),
            (Mechanism::ScramSha256, ServerMech::ScramSha256),
        ] {
            assert!(ok(&with_client(m, s, "wonderland", &c), "alice"), "{s:?}");
            assert!(
                matches!(with_client(m, s, "wrong", &c), Progress::Failure { .. }),
                "{s:?} accepted a wrong password"
            );
        }
    }

    #[test]
    fn any_credentials_mode() {
        let any = Users(vec![]);
        for (m, s) in [
            (Mechanism::Plain, ServerMech::Plain),
            (Mechanism::Login, ServerMech::Login),
            (Mechanism::CramMd5, ServerMech::CramMd5),
        ] {
            assert!(ok(&with_client(m, s, "anything", &any), "alice"), "{s:?}");
        }
        match with_client(Mechanism::ScramSha256, ServerMech::ScramSha256, "x", &any) {
            Progress::Failure { why, .. } => assert!(why.contains("configured users"), "{why}"),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn scram_refuses_replayed_or_altered_messages() {
        let c = alice();
        let (mut ex, p) = Exchange::start(
            ServerMech::ScramSha256,
            Some(b"n,,n=alice,r=abc".to_vec()),
            &c,
            "h",
        );
        let Progress::Challenge(first) = p else {
            panic!("{p:?}")
        };
        assert!(first.starts_with(b"r=abc"));
        // A nonce that is not the server's.
        let p = ex.step(b"c=biws,r=abcX,p=AAAA", &c);
        assert!(matches!(p, Progress::Failure { .. }));
        let (_, p) = Exchange::start(
            ServerMech::ScramSha256,
            Some(b"p=tls-unique,,n=alice,r=abc".to_vec()),
            &c,
            "h",
        );
        assert!(matches!(p, Progress::Failure { why, .. } if why.contains("channel binding")));
        // An unknown user still gets a server-first message.
        let (_, p) = Exchange::start(
            ServerMech::ScramSha256,
            Some(b"n,,n=mallory,r=abc".to_vec()),
            &c,
            "h",
        );
        assert!(matches!(p, Progress::Challenge(_)));
    }

    #[test]
    fn responses_decode_strictly() {
        assert_eq!(decode_response(b"").unwrap(), b"");
        assert_eq!(decode_response(b"=").unwrap(), b"");
        assert_eq!(decode_response(b"YWI=").unwrap(), b"ab");
        assert!(decode_response(b"not base64!").is_err());
        assert!(decode_response(&vec![b'A'; 200_000]).is_err());
        assert_eq!(
            ServerMech::parse("scram-sha-256"),
            Some(ServerMech::ScramSha256)
        );
        assert_eq!(ServerMech::parse("XOAUTH2"), None);
    }
}
