//! What completion offers, by context: the protocol's base commands and the extensions the
//! server advertised; MAIL and RCPT parameters after the path (each its own, and only the
//! advertised ones); the advertised SASL mechanisms after AUTH, AUTHENTICATE and `:auth`; the
//! meta-commands (`:starttls` only while there is no TLS yet). Nothing inside message text,
//! literals or other content.

use super::{macros, meta};
use crate::proto::imap::syntax::CommandLine;
use crate::proto::{ext, Capabilities, InputMode, Protocol};

/// What completion knows: refreshed after every line.
#[derive(Clone, Debug)]
pub struct Known {
    pub protocol: Protocol,
    pub capabilities: Capabilities,
    pub tls: bool,
    pub mode: InputMode,
}

impl Known {
    pub fn new(protocol: Protocol) -> Known {
        Known {
            protocol,
            capabilities: Capabilities::default(),
            tls: false,
            mode: InputMode::Command,
        }
    }
}

/// The candidates for the word being typed: `line` is what precedes the cursor. Returns where
/// the word starts and the candidates that fit it (in the case the user started typing in).
pub fn complete(known: &Known, line: &str) -> (usize, Vec<String>) {
    let start = line
        .rfind(|c: char| c.is_ascii_whitespace())
        .map(|i| i.saturating_add(1))
        .unwrap_or(0);
    let word = line.get(start..).unwrap_or("");
    let before = line.get(..start).unwrap_or("");
    let mut out: Vec<String> = candidates(known, before, word)
        .into_iter()
        .filter(|c| {
            c.len() >= word.len()
                && c.get(..word.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(word))
        })
        .map(|c| {
            // Keep the case the user started typing in.
            if word.chars().any(|ch| ch.is_ascii_lowercase()) && !c.starts_with(':') {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect();
    out.dedup();
    (start, out)
}

/// Every candidate for a word after `before` (not yet filtered by the word typed).
pub fn candidates(known: &Known, before: &str, word: &str) -> Vec<String> {
    let words: Vec<&str> = before.split_whitespace().collect();
    let meta_line =
        before.trim_start().starts_with(':') || (words.is_empty() && word.starts_with(':'));
    if meta_line {
        return meta_candidates(known, &words);
    }
    if !matches!(known.mode, InputMode::Command) {
        return Vec::new();
    }
    let caps = &known.capabilities;
    // IMAP lines may start with a tag: look at the verb after it.
    let words: Vec<&str> = if known.protocol == Protocol::Imap {
        let c = CommandLine::parse(before.as_bytes());
        match c.tag {
            Some(_) => words.get(1..).unwrap_or(&[]).to_vec(),
            None => words,
        }
    } else {
        words
    };
    let mut out: Vec<String> = Vec::new();
    match words.as_slice() {
        [] => out.extend(
            ext::available(known.protocol, caps)
                .iter()
                .map(|v| v.name.to_string()),
        ),
        [verb, rest @ ..] => {
            let verb = verb.to_ascii_uppercase();
            match verb.as_str() {
                "AUTH" | "AUTHENTICATE" if rest.is_empty() => out.extend(caps.auth_mechanisms()),
                "MAIL" if rest.is_empty() => out.push("FROM:<".into()),
                "RCPT" if rest.is_empty() => out.push("TO:<".into()),
                "MAIL" | "RCPT" if known.protocol.is_smtp() => {
                    for p in ext::params(&verb) {
                        let used = rest.iter().any(|w| ext::param_of(&verb, w) == Some(p));
                        if caps.has(p.needs) && !used {
                            out.push(p.text.to_string());
                        }
                    }
                }
                "ENABLE" if known.protocol == Protocol::Imap => {
                    out.extend(caps.keywords().filter(|k| !k.contains('=')));
                }
                "UID" if rest.is_empty() && known.protocol == Protocol::Imap => {
                    out.extend(
                        ["FETCH", "SEARCH", "STORE", "COPY", "MOVE", "EXPUNGE"].map(String::from),
                    );
                }
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn meta_candidates(known: &Known, words: &[&str]) -> Vec<String> {
    match words {
        [] => meta::META
            .iter()
            .filter(|m| !(m.name == ":starttls" && known.tls))
            .map(|m| m.name.to_string())
            .collect(),
        [name] if meta::find(name).is_ok_and(|m| m.name == ":auth") => {
            let mut v: Vec<String> = known.capabilities.auth_mechanisms();
            let extra = match known.protocol {
                Protocol::Imap if !known.capabilities.has("LOGINDISABLED") => Some("IMAP-LOGIN"),
                Protocol::Pop3 => Some("USER"),
                _ => None,
            };
            v.extend(extra.map(String::from));
            v.retain(|m| macros::is_method(m));
            v
        }
        [name, ..] if meta::find(name).is_ok_and(|m| m.name == ":send") => {
            super::args::send_flags()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(protocol: Protocol, caps: &[&str]) -> Known {
        Known {
            protocol,
            capabilities: Capabilities {
                items: caps.iter().map(|s| s.to_string()).collect(),
            },
            tls: false,
            mode: InputMode::Command,
        }
    }

    fn words(k: &Known, line: &str) -> Vec<String> {
        complete(k, line).1
    }

    #[test]
    fn commands_are_the_base_ones_and_the_advertised_extensions() {
        let bare = known(Protocol::Smtp, &[]);
        let all = words(&bare, "");
        assert!(all.contains(&"EHLO".to_string()) && all.contains(&"MAIL".to_string()));
        assert!(!all.contains(&"STARTTLS".to_string()));
        assert!(!all.contains(&"BDAT".to_string()));
        let k = known(
            Protocol::Smtp,
            &["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN", "CHUNKING"],
        );
        let all = words(&k, "");
        assert!(all.contains(&"STARTTLS".to_string()) && all.contains(&"BDAT".to_string()));
        assert_eq!(words(&k, "eh"), vec!["ehlo"]);
        assert_eq!(words(&k, "AUTH "), vec!["LOGIN", "PLAIN"]);
    }

    #[test]
    fn mail_and_rcpt_parameters_by_context() {
        let k = known(
            Protocol::Smtp,
            &["SIZE 100", "8BITMIME", "SMTPUTF8", "DSN", "AUTH PLAIN"],
        );
        let mail = words(&k, "MAIL FROM:<a@b> ");
        for p in ["SIZE=", "BODY=", "RET=", "ENVID=", "SMTPUTF8", "AUTH="] {
            assert!(mail.contains(&p.to_string()), "{p} in {mail:?}");
        }
        assert!(!mail.contains(&"NOTIFY=".to_string()));
        assert!(!mail.contains(&"REQUIRETLS".to_string()));
        // A parameter already given is not offered again.
        let again = words(&k, "MAIL FROM:<a@b> SIZE=10 ");
        assert!(!again.contains(&"SIZE=".to_string()), "{again:?}");
        let rcpt = words(&k, "RCPT TO:<a@b> ");
        assert_eq!(rcpt, vec!["NOTIFY=", "ORCPT="]);
        let plain = known(Protocol::Smtp, &["PIPELINING"]);
        assert!(words(&plain, "MAIL FROM:<a@b> ").is_empty());
        assert_eq!(words(&plain, "MAIL "), vec!["FROM:<"]);
    }

    #[test]
    fn imap_tags_and_mechanisms() {
        let k = known(
            Protocol::Imap,
            &["IMAP4rev1", "AUTH=PLAIN", "AUTH=SCRAM-SHA-256", "IDLE"],
        );
        assert_eq!(
            words(&k, "a1 AUTHENTICATE "),
            vec!["PLAIN", "SCRAM-SHA-256"]
        );
        assert!(words(&k, "a1 ").contains(&"IDLE".to_string()));
        assert!(!words(&k, "").contains(&"MOVE".to_string()));
    }

    #[test]
    fn meta_commands_by_state() {
        let mut k = known(Protocol::Smtp, &["AUTH PLAIN SCRAM-SHA-256", "STARTTLS"]);
        assert!(words(&k, ":").contains(&":starttls".to_string()));
        assert_eq!(words(&k, ":st"), vec![":starttls", ":stats"]);
        k.tls = true;
        assert_eq!(words(&k, ":st"), vec![":stats"]);
        assert_eq!(words(&k, ":auth "), vec!["PLAIN", "SCRAM-SHA-256"]);
        let pop = known(Protocol::Pop3, &["USER", "SASL PLAIN"]);
        assert_eq!(words(&pop, ":auth "), vec!["PLAIN", "USER"]);
        assert!(words(&k, ":send --pi").contains(&"--pipeline".to_string()));
    }

    #[test]
    fn nothing_in_content() {
        let mut k = known(Protocol::Smtp, &["PIPELINING"]);
        k.mode = InputMode::Message;
        assert!(words(&k, "").is_empty());
        assert!(words(&k, "MA").is_empty());
        // Meta-commands are meta-commands everywhere.
        assert!(!words(&k, ":q").is_empty());
    }
}
