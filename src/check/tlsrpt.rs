//! TLS-RPT (RFC 8460): the `_smtp._tls.DOMAIN` TXT record that says where senders report TLS
//! failures.

/// The record: where reports go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// `mailto:` and `https:` URIs, in order.
    pub rua: Vec<String>,
}

/// Finds the TLS-RPT record among the TXT records (each as its strings joined): `v=TLSRPTv1;
/// rua=mailto:tls@example.com,https://…`. Records not starting with `v=TLSRPTv1` are left out;
/// more than one that do is an error (RFC 8460 §3).
pub fn record(txts: &[String]) -> Result<Option<Record>, String> {
    let ours: Vec<&String> = txts
        .iter()
        .filter(|t| t.trim_start().starts_with("v=TLSRPTv1"))
        .collect();
    let text = match ours.as_slice() {
        [] => return Ok(None),
        [one] => one.as_str(),
        _ => return Err("more than one TLS-RPT TXT record (RFC 8460 §3)".into()),
    };
    let rua: Vec<String> = text
        .split(';')
        .filter_map(|f| f.trim().strip_prefix("rua="))
        .flat_map(|v| v.split(','))
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if rua.is_empty() {
        return Err(format!("{text:?} names no rua"));
    }
    if let Some(bad) = rua
        .iter()
        .find(|u| !(u.starts_with("mailto:") || u.starts_with("https://")))
    {
        return Err(format!("rua {bad:?} is neither mailto: nor https://"));
    }
    Ok(Some(Record { rua }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let r = record(&[
            "v=spf1 -all".to_string(),
            "v=TLSRPTv1; rua=mailto:tls@example.com, https://r.example.com/v1".to_string(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            r.rua,
            vec!["mailto:tls@example.com", "https://r.example.com/v1"]
        );
        assert_eq!(record(&[]).unwrap(), None);
        assert!(record(&["v=TLSRPTv1;".to_string()]).is_err());
        assert!(record(&["v=TLSRPTv1; rua=ftp://x".to_string()]).is_err());
        assert!(record(&[
            "v=TLSRPTv1; rua=mailto:a@x".to_string(),
            "v=TLSRPTv1; rua=mailto:b@x".to_string()
        ])
        .is_err());
    }
}
