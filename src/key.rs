//! Signing keys. ES256 keys from a JWK can sign inside the crate with `p256` (RFC 6979
//! deterministic ECDSA), so they work in every runtime; the scalar is zeroized when the key is
//! dropped. The host signs when it says it is faster ([`crate::providers::Signer::prefers_host`]: node:crypto or
//! WebCrypto in JavaScript runtimes), and always for RSA (RS*/PS*), EC P-384/P-521 and keys the
//! caller holds (a non-extractable `CryptoKey`) ([`crate::providers::Signer::sign`]).
//!
//! The host knows a key by its handle ([`HostKey::id`]): one per [`SigningKey`] instance, shared by
//! its clones, never derived from key material, so a JWK that repeats another key's public members
//! can never reach the other key's imported copy. The host frees what it holds for a handle when
//! the last clone drops ([`set_release_hook`]). The crate cannot do RSA or P-384/P-521 arithmetic,
//! so for those keys it asks the host to prove that the public members belong to the private part
//! ([`HostKey::check_against`], [`PAIRWISE_TEST_INPUT`]) before it uses a signature.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::json::{Map, Value};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey as P256SigningKey};
use zeroize::Zeroizing;

use crate::error::{Result, TokenError};
use crate::jose::{b64url, b64url_decode, object, text, Alg};
use crate::jwk::{as_object, opt_str_member, str_member, thumbprint};
use crate::text::{clean, decimal, QUOTED};

/// A private key that signs JWS (client assertions, DPoP proofs). Its public JWK and RFC 7638
/// thumbprint are computed once, when known. Clones share one host handle ([`HostKey::id`]).
#[derive(Clone)]
pub struct SigningKey {
    alg: Alg,
    kid: Option<String>,
    public: Option<PublicKey>,
    material: Material,
    handle: Rc<Handle>,
}

/// What the host knows a key by; released (see [`set_release_hook`]) when the last clone of its
/// [`SigningKey`] drops.
struct Handle {
    /// `#<n>`, unique in the process (or the host's own id for [`SigningKey::external`]).
    id: String,
    /// The option the key came from, for the host's error messages.
    field: String,
}

static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);
static RELEASE: OnceLock<fn(&str)> = OnceLock::new();

impl Handle {
    fn new(field: &str) -> Rc<Self> {
        let n = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        Rc::new(Handle { id: cat!("#", decimal(n)), field: field.to_owned() })
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(release) = RELEASE.get() {
            release(&self.id);
        }
    }
}

/// Set the function called with a handle ([`HostKey::id`]) when the last clone of its
/// [`SigningKey`] drops: a host that keeps imported keys under their handle deletes them there.
/// One hook per process; `false` when one was set already (the first stays).
pub fn set_release_hook(hook: fn(&str)) -> bool {
    RELEASE.set(hook).is_ok()
}

/// The message a host signs and verifies in the pairwise consistency test of
/// [`HostKey::check_against`]. Its content does not matter; it is never sent.
pub const PAIRWISE_TEST_INPUT: &[u8] = b"tokenfetch pairwise consistency test";

#[derive(Clone)]
struct PublicKey {
    jwk: Value,
    thumbprint: String,
}

#[derive(Clone)]
enum Material {
    /// ES256: signed here, or by the host from the private JWK (its public part derived here).
    P256 { key: P256SigningKey, private: Zeroizing<String> },
    /// A private JWK the host imports and signs with, and the public JWK (JSON) its private part
    /// must be shown to match.
    Jwk { private: Zeroizing<String>, public: String },
    /// A key the host holds already, by the host's id.
    External,
}

/// A key the host signs with: [`crate::providers::Signer::sign`] receives this.
///
/// Hosts that cache imported keys must cache them under `id` and nothing else (not a thumbprint:
/// two JWKs may share public members and differ in their private part), must run the pairwise
/// consistency test when `check_against` is set, and free the entry in the hook given to
/// [`set_release_hook`].
#[derive(Clone, Copy)]
pub struct HostKey<'a> {
    /// The handle: unique to one [`SigningKey`] and its clones, never reused in the process, not
    /// derived from the key. The host may cache its imported key under it, and only under it.
    pub id: &'a str,
    /// The algorithm to sign with.
    pub alg: Alg,
    /// The private JWK (JSON) to import, when the host does not hold the key yet.
    pub private_jwk: Option<&'a str>,
    /// For RSA and EC P-384/P-521 JWKs, whose arithmetic the crate cannot do: the public JWK
    /// (JSON; `n`/`e` or `crv`/`x`/`y`) the private JWK claims to belong to. Before using any
    /// signature made with an import of `private_jwk`, the host signs [`PAIRWISE_TEST_INPUT`]
    /// with it and verifies that with this public key, once per import (a pairwise consistency
    /// test), failing with [`crate::ErrorCode::InvalidKey`] naming `field`. `None` when the crate
    /// checked already (ES256) or the host holds the key.
    pub check_against: Option<&'a str>,
    /// The option the key came from (e.g. `clientAuth.privateJwk`), for error messages.
    pub field: &'a str,
}

