//! Authorization server metadata (OIDC Discovery §4, RFC 8414 §3): `discovery::parse` and
//! `discovery::metadata_urls`.
//!
//! Input: a first line, the configured issuer, then the metadata document. A document that
//! parses names exactly that issuer and an acceptable token endpoint; errors are configuration
//! errors that name the URL and stay short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenfetch::config::endpoint_url;
use tokenfetch::url::normalize;
use tokenfetch::discovery::{metadata_urls, parse};
use tokenfetch::ErrorCode;

/// A value to check from a server list: its first, or `any` when there is no list.
fn pick<'a>(list: &'a Option<Vec<String>>, any: &'a str) -> Option<&'a str> {
    match list {
        Some(l) => l.first().map(String::as_str),
        None => Some(any),
    }
}

const URL: &str = "https://as.example/.well-known/openid-configuration";

fuzz_target!(|data: &[u8]| {
    let newline = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(issuer) = std::str::from_utf8(&data[..newline]) else {
        return;
    };
    let body = data.get(newline + 1..).unwrap_or_default();

    let [openid, oauth] = metadata_urls(issuer);
    assert!(openid.ends_with("/.well-known/openid-configuration"));
    assert!(oauth.contains("/.well-known/oauth-authorization-server"));
    // Options validate the issuer before discovery; for such URLs both keep the origin.
    if normalize("issuer", issuer).is_ok() {
        assert!(openid.starts_with(issuer.trim_end_matches('/')), "{openid}");
        let (scheme, rest) = issuer.split_once("://").expect("a URL");
        let authority = rest.split('/').next().unwrap_or_default();
        assert!(oauth.starts_with(&format!("{scheme}://{authority}/.well-known/")), "{oauth}");
    }

    for status in [200, 404] {
        match parse(issuer, URL, status, body) {
            Ok(m) => {
                assert_eq!(status, 200);
                assert_eq!(m.issuer, issuer, "RFC 8414 §3.3: the issuer is the configured one");
                // In normal form: normalizing again changes nothing.
                assert_eq!(endpoint_url("t", &m.token_endpoint).as_ref(), Ok(&m.token_endpoint));
                // A value the server lists passes `check`; an absent list allows anything.
                let method = pick(&m.auth_methods, "private_key_jwt");
                let (alg, dpop) = (pick(&m.auth_signing_algs, "PS384"), pick(&m.dpop_algs, "ES512"));
                if let Some(method) = method {
                    assert_eq!(m.check(method, alg, dpop), Ok(()));
                }
            }
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidConfig);
                assert!(e.message.starts_with("issuer: ") && e.message.ends_with(&format!("({URL})")));
                assert!(!e.message.chars().any(char::is_control), "{:?}", e.message);
                assert!(e.message.chars().count() < 200, "{:?}", e.message);
                assert_eq!(e.status, (status != 200).then_some(status));
            }
        }
    }
});
