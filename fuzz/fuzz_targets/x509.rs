//! `x5c` certificates (RFC 7515 §4.1.6): `x509::public_key` reads a DER certificate's
//! `subjectPublicKeyInfo`; `x509::chain` reads the option (base64 DER, leaf first).
//!
//! Input: DER bytes. Besides no panic, hang or OOM: a key read from them is a valid public JWK
//! (its thumbprint computes, its coordinates have the curve's size), and the option path gives
//! the same key for the same bytes in base64, and an `invalid_config` naming the entry otherwise.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use tokenfetch::json::Value;
use tokenfetch::x509::{chain, public_key};
use tokenfetch::ErrorCode;

fuzz_target!(|der: &[u8]| {
    let key = public_key(der);
    if let Some(jwk) = &key {
        let thumbprint = tokenfetch::jwk::thumbprint("t", jwk).expect("a public JWK");
        assert_eq!(thumbprint.len(), 43);
        if jwk["kty"] == "EC" {
            let size = match jwk["crv"].as_str() {
                Some("P-256") => 43,
                Some("P-384") => 64,
                Some("P-521") => 88,
                other => panic!("curve {other:?}"),
            };
            assert_eq!(jwk["x"].as_str().map(str::len), Some(size));
        }
    }
    let option = Value::Array(vec![Value::String(STANDARD.encode(der))]);
    match chain("clientAuth.x5c", &option) {
        Ok(read) => assert_eq!(Some(read.leaf_jwk), key),
        Err(e) => {
            assert!(key.is_none());
            assert_eq!(e.code, ErrorCode::InvalidConfig);
            assert!(e.message.starts_with("clientAuth.x5c[0]: "), "{}", e.message);
        }
    }
});
