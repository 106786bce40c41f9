//! JOSE compact serialization (RFC 7515 §7.1) and base64url (RFC 7515 §2, no padding).
//!
//! Signing itself is done by a [`crate::key::SigningKey`] (p256 in the crate, or the host's
//! [`crate::providers::Signer`]); this module only builds the signing input and joins it with a
//! signature.

use crate::json::{Map, Value};
use base64ct::{Base64UrlUnpadded, Encoding as _};

use crate::error::{Result, TokenError};

/// base64url without padding (RFC 7515 §2), constant-time (base64ct): private key members are
/// encoded here too.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    Base64UrlUnpadded::encode_string(bytes.as_ref())
}

/// Append base64url (no padding) of `bytes` to `out` by table lookup, for public data only: the
/// parts of a JWS and `jti`s, encoded per request. The lookup's timing depends on the bytes;
/// measured a few percent of a proof faster than [`b64url`] (BENCHMARKS.md), and tested to give
/// the same text.
pub(crate) fn push_b64url_public(out: &mut String, bytes: &[u8]) {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = std::mem::take(out).into_bytes();
    text.reserve(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        let sextets = [18, 12, 6, 0].map(|shift| TABLE[(n >> shift & 63) as usize]);
        text.extend_from_slice(&sextets[..=chunk.len()]);
    }
    // Only ASCII was appended to what was a `String`.
    *out = String::from_utf8(text).unwrap_or_default();
}

/// Standard base64 with padding (RFC 4648 §4: HTTP Basic, `x5c`), written through the one
/// base64url encoder the module carries: the two alphabets differ in two characters.
pub fn b64_standard(bytes: impl AsRef<[u8]>) -> String {
    let mut text: String = b64url(bytes)
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while text.len() % 4 != 0 {
        text.push('=');
    }
    text
}

/// Decode standard base64 with padding (RFC 4648 §4), refusing the base64url alphabet; `None`
/// when it is not.
pub fn b64_standard_decode(text: &str) -> Option<Vec<u8>> {
    let body = text.strip_suffix("==").or_else(|| text.strip_suffix('=')).unwrap_or(text);
    if text.len() % 4 != 0 || body.bytes().any(|b| matches!(b, b'-' | b'_' | b'=')) {
        return None;
    }
    let url: String = body
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    Base64UrlUnpadded::decode_vec(&url).ok()
}

/// Decode base64url without padding; `field` names the value in the error.
pub fn b64url_decode(field: &str, text: &str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).map_err(|_| TokenError::key(field, "is not valid base64url"))
}

/// JWS signature algorithms (RFC 7518 §3.1) tokenfetch can sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA using P-256 and SHA-256.
    Es256,
    /// ECDSA using P-384 and SHA-384.
    Es384,
    /// ECDSA using P-521 and SHA-512.
    Es512,
    /// RSASSA-PKCS1-v1_5 using SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 using SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 using SHA-512.
    Rs512,
    /// RSASSA-PSS using SHA-256 and MGF1 with SHA-256.
    Ps256,
    /// RSASSA-PSS using SHA-384 and MGF1 with SHA-384.
    Ps384,
    /// RSASSA-PSS using SHA-512 and MGF1 with SHA-512.
    Ps512,
}

const ALGS: [Alg; 9] = [
    Alg::Es256,
    Alg::Es384,
    Alg::Es512,
    Alg::Rs256,
    Alg::Rs384,
    Alg::Rs512,
    Alg::Ps256,
    Alg::Ps384,
    Alg::Ps512,
];

impl Alg {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Es512 => "ES512",
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
        }
    }

    /// Parse an `alg` value; `field` names the option in the error.
    pub fn parse(field: &str, alg: &str) -> Result<Alg> {
        ALGS.into_iter().find(|a| a.as_str() == alg).ok_or_else(|| {
            TokenError::key(
                field,
                cat!(
                    "\"",
                    crate::text::clean(alg, crate::text::QUOTED),
                    "\" is not supported (supported: ES256/384/512, RS256/384/512, PS256/384/512)"
                ),
            )
        })
    }

    /// The JWK `kty` a key for this algorithm has.
    pub fn kty(self) -> &'static str {
        match self {
            Alg::Es256 | Alg::Es384 | Alg::Es512 => "EC",
            _ => "RSA",
        }
    }

    /// The EC curve this algorithm signs with (RFC 7518 §3.4), for EC algorithms.
    pub fn curve(self) -> Option<&'static str> {
        match self {
            Alg::Es256 => Some("P-256"),
            Alg::Es384 => Some("P-384"),
            Alg::Es512 => Some("P-521"),
            _ => None,
        }
    }

    /// The hash size in bits (256, 384 or 512).
    pub fn hash_bits(self) -> u16 {
        match self {
            Alg::Es256 | Alg::Rs256 | Alg::Ps256 => 256,
            Alg::Es384 | Alg::Rs384 | Alg::Ps384 => 384,
            Alg::Es512 | Alg::Rs512 | Alg::Ps512 => 512,
        }
    }
}