/// Without the private JWK.
impl std::fmt::Debug for HostKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostKey")
            .field("id", &self.id)
            .field("alg", &self.alg)
            .field("private_jwk", &self.private_jwk.map(|_| "***"))
            .field("check_against", &self.check_against)
            .field("field", &self.field)
            .finish()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint())
            .field("handle", &self.handle.id)
            .finish()
    }
}

impl SigningKey {
    /// Read a private JWK (EC P-256/P-384/P-521 or RSA). `alg` overrides the JWK's `alg`, which
    /// otherwise defaults from the curve (ES256/384/512) or to RS256; `kid` overrides its `kid`.
    /// Errors are [`crate::ErrorCode::InvalidKey`] naming `field` (e.g. `clientAuth.privateJwk`).
    pub fn from_jwk(field: &str, jwk: &Value, alg: Option<&str>, kid: Option<&str>) -> Result<Self> {
        let obj = as_object(field, jwk)?;
        let kty = str_member(field, obj, "kty")?;
        let alg_name = alg.or(opt_str_member(field, obj, "alg")?);
        let alg = alg_name.map(|a| Alg::parse(&cat!(field, ".alg"), a)).transpose()?;
        let kid = kid.or(opt_str_member(field, obj, "kid")?).map(str::to_owned);
        if !obj.contains_key("d") {
            return Err(TokenError::key(
                field,
                "has no \"d\": a public key cannot sign; pass the private JWK",
            ));
        }
        match kty {
            "EC" => Self::from_ec(field, obj, alg, kid),
            "RSA" => Self::from_rsa(field, obj, alg, kid),
            other => Err(TokenError::key(
                field,
                cat!("\"kty\" must be \"EC\" or \"RSA\" (got \"", clean(other, QUOTED), "\")"),
            )),
        }
    }

    fn from_ec(field: &str, obj: &Map<String, Value>, alg: Option<Alg>, kid: Option<String>) -> Result<Self> {
        let crv = str_member(field, obj, "crv")?;
        let (default, size) = match crv {
            "P-256" => (Alg::Es256, 32),
            "P-384" => (Alg::Es384, 48),
            "P-521" => (Alg::Es512, 66),
            other => {
                return Err(TokenError::key(
                    field,
                    cat!("\"crv\" \"", clean(other, QUOTED), "\" is not supported (P-256, P-384, P-521)"),
                ))
            }
        };
        let alg = alg.unwrap_or(default);
        if alg.curve() != Some(crv) {
            return Err(TokenError::key(
                field,
                cat!(
                    "\"crv\" \"",
                    crv,
                    "\" cannot sign ",
                    alg.as_str(),
                    " (needs ",
                    alg.curve().unwrap_or("an RSA key"),
                    ")"
                ),
            ));
        }
        let member = |name: &str| -> Result<Zeroizing<Vec<u8>>> {
            let bytes =
                Zeroizing::new(b64url_decode(&cat!(field, ".", name), str_member(field, obj, name)?)?);
            if bytes.len() != size {
                return Err(TokenError::key(
                    field,
                    cat!("\"", name, "\" must be ", decimal(size as u64), " bytes for ", crv),
                ));
            }
            Ok(bytes)
        };
        let (x, y, d) = (member("x")?, member("y")?, member("d")?);
        if alg == Alg::Es256 {
            let inner = P256SigningKey::from_slice(&d)
                .map_err(|_| TokenError::key(field, "\"d\" is not a valid P-256 private key"))?;
            let key = Self::from_p256(inner, kid, field);
            if key.public_jwk().is_some_and(|p| p["x"] != b64url(&x[..]) || p["y"] != b64url(&y[..])) {
                return Err(TokenError::key(field, "\"x\"/\"y\" do not match the private key \"d\""));
            }
            return Ok(key);
        }
        let public = object([
            ("crv", crv.into()),
            ("kty", "EC".into()),
            ("x", b64url(&x[..]).into()),
            ("y", b64url(&y[..]).into()),
        ]);
        let mut private = public.clone();
        private.insert("d".into(), b64url(&d[..]).into());
        Self::host_jwk(field, alg, kid, public.into(), &private.into())
    }

