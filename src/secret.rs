//! Passwords and tokens: a wrapper that never prints its content and wipes its memory when
//! dropped (with `secrecy` and `zeroize`). This module is a leaf: everything that handles a
//! secret imports it, it imports nothing of mailtalk.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

/// What a secret is shown as, everywhere.
pub const REDACTED: &str = "<redacted>";

/// A password or token.
///
/// `Debug` and `Display` print `<redacted>`; the only way to read the content is
/// [`Secret::expose`]. The memory is zeroed when the value is dropped. Copies the caller makes
/// of `expose()` (for example a SASL response) are the caller's to [`wipe`].
pub struct Secret(SecretString);

impl Secret {
    pub fn new(mut secret: String) -> Secret {
        if secret.capacity() == secret.len() {
            return Secret(SecretString::from(secret));
        }
        // Shrinking a larger buffer to fit could move the bytes and free the old block
        // unwiped: copy into an exact allocation and wipe the original instead.
        let exact: Box<str> = Box::from(secret.as_str());
        secret.zeroize();
        Secret(secrecy::SecretBox::new(exact))
    }

    /// The secret itself. Use it only to build what goes on the wire.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    pub fn len(&self) -> usize {
        self.expose().len()
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Secret {
        Secret::new(secret)
    }
}

impl Clone for Secret {
    fn clone(&self) -> Secret {
        Secret::new(self.expose().to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Overwrites every byte of `buf`, its spare capacity included, with zeros (in a way the
/// optimiser cannot remove), and empties it.
pub fn wipe(buf: &mut Vec<u8>) {
    buf.zeroize();
}

/// Turns bytes into a [`Secret`] without leaving a copy behind: invalid UTF-8 is wiped and
/// reported.
pub fn from_bytes(bytes: Vec<u8>) -> Result<Secret, Vec<u8>> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Secret::new(s)),
        Err(e) => {
            let mut bytes = e.into_bytes();
            wipe(&mut bytes);
            Err(bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:#?}"), "<redacted>");
        let c = s.clone();
        assert_eq!(format!("{c:?}"), "<redacted>");
        assert_eq!(c.expose(), "hunter2");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(s.len(), 7);
        assert!(!s.is_empty());
    }

    #[test]
    fn debug_of_containing_struct_is_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Creds {
            user: String,
            secret: Secret,
        }
        let c = Creds {
            user: "tim".into(),
            secret: Secret::new("tanstaaf".into()),
        };
        let text = format!("{c:?}");
        assert!(!text.contains("tanstaaf"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn wipe_empties() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"password");
        wipe(&mut v);
        assert!(v.is_empty());
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert_eq!(from_bytes(b"pw".to_vec()).unwrap().expose(), "pw");
        assert!(from_bytes(vec![0xff, b'a']).is_err());
    }
}
