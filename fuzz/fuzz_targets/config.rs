//! Client options (`config::parse`, `config::parse_with`) and per-call options
//! (`config::parse_request`), as JSON: once as serde reads the input, and once the way the wasm
//! glue feeds them (the bytes `JSON.stringify` gave, through tokenfetch's own JSON parser, into
//! `parse_with`, with host keys as when the caller passed `CryptoKey`s, and `parse_request`).
//!
//! Errors are `invalid_config` / `invalid_argument` naming a field, and neither an error nor a
//! parsed configuration's `Debug` shows the client secret, a subject token or a private key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokenfetch::config::{self, DpopSetting, HostKeys};
use tokenfetch::jose::Alg;
use tokenfetch::key::SigningKey;
use tokenfetch::ErrorCode;

const SECRET: &str = "secret-SENTINEL-51c0d3";

/// `value` with the string at `path` replaced by [`SECRET`], when there is one.
fn with_secret(value: &Value, path: &[&str]) -> Option<Value> {
    let mut out = value.clone();
    let slot = path.iter().try_fold(&mut out, |v, k| v.get_mut(*k))?;
    if !slot.is_string() {
        return None;
    }
    *slot = SECRET.into();
    Some(out)
}

/// The options as tokenfetch's JSON value.
fn parse(options: &Value) -> tokenfetch::Result<config::ClientConfig> {
    config::parse(&options.clone().into())
}

fn parse_request(options: &Value) -> tokenfetch::Result<tokenfetch::RequestOptions> {
    config::parse_request(&options.clone().into())
}

fn contains_secret(s: &str) -> bool {
    s.contains(SECRET)
}

/// Keys the host holds (a caller's `CryptoKey`s), as the glue registers them.
fn host_keys(data: &[u8]) -> HostKeys {
    let alg = [Alg::Es256, Alg::Rs256, Alg::Ps512, Alg::Es512][data.len() % 4];
    HostKeys {
        client_auth: SigningKey::external("cryptokey-1", alg, Some("kid-1"), None).ok(),
        dpop: SigningKey::external("cryptokey-2", Alg::Es256, None, None).ok(),
    }
}

/// The glue's path: `JSON.stringify` of the caller's values, read by tokenfetch's JSON parser.
fn glue_path(data: &[u8]) {
    let Some(value) = tokenfetch::json::parse(data) else {
        return;
    };
    for keys in [HostKeys::default(), host_keys(data)] {
        if let Err(e) = config::parse_with(&value, keys) {
            assert_eq!(e.code, ErrorCode::InvalidConfig);
            assert!(!e.message.starts_with(':') && e.message.contains(": "), "{:?}", e.message);
            assert!(!e.message.chars().any(char::is_control), "{:?}", e.message);
        }
    }
    if let Err(e) = config::parse_request(&value) {
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.starts_with("req"), "{:?}", e.message);
    }
}

fuzz_target!(|data: &[u8]| {
    if data.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()) {
        return;
    }
    glue_path(data);
    let Ok(options) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // A private key's "d", when it looks like key material and the input has it only once (so
    // finding it elsewhere is a leak, not a copy the fuzzer made).
    let private_d = ["/clientAuth/privateJwk/d", "/dpop/privateJwk/d"]
        .into_iter()
        .filter_map(|p| options.pointer(p)?.as_str())
        .filter(|d| d.len() >= 16 && d.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)))
        .filter(|d| data.windows(d.len()).filter(|w| *w == d.as_bytes()).count() == 1)
        .collect::<Vec<_>>();

    match parse(&options) {
        Ok(config) => {
            let mut debug = format!("{config:?}");
            if let DpopSetting::Key(key) = &config.dpop {
                // The thumbprint is public and printed; it is no copy of "d".
                debug = debug.replace(key.thumbprint().unwrap_or("\0"), "");
            }
            assert!(private_d.iter().all(|d| !debug.contains(d)), "private key in Debug");
            assert!(!config.client_id.is_empty());
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidConfig);
            assert!(!e.message.starts_with(':') && e.message.contains(": "), "{:?}", e.message);
            assert!(private_d.iter().all(|d| !e.message.contains(d)), "private key in message");
        }
    }
    for path in [&["clientAuth", "clientSecret"][..], &["tokenExchange", "actorToken"]] {
        if let Some(options) = with_secret(&options, path) {
            match parse(&options) {
                Ok(config) => assert!(!contains_secret(&format!("{config:?}")), "secret in Debug"),
                Err(e) => assert!(!contains_secret(&e.message), "secret in {:?}", e.message),
            }
        }
    }

    match parse_request(&options) {
        Ok(req) => assert!(!contains_secret(&format!("{req:?}"))),
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidArgument);
            assert!(e.message.starts_with("req"), "{:?}", e.message);
        }
    }
    if let Some(req) = with_secret(&options, &["subjectToken"]) {
        match parse_request(&req) {
            Ok(req) => assert!(!contains_secret(&format!("{req:?}")), "subject token in Debug"),
            Err(e) => assert!(!contains_secret(&e.message), "subject token in {:?}", e.message),
        }
    }
});
