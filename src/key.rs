//! Signing keys. ES256 keys sign inside the crate with `p256` (RFC 6979 deterministic ECDSA), so
//! they work in every runtime; the scalar is zeroized when the key is dropped.

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey as P256SigningKey};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::error::{Result, TokenError};
use crate::jose::{b64url, printable, Alg};
use crate::jwk::{ec_private_parts, EcPublicJwk};

/// A private key that signs JWS (client assertions, DPoP proofs), with its public JWK and RFC 7638
/// thumbprint computed once.
#[derive(Clone)]
pub struct SigningKey {
    inner: P256SigningKey,
    alg: Alg,
    kid: Option<String>,
    public: EcPublicJwk,
    thumbprint: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

impl SigningKey {
    /// Read a private JWK. `alg` overrides the JWK's `alg`; `kid` overrides its `kid`.
    /// Errors are [`crate::ErrorCode::InvalidKey`] naming `field` (e.g. `clientAuth.privateJwk`).
    pub fn from_jwk(field: &str, jwk: &Value, alg: Option<&str>, kid: Option<&str>) -> Result<Self> {
        let parts = ec_private_parts(field, jwk)?;
        let alg_field = format!("{field}.alg");
        let alg = match alg.or(parts.alg) {
            Some(name) => Alg::parse(&alg_field, name)?,
            None => Alg::Es256,
        };
        let Alg::Es256 = alg;
        if parts.crv != "P-256" {
            return Err(TokenError::key(
                field,
                format!("\"crv\" must be \"P-256\" for ES256 (got \"{}\")", printable(parts.crv)),
            ));
        }
        let d = Zeroizing::new(parts.d);
        let inner = P256SigningKey::from_slice(&d)
            .ok()
            .filter(|_| d.len() == 32)
            .ok_or_else(|| TokenError::key(field, "\"d\" is not a valid P-256 private key"))?;
        let key = Self::from_p256(inner, kid.or(parts.kid).map(str::to_owned));
        if key.public.x != b64url(&parts.x) || key.public.y != b64url(&parts.y) {
            return Err(TokenError::key(field, "\"x\"/\"y\" do not match the private key \"d\""));
        }
        Ok(key)
    }

    /// A new ES256 key from 32 random bytes per attempt; `random` is asked again in the
    /// (negligible) case the bytes are not a valid scalar.
    pub fn generate(mut random: impl FnMut(&mut [u8])) -> Self {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            random(&mut bytes[..]);
            if let Ok(inner) = P256SigningKey::from_slice(&bytes[..]) {
                return Self::from_p256(inner, None);
            }
        }
    }

    fn from_p256(inner: P256SigningKey, kid: Option<String>) -> Self {
        let point = inner.verifying_key().to_encoded_point(false);
        // An uncompressed SEC1 point is 0x04 || x (32 bytes) || y (32 bytes).
        let (x, y) = point.as_bytes().get(1..).unwrap_or_default().split_at(32);
        let public = EcPublicJwk { crv: "P-256", x: b64url(x), y: b64url(y) };
        let thumbprint = public.thumbprint();
        SigningKey { inner, alg: Alg::Es256, kid, public, thumbprint }
    }

    /// Sign a JWS signing input; the result is the JWS signature bytes (for ES256, `R || S`).
    pub fn sign(&self, signing_input: &[u8]) -> Vec<u8> {
        let signature: Signature = self.inner.sign(signing_input);
        signature.to_bytes().to_vec()
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key id, if one was given.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> &EcPublicJwk {
        &self.public
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The private JWK (with `alg`), for callers that generated a key and must keep it.
    pub fn to_private_jwk(&self) -> Value {
        let d = Zeroizing::new(self.inner.to_bytes());
        let mut jwk = self.public.to_json();
        jwk["d"] = json!(b64url(&d[..]));
        jwk["alg"] = json!(self.alg.as_str());
        jwk
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::VerifyingKey;

    /// RFC 7515 Appendix A.3 ES256 key.
    pub(crate) fn rfc7515_jwk() -> Value {
        json!({"kty":"EC","crv":"P-256",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"})
    }

    #[test]
    fn rfc7515_a3_key_signature_verifies_with_its_public_coordinates() {
        let key = SigningKey::from_jwk("k", &rfc7515_jwk(), None, Some("kid-1")).unwrap();
        let input = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig = key.sign(input.as_bytes());
        assert_eq!(sig.len(), 64);
        let point = p256::EncodedPoint::from_affine_coordinates(
            (&crate::jose::b64url_decode("x", &key.public.x).unwrap()[..]).into(),
            (&crate::jose::b64url_decode("y", &key.public.y).unwrap()[..]).into(),
            false,
        );
        let vk = VerifyingKey::from_encoded_point(&point).unwrap();
        vk.verify(input.as_bytes(), &Signature::from_slice(&sig).unwrap()).unwrap();
        assert_eq!(key.kid(), Some("kid-1"));
        assert_eq!(key.public_jwk().x, "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
    }

    #[test]
    fn mismatched_public_coordinates_are_refused() {
        let mut jwk = rfc7515_jwk();
        jwk["x"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let e = SigningKey::from_jwk("dpop.privateJwk", &jwk, None, None).unwrap_err();
        assert_eq!(e.message, "dpop.privateJwk: \"x\"/\"y\" do not match the private key \"d\"");
    }

    #[test]
    fn wrong_curve_and_alg_are_named() {
        let mut jwk = rfc7515_jwk();
        jwk["crv"] = json!("P-384");
        let e = SigningKey::from_jwk("clientAuth.privateJwk", &jwk, None, None).unwrap_err();
        assert_eq!(e.message, "clientAuth.privateJwk: \"crv\" must be \"P-256\" for ES256 (got \"P-384\")");
        let e =
            SigningKey::from_jwk("clientAuth.privateJwk", &rfc7515_jwk(), Some("RS256"), None).unwrap_err();
        assert!(e.message.starts_with("clientAuth.privateJwk.alg: \"RS256\""), "{}", e.message);
    }

    #[test]
    fn generated_key_round_trips_through_its_private_jwk() {
        let mut n = 0u8;
        let key = SigningKey::generate(|buf| {
            for b in buf.iter_mut() {
                n = n.wrapping_add(7);
                *b = n;
            }
        });
        let again = SigningKey::from_jwk("k", &key.to_private_jwk(), None, None).unwrap();
        assert_eq!(key.thumbprint(), again.thumbprint());
        assert_eq!(key.to_private_jwk()["alg"], "ES256");
    }

    #[test]
    fn debug_output_has_no_key_material() {
        let key = SigningKey::from_jwk("k", &rfc7515_jwk(), None, None).unwrap();
        let text = format!("{key:?}");
        assert!(!text.contains("jpsQnn") && !text.contains("f83OJ3"), "{text}");
    }
}