/// A JOSE header, serialized and base64url-encoded once (it is fixed per key, so callers keep it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedHeader(String);

impl EncodedHeader {
    /// Serialize and encode `header` (a JSON object).
    pub fn new(header: &Value) -> Self {
        EncodedHeader(b64url(text(header)))
    }

    /// The base64url text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The JWS signing input `BASE64URL(header) '.' BASE64URL(claims)` (RFC 7515 §5.1 step 5).
pub fn signing_input(header: &EncodedHeader, claims: &Value) -> String {
    signing_input_of_text(header, &text(claims))
}

/// [`signing_input`] for claims already written as JSON text.
pub fn signing_input_of_text(header: &EncodedHeader, claims: &str) -> String {
    let mut out = String::with_capacity(header.0.len() + 1 + claims.len() * 4 / 3 + 90);
    out.push_str(&header.0);
    out.push('.');
    push_b64url_public(&mut out, claims.as_bytes());
    out
}

/// Append the base64url signature to a signing input, giving the compact JWS.
pub fn compact(mut signing_input: String, signature: &[u8]) -> String {
    signing_input.push('.');
    push_b64url_public(&mut signing_input, signature);
    signing_input
}

pub use crate::json::text;

/// A JSON object from `(name, value)` members ([`Map`] keeps them sorted by name).
pub fn object<const N: usize>(members: [(&str, Value); N]) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in members {
        map.insert(name.to_owned(), value);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;

    #[test]
    fn standard_base64_matches_the_base64_crate() {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine as _;
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 251) as u8).collect();
            let text = STANDARD.encode(&bytes);
            assert_eq!(b64_standard(&bytes), text);
            assert_eq!(b64_standard_decode(&text), Some(bytes));
        }
        for bad in ["-_8=", "ab", "abc=d", "a===", "+/8", "/+8=="] {
            assert_eq!(b64_standard_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn public_encoder_agrees_with_base64ct() {
        for len in 0..300usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 151 + len * 7 + i * i) as u8).collect();
            let mut out = String::from("x.");
            push_b64url_public(&mut out, &bytes);
            assert_eq!(out, format!("x.{}", Base64UrlUnpadded::encode_string(&bytes)), "{len} bytes");
        }
        // Every sextet value, in every position.
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(b64url(&all), Base64UrlUnpadded::encode_string(&all));
    }

    #[test]
    fn b64url_has_no_padding_and_url_alphabet() {
        assert_eq!(b64url([0xfb, 0xff]), "-_8");
        assert_eq!(b64url_decode("x", "-_8").unwrap(), vec![0xfb, 0xff]);
        assert!(b64url_decode("x", "+/8=").is_err());
    }

    #[test]
    fn signing_input_is_two_base64url_json_parts() {
        let h = EncodedHeader::new(&json!({"alg": "ES256"}));
        let input = signing_input(&h, &json!({"a": 1}));
        let (a, b) = input.split_once('.').unwrap();
        assert_eq!(b64url_decode("h", a).unwrap(), br#"{"alg":"ES256"}"#);
        assert_eq!(b64url_decode("c", b).unwrap(), br#"{"a":1}"#);
        assert_eq!(compact(input, &[1, 2]).matches('.').count(), 2);
    }

    #[test]
    fn unsupported_alg_names_field_and_value() {
        let e = Alg::parse("clientAuth.alg", "HS256").unwrap_err();
        assert!(e.message.starts_with("clientAuth.alg: \"HS256\" is not supported"), "{}", e.message);
        for alg in ALGS {
            assert_eq!(Alg::parse("a", alg.as_str()).unwrap(), alg);
        }
        assert_eq!(Alg::Es512.curve(), Some("P-521"));
        assert_eq!(Alg::Ps384.kty(), "RSA");
    }
}
