//! RPC parameters: the query string merged with a form body, repeated parameters spelled
//! `Name.N` and `Name.N.Sub`, booleans `true`/`True`, integers. Conversion only; the rules
//! about values live in `ota_domain::validate` and `ota_core`.

use ota_domain::DomainError;
use ota_domain::validate::{parse_bool, parse_int};
use std::collections::BTreeMap;

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
pub fn decode_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?) as u8))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 percent-encoding (unreserved characters stay), as both signature versions
/// canonicalize.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The parameters of one request. The first occurrence of a name wins.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            map.entry(k).or_insert(v);
        }
        Self { map }
    }

    /// Every parameter, for signature checks.
    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.map
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A string parameter as given (an empty value counts as given).
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// A parameter that must be present and non-empty.
    pub fn required(&self, name: &str) -> Result<String, DomainError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v.to_owned()),
            _ => Err(DomainError::invalid(name, "is required")),
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, DomainError> {
        self.get(name).map(|v| parse_int(name, v)).transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, DomainError> {
        self.get(name).map(|v| parse_bool(name, v)).transpose()
    }

    /// `Name.1`, `Name.2`, … in index order.
    pub fn list(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}.");
        let mut items: Vec<(u32, String)> = self
            .map
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, v)| Some((k[prefix.len()..].parse().ok()?, v.clone())))
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// `Name.N.Sub` records in index order, each as sub-name → value.
    pub fn records(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let prefix = format!("{name}.");
        let mut items: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in self
            .map
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            if let Some((index, sub)) = k[prefix.len()..].split_once('.')
                && let Ok(index) = index.parse()
            {
                items
                    .entry(index)
                    .or_default()
                    .insert(sub.to_owned(), v.clone());
            }
        }
        items.into_values().collect()
    }

    /// `Prefix.N.Key` / `Prefix.N.Value` pairs in index order.
    pub fn tags(&self, prefix: &str) -> Vec<(Option<String>, Option<String>)> {
        self.records(prefix)
            .into_iter()
            .map(|mut r| (r.remove("Key"), r.remove("Value")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::from_pairs(decode_pairs(q))
    }

    #[test]
    fn repeated_and_nested() {
        let p = params(
            "TargetDeviceName.10=j&TargetDeviceName.2=b&TargetDeviceName.1=a&Tag.1.Key=k&Tag.1.Value=v+w&Tag.2.Value=x",
        );
        assert_eq!(p.list("TargetDeviceName"), ["a", "b", "j"]);
        assert_eq!(
            p.tags("Tag"),
            vec![
                (Some("k".into()), Some("v w".into())),
                (None, Some("x".into()))
            ]
        );
    }

    #[test]
    fn scalars() {
        let p = params("NeedPush=True&NeedConfirm=false&Type=1&Bad=%ZZ&Name=%E4%B8%AD");
        assert_eq!(p.bool("NeedPush").unwrap(), Some(true));
        assert_eq!(p.bool("NeedConfirm").unwrap(), Some(false));
        assert_eq!(p.int("Type").unwrap(), Some(1));
        assert_eq!(p.get("Bad"), Some("%ZZ"));
        assert_eq!(p.get("Name"), Some("中"));
        assert_eq!(p.bool("Type").unwrap_err().field.as_deref(), Some("Type"));
        assert_eq!(percent_encode("a b*~/"), "a%20b%2A~%2F");
    }
}
