//! X.509 certificate chains in JWS headers (`x5c`, RFC 7515 §4.1.6): Maskinporten's business
//! certificate mode identifies the client by the leaf certificate of the chain sent in the header
//! of its assertions, so the leaf must hold the key that signs them.
//!
//! This is not certificate validation (no path building, no signature, expiry or revocation
//! checks: the authority does that). It reads just enough DER (X.690) to take the leaf's
//! `subjectPublicKeyInfo` (RFC 5280 §4.1) as a public JWK, to compare with the signing key.

use crate::error::{Result, TokenError};
use crate::jose::{b64url, object};
use crate::json::Value;

/// `rsaEncryption` and `id-RSASSA-PSS` (RFC 8017 A.1, A.2.3); `id-ecPublicKey` (RFC 5480 §2.1.1).
const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// The named curves (RFC 5480 §2.1.1.1) and their coordinate sizes.
const CURVES: [(&[u8], &str, usize); 3] = [
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07], "P-256", 32),
    (&[0x2b, 0x81, 0x04, 0x00, 0x22], "P-384", 48),
    (&[0x2b, 0x81, 0x04, 0x00, 0x23], "P-521", 66),
];

/// A checked `x5c` chain: the certificates as given (base64 DER, leaf first) and the leaf's
/// public key as a JWK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// The header value: base64 (not base64url) DER, leaf first.
    pub certificates: Vec<String>,
    /// The leaf certificate's public key (required members only).
    pub leaf_jwk: Value,
}

/// Read an `x5c` option (`field`, e.g. `clientAuth.x5c`): a non-empty array of base64 DER
/// certificates, leaf first. Errors are `invalid_config` naming the entry.
pub fn chain(field: &str, value: &Value) -> Result<Chain> {
    let items = match value {
        Value::Array(items) if !items.is_empty() => items,
        _ => {
            return Err(TokenError::config(
                field,
                "must be a non-empty array of base64 DER certificates, leaf first",
            ))
        }
    };
    let mut certificates = Vec::with_capacity(items.len());
    let mut leaf_jwk = Value::Null;
    for (i, item) in items.iter().enumerate() {
        let entry = cat!(field, "[", crate::text::decimal(i as u64), "]");
        let text = item.as_str().ok_or_else(|| TokenError::config(&entry, "must be a string"))?;
        let der = crate::jose::b64_standard_decode(text).ok_or_else(|| {
            TokenError::config(&entry, "must be base64 (not base64url) DER (RFC 7515 §4.1.6)")
        })?;
        let jwk = public_key(&der).ok_or_else(|| {
            TokenError::config(&entry, "is not an X.509 certificate with an RSA or EC (P-256/384/521) key")
        })?;
        if i == 0 {
            leaf_jwk = jwk;
        }
        certificates.push(text.to_owned());
    }
    Ok(Chain { certificates, leaf_jwk })
}

/// The public key of a DER certificate as a JWK, or `None` when it is not a certificate this
/// reads (an RSA or EC key of a named curve).
pub fn public_key(der: &[u8]) -> Option<Value> {
    let (certificate, _) = sequence(der)?;
    let (tbs, _) = sequence(certificate)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2; // [0] EXPLICIT version
    }
    for _ in 0..5 {
        rest = tlv(rest)?.2; // serialNumber, signature, issuer, validity, subject
    }
    let (spki, _) = sequence(rest)?;
    let (algorithm, rest) = sequence(spki)?;
    let (key_bits, _) = expect(rest, 0x03)?;
    let key = key_bits.strip_prefix(&[0])?; // no unused bits
    let (oid, params) = expect(algorithm, 0x06)?;
    if oid == RSA || oid == RSA_PSS {
        let (rsa, _) = sequence(key)?;
        let (n, rest) = expect(rsa, 0x02)?;
        let (e, _) = expect(rest, 0x02)?;
        // Unsigned big-endian without leading zeros; a zero modulus or exponent is no key.
        let unsigned = |int: &[u8]| {
            let start = int.iter().position(|&b| b != 0)?;
            Some(b64url(&int[start..]))
        };
        let (e, n) = (unsigned(e)?, unsigned(n)?);
        return Some(object([("e", e.into()), ("kty", "RSA".into()), ("n", n.into())]).into());
    }
    if oid != EC {
        return None;
    }
    let (curve, _) = expect(params, 0x06)?;
    let (_, crv, size) = CURVES.into_iter().find(|(c, ..)| *c == curve)?;
    let point = key.strip_prefix(&[0x04])?; // uncompressed
    if point.len() != 2 * size {
        return None;
    }
    let (x, y) = point.split_at(size);
    Some(
        object([("crv", crv.into()), ("kty", "EC".into()), ("x", b64url(x).into()), ("y", b64url(y).into())])
            .into(),
    )
}

/// One DER element: its tag, its contents and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let length = match first {
        0..=0x7f => usize::from(first),
        0x81..=0x84 => {
            let (bytes, after) = rest.split_at_checked(usize::from(first & 0x7f))?;
            rest = after;
            bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
        }
        _ => return None, // indefinite or oversized: not DER
    };
    let (contents, after) = rest.split_at_checked(length)?;
    Some((tag, contents, after))
}

/// The contents of an element with `tag`, and what follows it.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, contents, rest) = tlv(input)?;
    (found == tag).then_some((contents, rest))
}

fn sequence(input: &[u8]) -> Option<(&[u8], &[u8])> {
    expect(input, 0x30)
}

#[cfg(test)]
pub(crate) mod tests;