    fn from_rsa(
        field: &str,
        obj: &Map<String, Value>,
        alg: Option<Alg>,
        kid: Option<String>,
    ) -> Result<Self> {
        let alg = alg.unwrap_or(Alg::Rs256);
        if alg.kty() != "RSA" {
            return Err(TokenError::key(field, cat!("an RSA key cannot sign ", alg.as_str())));
        }
        let n = str_member(field, obj, "n")?;
        let modulus = b64url_decode(&cat!(field, ".n"), n)?;
        if modulus.len() < 256 {
            return Err(TokenError::key(field, "RSA keys must be at least 2048 bits"));
        }
        let e = str_member(field, obj, "e")?;
        let public = object([("e", e.into()), ("kty", "RSA".into()), ("n", n.into())]);
        // Only the key members travel to the host: no `alg`, `use` or `key_ops` that could
        // contradict the algorithm the key is imported for.
        let mut private = public.clone();
        for name in ["d", "p", "q", "dp", "dq", "qi"] {
            match obj.get(name) {
                Some(Value::String(v)) => {
                    private.insert(name.into(), v.as_str().into());
                }
                Some(_) => return Err(TokenError::key(field, cat!("\"", name, "\" must be a string"))),
                None if name == "d" => return Err(TokenError::key(field, "\"d\" is missing")),
                None => {}
            }
        }
        Self::host_jwk(field, alg, kid, public.into(), &private.into())
    }

    fn host_jwk(field: &str, alg: Alg, kid: Option<String>, public: Value, private: &Value) -> Result<Self> {
        let thumbprint = thumbprint("jwk", &public)?;
        let material = Material::Jwk { private: Zeroizing::new(text(private)), public: text(&public) };
        Ok(SigningKey {
            alg,
            kid,
            public: Some(PublicKey { jwk: public, thumbprint }),
            material,
            handle: Handle::new(field),
        })
    }

    /// A key the host already holds under `id` (e.g. a caller's non-extractable `CryptoKey`),
    /// with its public JWK when known. `id` is this key's handle: give each call its own (it is
    /// released, see [`set_release_hook`], when the last clone of the returned key drops).
    pub fn external(id: &str, alg: Alg, kid: Option<&str>, public_jwk: Option<&Value>) -> Result<Self> {
        let public = match public_jwk {
            Some(jwk) => Some(PublicKey { jwk: jwk.clone(), thumbprint: thumbprint("jwk", jwk)? }),
            None => None,
        };
        Ok(SigningKey {
            alg,
            kid: kid.map(str::to_owned),
            public,
            material: Material::External,
            handle: Rc::new(Handle { id: id.to_owned(), field: "key".to_owned() }),
        })
    }

    /// This key with its public JWK (for host keys whose public part arrives later).
    pub fn with_public_jwk(mut self, jwk: &Value) -> Result<Self> {
        let obj = as_object("dpop", jwk)?;
        let kty = str_member("dpop", obj, "kty")?;
        if kty != self.alg.kty() {
            return Err(TokenError::key(
                "dpop",
                cat!("public key \"kty\" \"", clean(kty, QUOTED), "\" does not fit ", self.alg.as_str()),
            ));
        }
        let members: &[&str] = if kty == "EC" { &["crv", "kty", "x", "y"] } else { &["e", "kty", "n"] };
        let mut public = Map::new();
        for name in members {
            public.insert((*name).to_owned(), str_member("dpop", obj, name)?.into());
        }
        let public = Value::Object(public);
        let thumbprint = thumbprint("dpop", &public)?;
        self.public = Some(PublicKey { jwk: public, thumbprint });
        Ok(self)
    }

