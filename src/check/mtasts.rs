//! MTA-STS (RFC 8461): the `_mta-sts` TXT record, the policy file, and whether an MX host is
//! one the policy names.

/// The most a policy file may hold (RFC 8461 §3.2 leaves it open; 64 KiB is what senders use).
pub const MAX_POLICY: usize = 64 * 1024;
/// The longest `max_age` allowed (RFC 8461 §3.2: about a year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// The `_mta-sts.DOMAIN` TXT record: `v=STSv1; id=20160831085700Z;`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The policy's identifier: when it changes, the policy is fetched again.
    pub id: String,
}

/// Finds the MTA-STS record among the TXT records of `_mta-sts.DOMAIN` (each as its strings
/// joined). Records that do not start with `v=STSv1` are not about MTA-STS and are left out;
/// more than one that do is an error (RFC 8461 §3.1), so is a malformed one.
pub fn record(txts: &[String]) -> Result<Option<Record>, String> {
    let ours: Vec<&String> = txts
        .iter()
        .filter(|t| t.trim_start().starts_with("v=STSv1"))
        .collect();
    let text = match ours.as_slice() {
        [] => return Ok(None),
        [one] => one.as_str(),
        _ => return Err("more than one MTA-STS TXT record (RFC 8461 §3.1)".into()),
    };
    let mut fields = fields(text, ';');
    if fields.next() != Some(("v", "STSv1")) {
        return Err(format!("{text:?} does not start with v=STSv1"));
    }
    let mut id = None;
    for (key, value) in fields {
        if key == "id" {
            if value.is_empty()
                || value.len() > 32
                || !value.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "MTA-STS id {value:?} is not 1 to 32 letters and digits"
                ));
            }
            id = Some(value.to_string());
        }
    }
    match id {
        Some(id) => Ok(Some(Record { id })),
        None => Err(format!("{text:?} has no id")),
    }
}

/// `key=value` fields separated by `sep`, spaces around them dropped; empty fields skipped.
fn fields(text: &str, sep: char) -> impl Iterator<Item = (&str, &str)> {
    text.split(sep).filter_map(|f| {
        let f = f.trim();
        if f.is_empty() {
            return None;
        }
        Some(match f.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (f, ""),
        })
    })
}

/// What the policy asks of senders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Deliver only to a listed MX over TLS with a valid certificate.
    Enforce,
    /// Report failures, deliver anyway.
    Testing,
    /// No policy (the domain is leaving MTA-STS).
    None,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A policy file (`https://mta-sts.DOMAIN/.well-known/mta-sts.txt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// MX patterns: a host name, or `*.` and a domain (one label in place of the star).
    pub mx: Vec<String>,
    /// Seconds the policy may be cached.
    pub max_age: u64,
}

/// Parses a policy file (RFC 8461 §3.2): `key: value` lines ended by CRLF or LF, `version:
/// STSv1` first; `mode` and `max_age` once each; `mx` once or more (not needed for mode none);
/// unknown keys are ignored.
pub fn policy(body: &[u8]) -> Result<Policy, String> {
    if body.len() > MAX_POLICY {
        return Err(format!("the policy is larger than {MAX_POLICY} bytes"));
    }
    let text = std::str::from_utf8(body).map_err(|_| "the policy is not UTF-8".to_string())?;
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty());
    let mut pair = |l: &str| -> Result<(String, String), String> {
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| format!("policy line {l:?} is not `key: value`"))?;
        Ok((k.trim().to_string(), v.trim().to_string()))
    };
    match lines.next().map(&mut pair).transpose()? {
        Some((k, v)) if k == "version" && v == "STSv1" => {}
        Some((k, v)) => {
            return Err(format!(
                "the policy starts with {k}: {v}, not version: STSv1"
            ))
        }
        None => return Err("the policy is empty".into()),
    }
    let (mut mode, mut max_age, mut mx) = (None, None, Vec::new());
    for line in lines {
        let (k, v) = pair(line)?;
        match k.as_str() {
            "mode" => {
                if mode.is_some() {
                    return Err("mode given twice".into());
                }
                mode = Some(match v.as_str() {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => return Err(format!("unknown mode {other:?}")),
                });
            }
            "max_age" => {
                if max_age.is_some() {
                    return Err("max_age given twice".into());
                }
                let n: u64 = v
                    .parse()
                    .ok()
                    .filter(|_| {
                        !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit())
                    })
                    .ok_or_else(|| format!("max_age {v:?} is not a number of seconds"))?;
                if n > MAX_AGE_LIMIT {
                    return Err(format!("max_age {n} is above {MAX_AGE_LIMIT}"));
                }
                max_age = Some(n);
            }
            "mx" => mx.push(v.to_ascii_lowercase()),
            _ => {}
        }
    }
    let mode = mode.ok_or("the policy has no mode")?;
    let max_age = max_age.ok_or("the policy has no max_age")?;
    if mx.is_empty() && mode != Mode::None {
        return Err(format!("a {} policy names no mx", mode.name()));
    }
    Ok(Policy { mode, mx, max_age })
}

