//! Script variables: `${NAME}` in a line is replaced by a captured value or, failing that, by
//! the environment variable of that name.
//!
//! - `$${` stands for a literal `${`; a `$` not followed by `{` is kept as it is.
//! - Names are `[A-Za-z_][A-Za-z0-9_]*`; an undefined name is an error naming it.
//! - Replacement is done once: a value that itself contains `${…}` is inserted as it is.
//! - Values may contain anything (a capture holds server text): whoever sends the
//!   interpolated line checks it for CR, LF and NUL first ([`crate::proto::check_line`]).
//!
//! `:capture NAME /REGEX/flags` stores, from the first status line of the last reply that
//! matches, the group named NAME if the regex has one, else group 1 if it has groups, else the
//! whole match.

use std::collections::HashMap;

use super::expect::{clip, parse_regex, quote};
use crate::proto::Reply;

/// Captured variables, with the environment behind them.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    values: HashMap<String, String>,
}

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }

    /// Defines (or replaces) a variable.
    pub fn set(&mut self, name: &str, value: String) {
        self.values.insert(name.to_string(), value);
    }

    /// A captured variable, else the environment variable (when the name is a valid variable
    /// name and the value is valid UTF-8).
    pub fn get(&self, name: &str) -> Option<String> {
        if let Some(value) = self.values.get(name) {
            return Some(value.clone());
        }
        if !valid_name(name) {
            return None;
        }
        std::env::var(name).ok()
    }

    /// Replaces every `${NAME}` in `line`; `$${` gives `${`.
    pub fn interpolate(&self, line: &str) -> Result<String, String> {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(i) = rest.find('$') {
            out.push_str(rest.get(..i).unwrap_or(""));
            let tail = rest.get(i..).unwrap_or("");
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let end = after.find('}').ok_or_else(|| {
                    format!(
                        "unterminated ${{ in \"{}\": write ${{NAME}}, or $${{ for a literal ${{",
                        clip(line)
                    )
                })?;
                let name = after.get(..end).unwrap_or("");
                if !valid_name(name) {
                    return Err(format!(
                        "invalid variable name \"{}\" in ${{{}}}: {NAME_RULE}",
                        clip(name),
                        clip(name)
                    ));
                }
                let value = self.get(name).ok_or_else(|| {
                    format!("undefined variable ${{{name}}} (write $${{ for a literal ${{)")
                })?;
                out.push_str(&value);
                rest = after.get(end.saturating_add(1)..).unwrap_or("");
            } else {
                out.push('$');
                rest = tail.get(1..).unwrap_or("");
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Checks the `${NAME}` syntax of a line without looking the names up (a script is checked
    /// before it runs, when captured values do not exist yet).
    pub fn check_syntax(line: &str) -> Result<(), String> {
        let mut rest = line;
        while let Some(i) = rest.find('$') {
            let tail = rest.get(i..).unwrap_or("");
            if let Some(after) = tail.strip_prefix("$${") {
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let end = after.find('}').ok_or_else(|| {
                    format!(
                        "unterminated ${{ in \"{}\": write ${{NAME}}, or $${{ for a literal ${{",
                        clip(line)
                    )
                })?;
                let name = after.get(..end).unwrap_or("");
                if !valid_name(name) {
                    return Err(format!(
                        "invalid variable name \"{}\" in ${{{}}}: {NAME_RULE}",
                        clip(name),
                        clip(name)
                    ));
                }
                rest = after.get(end.saturating_add(1)..).unwrap_or("");
            } else {
                rest = tail.get(1..).unwrap_or("");
            }
        }
        Ok(())
    }

    /// Checks `:capture NAME /REGEX/flags` without running it.
    pub fn check_capture(args: &str) -> Result<(), String> {
        let args = args.trim();
        let (name, pattern) = match args.split_once(char::is_whitespace) {
            Some((name, pattern)) => (name, pattern.trim()),
            None => (args, ""),
        };
        if name.is_empty() || pattern.is_empty() {
            return Err("usage: :capture NAME /REGEX/".to_string());
        }
        if !valid_name(name) {
            return Err(format!(
                "invalid variable name \"{}\": {NAME_RULE}",
                clip(name)
            ));
        }
        if pattern.contains("${") {
            return Vars::check_syntax(pattern);
        }
        parse_regex(pattern).map(|_| ())
    }

    /// Runs `:capture NAME /REGEX/flags` against a reply; stores and returns the value.
    pub fn capture(&mut self, args: &str, reply: Option<&Reply>) -> Result<String, String> {
        let args = args.trim();
        let (name, pattern) = match args.split_once(char::is_whitespace) {
            Some((name, pattern)) => (name, pattern.trim()),
            None => (args, ""),
        };
        if name.is_empty() || pattern.is_empty() {
            return Err("usage: :capture NAME /REGEX/".to_string());
        }
        if !valid_name(name) {
            return Err(format!(
                "invalid variable name \"{}\": {NAME_RULE}",
                clip(name)
            ));
        }
        let pattern = parse_regex(pattern)?;
        let reply = reply.ok_or_else(|| "no reply to capture from".to_string())?;
        let regex = &pattern.regex;
        let named = regex.capture_names().any(|n| n == Some(name));
        let groups = regex.captures_len();
        for line in &reply.lines {
            let text = String::from_utf8_lossy(line);
            let Some(caps) = regex.captures(&text) else {
                continue;
            };
            let (group, which) = if named {
                (caps.name(name), format!("group {name}"))
            } else if groups > 1 {
                (caps.get(1), "group 1".to_string())
            } else {
                (caps.get(0), "the match".to_string())
            };
            let value = group
                .ok_or_else(|| {
                    format!(
                        "{} matched \"{}\", but {which} took no part in the match",
                        pattern.source,
                        quote(&text)
                    )
                })?
                .as_str()
                .to_string();
            self.set(name, value.clone());
            return Ok(value);
        }
        let all: Vec<String> = reply
            .lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        Err(format!(
            "no match for {} in {}",
            pattern.source,
            quote(&all.join(" | "))
        ))
    }
}

const NAME_RULE: &str = "names are letters, digits and _, and do not start with a digit";

/// `[A-Za-z_][A-Za-z0-9_]*`
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Outcome;

    fn reply(lines: &[&[u8]]) -> Reply {
        Reply {
            code: crate::proto::smtp::Code::new(250),
            lines: lines.iter().map(|l| l.to_vec()).collect(),
            ..Reply::line(Outcome::Ok, Vec::new())
        }
    }

    #[test]
    fn names() {
        for ok in ["A", "_", "a1", "MAILTALK_PASSWORD", "_x_9"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a b", "é", "a.b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn interpolation() {
        let mut v = Vars::new();
        v.set("USER", "alice".to_string());
        v.set("ID", "4F2A".to_string());
        assert_eq!(
            v.interpolate("A1 LOGIN ${USER} x").unwrap(),
            "A1 LOGIN alice x"
        );
        assert_eq!(v.interpolate("${USER}${ID}").unwrap(), "alice4F2A");
        assert_eq!(v.interpolate("no vars here").unwrap(), "no vars here");
        assert_eq!(v.interpolate("").unwrap(), "");
        assert_eq!(
            v.interpolate("cost $5, $USER, $").unwrap(),
            "cost $5, $USER, $"
        );
        assert_eq!(v.interpolate("$${USER}").unwrap(), "${USER}");
        assert_eq!(v.interpolate("$$${USER}").unwrap(), "$${USER}");
        assert_eq!(v.interpolate("$$$${USER}").unwrap(), "$$${USER}");
        assert_eq!(v.interpolate("$${USER} ${USER}").unwrap(), "${USER} alice");
        assert_eq!(v.interpolate("$$USER").unwrap(), "$$USER");
        assert_eq!(v.interpolate("é${ID}ü").unwrap(), "é4F2Aü");
        // Values are inserted once, not interpolated again.
        v.set("NESTED", "${USER}".to_string());
        assert_eq!(v.interpolate("${NESTED}").unwrap(), "${USER}");
        // Captured values go in as they are, control bytes included.
        v.set("RAW", "a\r\nb".to_string());
        assert_eq!(v.interpolate("x ${RAW}").unwrap(), "x a\r\nb");
    }

    #[test]
    fn environment_fallback() {
        // cargo sets CARGO_PKG_NAME in the environment of the tests it runs.
        let mut v = Vars::new();
        assert_eq!(v.get("CARGO_PKG_NAME").as_deref(), Some("mailtalk"));
        assert_eq!(
            v.interpolate("pkg=${CARGO_PKG_NAME}").unwrap(),
            "pkg=mailtalk"
        );
        v.set("CARGO_PKG_NAME", "captured".to_string());
        assert_eq!(v.get("CARGO_PKG_NAME").as_deref(), Some("captured"));
        assert_eq!(v.interpolate("${CARGO_PKG_NAME}").unwrap(), "captured");
        assert_eq!(v.get("MAILTALK_SURELY_UNDEFINED_VARIABLE_42"), None);
        assert_eq!(v.get(""), None);
        assert_eq!(v.get("A=B"), None);
        assert_eq!(v.get("A\0B"), None);
    }

    #[test]
    fn interpolation_errors() {
        let v = Vars::new();
        assert_eq!(
            v.interpolate("RCPT TO:<${MAILTALK_SURELY_UNDEFINED_VARIABLE_42}>"),
            Err(
                "undefined variable ${MAILTALK_SURELY_UNDEFINED_VARIABLE_42} (write $${ for a \
                 literal ${)"
                    .to_string()
            )
        );
        assert_eq!(
            v.interpolate("MAIL FROM:<${USER>"),
            Err(
                "unterminated ${ in \"MAIL FROM:<${USER>\": write ${NAME}, or $${ for a literal ${"
                    .to_string()
            )
        );
        assert_eq!(
            v.interpolate("x ${1abc} y"),
            Err(
                "invalid variable name \"1abc\" in ${1abc}: names are letters, digits and _, \
                 and do not start with a digit"
                    .to_string()
            )
        );
        assert_eq!(
            v.interpolate("${}"),
            Err(
                "invalid variable name \"\" in ${}: names are letters, digits and _, and do \
                 not start with a digit"
                    .to_string()
            )
        );
        assert_eq!(
            v.interpolate("${a b}"),
            Err(
                "invalid variable name \"a b\" in ${a b}: names are letters, digits and _, \
                 and do not start with a digit"
                    .to_string()
            )
        );
    }

    #[test]
    fn capture_group_one() {
        let mut v = Vars::new();
        let r = reply(&[b"250 2.0.0 Ok: queued as 4F2A1C3"]);
        assert_eq!(
            v.capture("QID /queued as ([0-9A-F]+)/", Some(&r)),
            Ok("4F2A1C3".to_string())
        );
        assert_eq!(v.get("QID").as_deref(), Some("4F2A1C3"));
        assert_eq!(v.interpolate("id ${QID}").unwrap(), "id 4F2A1C3");
    }

    #[test]
    fn capture_named_group_and_whole_match() {
        let mut v = Vars::new();
        let r = reply(&[
            b"250-mx.example.com",
            b"250-SIZE 35882577",
            b"250 AUTH PLAIN LOGIN",
        ]);
        // The group named like the variable wins over group 1.
        assert_eq!(
            v.capture("MECH /(AUTH) (?P<MECH>\\w+)/", Some(&r)),
            Ok("PLAIN".to_string())
        );
        // Other named groups are ordinary groups: group 1 is taken.
        assert_eq!(
            v.capture("SIZE /SIZE (?P<n>\\d+)/", Some(&r)),
            Ok("35882577".to_string())
        );
        // No group: the whole match; the first line that matches.
        assert_eq!(
            v.capture("HOST /[a-z]+\\.example\\.com/", Some(&r)),
            Ok("mx.example.com".to_string())
        );
        assert_eq!(
            v.capture("LAST /^250 .*/", Some(&r)),
            Ok("250 AUTH PLAIN LOGIN".to_string())
        );
        assert_eq!(
            v.capture("W /auth \\w+/i", Some(&r)),
            Ok("AUTH PLAIN".into())
        );
        assert_eq!(v.get("MECH").as_deref(), Some("PLAIN"));
        assert_eq!(v.get("SIZE").as_deref(), Some("35882577"));
        assert_eq!(v.get("HOST").as_deref(), Some("mx.example.com"));
    }

    #[test]
    fn capture_failures() {
        let mut v = Vars::new();
        let r = reply(&[b"250-one", b"250 two \x1b[31m"]);
        assert_eq!(
            v.capture("X /three/", Some(&r)),
            Err("no match for /three/ in 250-one | 250 two \x1b[31m".to_string())
        );
        assert_eq!(v.get("X"), None);
        assert_eq!(
            v.capture("X /(a)?two/", Some(&r)),
            Err(
                "/(a)?two/ matched \"250 two \x1b[31m\", but group 1 took no part in the match"
                    .to_string()
            )
        );
        assert_eq!(
            v.capture("X /one/", None),
            Err("no reply to capture from".to_string())
        );
        let usage = Err("usage: :capture NAME /REGEX/".to_string());
        assert_eq!(v.capture("", Some(&r)), usage);
        assert_eq!(v.capture("X", Some(&r)), usage);
        assert_eq!(v.capture("/one/", Some(&r)), usage);
        assert_eq!(
            v.capture("9X /one/", Some(&r)),
            Err(
                "invalid variable name \"9X\": names are letters, digits and _, and do not \
                 start with a digit"
                    .to_string()
            )
        );
        assert_eq!(
            v.capture("X one", Some(&r)),
            Err("a regex is written /REGEX/, not \"one\"".to_string())
        );
        assert_eq!(
            v.capture("X /(/", Some(&r)),
            Err("invalid regex /(/: unclosed group".to_string())
        );
    }
}