    /// A new ES256 key from 32 random bytes per attempt; `random` is asked again in the
    /// (negligible) case the bytes are not a valid scalar.
    pub fn generate(mut random: impl FnMut(&mut [u8])) -> Self {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            random(&mut bytes[..]);
            if let Ok(inner) = P256SigningKey::from_slice(&bytes[..]) {
                return Self::from_p256(inner, None, "dpop");
            }
        }
    }

    fn from_p256(inner: P256SigningKey, kid: Option<String>, field: &str) -> Self {
        let point = inner.verifying_key().to_encoded_point(false);
        // An uncompressed SEC1 point is 0x04 || x (32 bytes) || y (32 bytes).
        let (x, y) = point.as_bytes().get(1..).unwrap_or_default().split_at(32);
        let jwk = object([
            ("crv", "P-256".into()),
            ("kty", "EC".into()),
            ("x", b64url(x).into()),
            ("y", b64url(y).into()),
        ]);
        let mut private = jwk.clone();
        private.insert("d".into(), b64url(&Zeroizing::new(inner.to_bytes())[..]).into());
        let jwk = Value::Object(jwk);
        let thumbprint = thumbprint("jwk", &jwk).unwrap_or_default();
        let material = Material::P256 { key: inner, private: Zeroizing::new(text(&Value::Object(private))) };
        SigningKey {
            alg: Alg::Es256,
            kid,
            public: Some(PublicKey { jwk, thumbprint }),
            material,
            handle: Handle::new(field),
        }
    }

    /// Sign a JWS signing input into a compact JWS: ES256 JWKs here unless `env` prefers to sign
    /// them itself, everything else by `env`'s host signer.
    pub async fn sign<E: crate::providers::Signer>(&self, env: &E, signing_input: String) -> Result<String> {
        let local = if env.prefers_host(self.alg) { None } else { self.sign_local(signing_input.as_bytes()) };
        let signature = match local {
            Some(signature) => signature,
            None => env.sign(self.host_key(), signing_input.as_bytes()).await?,
        };
        Ok(crate::jose::compact(signing_input, &signature))
    }

    /// [`SigningKey::sign`] without awaiting: `None` when only the host's asynchronous signer
    /// can sign (WebCrypto, a caller's `CryptoKey`).
    pub fn sign_now<E: crate::providers::Signer>(
        &self,
        env: &E,
        signing_input: String,
    ) -> Option<Result<String>> {
        let local = if env.prefers_host(self.alg) { None } else { self.sign_local(signing_input.as_bytes()) };
        let signature = match local {
            Some(signature) => signature,
            None => match env.sign_now(self.host_key(), signing_input.as_bytes())? {
                Ok(signature) => signature,
                Err(e) => return Some(Err(e)),
            },
        };
        Some(Ok(crate::jose::compact(signing_input, &signature)))
    }

    /// Sign here when this crate holds the key (ES256 from a JWK); `None` when the host signs.
    pub fn sign_local(&self, signing_input: &[u8]) -> Option<Vec<u8>> {
        match &self.material {
            Material::P256 { key, .. } => {
                let signature: Signature = key.sign(signing_input);
                Some(signature.to_bytes().to_vec())
            }
            _ => None,
        }
    }

    /// The host's view of this key: its handle, the private JWK to import when the host does not
    /// hold it already, and the public JWK to check that against when the crate could not.
    pub fn host_key(&self) -> HostKey<'_> {
        let (private_jwk, check_against) = match &self.material {
            Material::P256 { private, .. } => (Some(private.as_str()), None),
            Material::Jwk { private, public } => (Some(private.as_str()), Some(public.as_str())),
            Material::External => (None, None),
        };
        HostKey { id: &self.handle.id, alg: self.alg, private_jwk, check_against, field: &self.handle.field }
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key id, if one was given.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public JWK (required members only), when known.
    pub fn public_jwk(&self) -> Option<&Value> {
        self.public.as_ref().map(|p| &p.jwk)
    }

    /// RFC 7638 thumbprint of the public key, when known.
    pub fn thumbprint(&self) -> Option<&str> {
        self.public.as_ref().map(|p| p.thumbprint.as_str())
    }

    /// The private JWK (with `alg`) of a key this crate holds, for callers that generated a key
    /// and must keep it; `None` for host keys.
    pub fn to_private_jwk(&self) -> Option<Value> {
        let Material::P256 { key, .. } = &self.material else {
            return None;
        };
        let d = Zeroizing::new(key.to_bytes());
        let mut jwk = self.public_jwk()?.as_object()?.clone();
        jwk.insert("d".into(), b64url(&d[..]).into());
        jwk.insert("alg".into(), self.alg.as_str().into());
        Some(jwk.into())
    }
}

#[cfg(test)]
pub(crate) mod tests;