impl Policy {
    /// Whether `host` (an MX name, trailing dot allowed) is one the policy names.
    pub fn allows(&self, host: &str) -> bool {
        self.mx.iter().any(|p| mx_matches(p, host))
    }
}

/// RFC 8461 §4.1: a pattern is a host name, or `*.` and a domain where the star stands for
/// exactly one label; case does not matter.
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == domain),
        None => host == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_txt_record() {
        assert_eq!(
            record(&txts(&["v=STSv1; id=20160831085700Z;"])).unwrap(),
            Some(Record {
                id: "20160831085700Z".into()
            })
        );
        assert_eq!(
            record(&txts(&["other=1", "v=STSv1;id=abc"]))
                .unwrap()
                .unwrap()
                .id,
            "abc"
        );
        assert_eq!(
            record(&txts(&["google-site-verification=x"])).unwrap(),
            None
        );
        assert!(record(&txts(&["v=STSv1; id=a", "v=STSv1; id=b"])).is_err());
        assert!(record(&txts(&["v=STSv1;"])).is_err());
        assert!(record(&txts(&["v=STSv1; id=has-dash"])).is_err());
        assert!(record(&txts(&[&format!("v=STSv1; id={}", "a".repeat(33))])).is_err());
    }

    #[test]
    fn a_policy_file() {
        let p = policy(
            b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.Example.NET\r\nmax_age: 604800\r\nextension: ignored\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert_eq!(p.mx, vec!["mail.example.com", "*.example.net"]);
        assert!(p.allows("MAIL.example.com."));
        assert!(p.allows("mx1.example.net"));
        assert!(!p.allows("a.b.example.net"));
        assert!(!p.allows("example.net"));
        assert!(!p.allows("evil-example.com"));
        // LF line ends do too; mode none needs no mx.
        let none = policy(b"version: STSv1\nmode: none\nmax_age: 0\n").unwrap();
        assert_eq!((none.mode, none.max_age, none.mx.len()), (Mode::None, 0, 0));
    }

    #[test]
    fn policy_errors() {
        for (body, why) in [
            (&b""[..], "empty"),
            (b"mode: enforce\nversion: STSv1\n", "starts with"),
            (b"version: STSv1\nmode: enforce\nmax_age: 10\n", "no mx"),
            (
                b"version: STSv1\nmode: strict\nmx: a\nmax_age: 10\n",
                "unknown mode",
            ),
            (b"version: STSv1\nmode: testing\nmx: a\n", "no max_age"),
            (
                b"version: STSv1\nmode: testing\nmx: a\nmax_age: 31557601\n",
                "above",
            ),
            (
                b"version: STSv1\nmode: testing\nmx: a\nmax_age: -1\n",
                "not a number",
            ),
            (
                b"version: STSv1\nmode: testing\nmode: none\nmx: a\nmax_age: 1\n",
                "twice",
            ),
            (b"version: STSv1\nno colon here\n", "key: value"),
            (b"version: STSv1\nmode: \xff\n", "UTF-8"),
        ] {
            let e = policy(body).unwrap_err();
            assert!(
                e.contains(why),
                "{e:?} for {:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(policy(&vec![b'x'; MAX_POLICY + 1]).is_err());
    }

    #[test]
    fn mx_patterns() {
        assert!(mx_matches("mx.example.com", "MX.Example.com"));
        assert!(mx_matches("*.example.com", "mx.example.com."));
        assert!(!mx_matches("*.example.com", ".example.com"));
        assert!(!mx_matches("*.example.com", "example.com"));
        assert!(!mx_matches("mx.example.com", "mx.example.com.evil"));
    }
}
