//! The Aliyun RPC parameter parser and the ACS3 `Authorization` header parser, alone (fast
//! enough for tens of millions of inputs; `aliyun_rpc` drives them through the server).

use ota_api::aliyun::fuzzing::{Params, canonical_request, decode_pairs, parse_authorization};
use ota_api::aliyun::sign_v1;

/// Input: `query \n form-body \n Authorization-value` (lossy UTF-8, as the server reads).
pub fn aliyun_params(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (query, form, authorization) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let pairs = decode_pairs(query);
    let params = Params::from_pairs(pairs.iter().cloned().chain(decode_pairs(form)));
    // The first occurrence of a name wins.
    let mut first = std::collections::HashMap::new();
    for (k, v) in &pairs {
        first.entry(k.as_str()).or_insert(v.as_str());
    }
    for (k, v) in first {
        assert_eq!(params.get(k), Some(v), "{k}");
    }
    for name in ["TargetDeviceName", "SrcVersion", "Tag", "DeviceName"] {
        let list = params.list(name);
        let records = params.records(name);
        assert!(list.len() + records.len() <= params.all().len());
        let _ = params.tags(name);
    }
    for name in ["NeedPush", "Type", "PageSize", "Action"] {
        let _ = (params.int(name), params.bool(name), params.required(name));
    }
    // Percent-encoding is what both signatures canonicalise with: it must decode back.
    for (k, v) in params.all() {
        let round = decode_pairs(&format!(
            "{}={}",
            sign_v1::percent_encode(k),
            sign_v1::percent_encode(v)
        ));
        assert_eq!(
            round,
            vec![(k.clone(), v.clone())],
            "percent-encoding round trip"
        );
    }
    let sts = sign_v1::string_to_sign("POST", params.all());
    assert!(sts.is_ascii(), "v1 string to sign is not ASCII");
    if let Some(auth) = parse_authorization(authorization) {
        assert!(!auth.key_id.is_empty());
        assert_eq!(auth.signature, auth.signature.to_ascii_lowercase());
        let canonical = canonical_request(
            "POST",
            "/",
            &pairs,
            &http::HeaderMap::new(),
            &auth.signed_headers,
            "",
        );
        assert!(canonical.starts_with("POST\n/\n"));
    }
}
