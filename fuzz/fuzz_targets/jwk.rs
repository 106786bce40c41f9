//! JWK parsing: the input is a JSON document read as a private JWK by `SigningKey::from_jwk`
//! (with several `alg` overrides), as a public JWK by `jwk::thumbprint` and
//! `SigningKey::with_public_jwk`. A key that parses has a consistent public half and thumbprint,
//! ES256 keys sign verifiably, and neither `Debug` nor an error message carries private material.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::json;
use tokenfetch::jose::{b64url_decode, Alg};
use tokenfetch::json::Value;
use tokenfetch::jwk::thumbprint;
use tokenfetch::key::SigningKey;
use tokenfetch::ErrorCode;

/// Private members of EC and RSA JWKs (RFC 7518 §6.2.2, §6.3.2).
const PRIVATE: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// Private member values that look like key material (base64url, at least 16 characters) and
/// occur once in the input, so finding one in a message is a leak, not the fuzzer having copied
/// it into `crv` or `kid` or the message's own words into `d`.
fn secrets<'a>(jwk: &'a Value, data: &[u8]) -> Vec<&'a str> {
    let material =
        |s: &&str| s.len() >= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    let once = |s: &&str| data.windows(s.len()).filter(|w| *w == s.as_bytes()).count() == 1;
    PRIVATE.iter().filter_map(|m| jwk.get(m)?.as_str()).filter(material).filter(once).collect()
}

fn check_message(field: &str, message: &str, secrets: &[&str]) {
    assert!(message.starts_with(field), "message names the field: {message:?}");
    assert!(!message.chars().any(char::is_control), "control character in {message:?}");
    assert!(message.chars().count() < 200, "long message {message:?}");
    for s in secrets {
        assert!(!message.contains(s), "private member in message {message:?}");
    }
}

fn check_key(jwk: &Value, key: &SigningKey, alg: Option<&str>, kid: Option<&str>, secrets: &[&str]) {
    assert_eq!(Some(key.alg().kty()), jwk["kty"].as_str());
    if let Some(alg) = alg {
        assert_eq!(key.alg().as_str(), alg);
    }
    assert_eq!(key.kid(), kid.or(jwk["kid"].as_str()));
    let public = key.public_jwk().expect("a JWK key knows its public half");
    let thumb = key.thumbprint().expect("and its thumbprint");
    assert_eq!(thumb.len(), 43, "SHA-256 in base64url");
    assert_eq!(thumbprint("p", public).as_deref(), Ok(thumb));
    assert_eq!(thumbprint("j", jwk).as_deref(), Ok(thumb), "same thumbprint as the JWK given");
    let members = public.as_object().expect("object").keys().map(String::as_str).collect::<Vec<_>>();
    assert!(members == ["crv", "kty", "x", "y"] || members == ["e", "kty", "n"], "{members:?}");

    // What the host imports: only key members, the private ones exactly as given.
    let host = key.host_key();
    let private = tokenfetch::json::parse(host.private_jwk.expect("private JWK").as_bytes()).expect("JSON");
    for m in PRIVATE {
        if let Some(v) = private.get(m) {
            assert_eq!(Some(v), jwk.get(m), "{m}");
        }
    }
    assert!(private.get("alg").is_none() && private.get("key_ops").is_none());

    // Debug shows the alg, kid and thumbprint, and no private member.
    let debug = format!("{key:?}");
    for s in secrets.iter().filter(|s| !thumb.contains(**s) && !key.kid().unwrap_or_default().contains(**s)) {
        assert!(!debug.contains(s), "private member in Debug");
    }

    match key.sign_local(b"header.claims") {
        Some(sig) => {
            assert_eq!(key.alg(), Alg::Es256);
            let point = |m: &str| b64url_decode(m, public[m].as_str().unwrap()).unwrap();
            let sec1 = [&[4u8][..], &point("x"), &point("y")].concat();
            let verifier = VerifyingKey::from_sec1_bytes(&sec1).expect("public key on the curve");
            let sig = Signature::from_slice(&sig).expect("64-byte signature");
            assert!(verifier.verify(b"header.claims", &sig).is_ok(), "ES256 signature verifies");
            let again = key.to_private_jwk().expect("an in-crate key exports");
            let back = SigningKey::from_jwk("jwk", &again, None, None).expect("its own JWK reads back");
            assert_eq!(back.thumbprint(), Some(thumb));
        }
        None => assert_ne!(key.alg(), Alg::Es256, "ES256 JWK keys sign in the crate"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(jwk) = tokenfetch::json::parse(data) else {
        return;
    };
    let secrets = secrets(&jwk, data);

    // Public JWK: RFC 7638 thumbprint, unchanged by private or optional members.
    match thumbprint("jwk", &jwk) {
        Ok(t) => {
            assert_eq!(t.len(), 43);
            let mut more = jwk.clone();
            more["d"] = json!("private").into();
            more["kid"] = json!("another").into();
            assert_eq!(thumbprint("jwk", &more).as_ref(), Ok(&t), "only required members count");
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidKey);
            check_message("jwk", &e.message, &secrets);
        }
    }

    // Private JWK, with the alg and kid overrides options can give.
    let overrides = [(None, None), (Some("ES256"), None), (Some("ES512"), Some("k1")), (Some("RS256"), None)];
    for (alg, kid) in overrides.into_iter().chain([(Some("PS384"), None), (Some("HS256"), None)]) {
        match SigningKey::from_jwk("jwk", &jwk, alg, kid) {
            Ok(key) => check_key(&jwk, &key, alg, kid, &secrets),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidKey);
                check_message("jwk", &e.message, &secrets);
            }
        }
    }

    // A host key's public half (exported by WebCrypto), read back.
    for alg in [Alg::Es256, Alg::Rs256] {
        let host = SigningKey::external("host", alg, None, None).expect("no JWK, no error");
        match host.with_public_jwk(&jwk) {
            Ok(key) => {
                assert_eq!(Some(alg.kty()), jwk["kty"].as_str());
                assert_eq!(key.thumbprint().map(str::to_owned), thumbprint("jwk", &jwk).ok());
            }
            Err(e) => check_message("dpop", &e.message, &secrets),
        }
    }
});
