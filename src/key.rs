//! Signing keys. ES256 keys from a JWK can sign inside the crate with `p256` (RFC 6979
//! deterministic ECDSA), so they work in every runtime; the scalar is zeroized when the key is
//! dropped. The host signs when it says it is faster ([`crate::Env::prefers_host`]: node:crypto or
//! WebCrypto in JavaScript runtimes), and always for RSA (RS*/PS*), EC P-384/P-521 and keys the
//! caller holds (a non-extractable `CryptoKey`) ([`crate::Env::sign`]).

use crate::json::{Map, Value};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey as P256SigningKey};
use zeroize::Zeroizing;

use crate::error::{Result, TokenError};
use crate::jose::{b64url, b64url_decode, object, text, Alg};
use crate::jwk::{as_object, opt_str_member, str_member, thumbprint};
use crate::text::{clean, decimal, QUOTED};

/// A private key that signs JWS (client assertions, DPoP proofs). Its public JWK and RFC 7638
/// thumbprint are computed once, when known.
#[derive(Clone)]
pub struct SigningKey {
    alg: Alg,
    kid: Option<String>,
    public: Option<PublicKey>,
    material: Material,
}

#[derive(Clone)]
struct PublicKey {
    jwk: Value,
    thumbprint: String,
}

#[derive(Clone)]
enum Material {
    /// ES256: signed here, or by the host from the private JWK.
    P256 { key: P256SigningKey, id: String, private: Zeroizing<String> },
    /// A private JWK the host imports (once) and signs with.
    Jwk { id: String, private: Zeroizing<String> },
    /// A key the host holds already, by the host's id.
    External { id: String },
}

/// A key the host signs with: [`crate::Env::sign`] receives this.
#[derive(Clone, Copy, Debug)]
pub struct HostKey<'a> {
    /// Stable id: the host may cache its imported key under it.
    pub id: &'a str,
    /// The algorithm to sign with.
    pub alg: Alg,
    /// The private JWK (JSON) to import, when the host does not hold the key yet.
    pub private_jwk: Option<&'a str>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint())
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
            let key = Self::from_p256(inner, kid);
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
        Self::host_jwk(alg, kid, public.into(), &private.into())
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
        Self::host_jwk(alg, kid, public.into(), &private.into())
    }

    fn host_jwk(alg: Alg, kid: Option<String>, public: Value, private: &Value) -> Result<Self> {
        let thumbprint = thumbprint("jwk", &public)?;
        let id = cat!(alg.as_str(), ":", thumbprint);
        Ok(SigningKey {
            alg,
            kid,
            public: Some(PublicKey { jwk: public, thumbprint }),
            material: Material::Jwk { id, private: Zeroizing::new(text(private)) },
        })
    }

    /// A key the host already holds under `id` (e.g. a caller's non-extractable `CryptoKey`),
    /// with its public JWK when known.
    pub fn external(id: &str, alg: Alg, kid: Option<&str>, public_jwk: Option<&Value>) -> Result<Self> {
        let public = match public_jwk {
            Some(jwk) => Some(PublicKey { jwk: jwk.clone(), thumbprint: thumbprint("jwk", jwk)? }),
            None => None,
        };
        Ok(SigningKey {
            alg,
            kid: kid.map(str::to_owned),
            public,
            material: Material::External { id: id.to_owned() },
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
                return Self::from_p256(inner, None);
            }
        }
    }

    fn from_p256(inner: P256SigningKey, kid: Option<String>) -> Self {
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
        let material = Material::P256 {
            key: inner,
            id: cat!("ES256:", thumbprint),
            private: Zeroizing::new(text(&Value::Object(private))),
        };
        SigningKey { alg: Alg::Es256, kid, public: Some(PublicKey { jwk, thumbprint }), material }
    }

    /// Sign a JWS signing input into a compact JWS: ES256 JWKs here unless `env` prefers to sign
    /// them itself, everything else by `env`'s host signer.
    pub async fn sign<E: crate::Env>(&self, env: &E, signing_input: String) -> Result<String> {
        let local = if env.prefers_host(self.alg) { None } else { self.sign_local(signing_input.as_bytes()) };
        let signature = match local {
            Some(signature) => signature,
            None => env.sign(self.host_key(), signing_input.as_bytes()).await?,
        };
        Ok(crate::jose::compact(signing_input, &signature))
    }

    /// [`SigningKey::sign`] without awaiting: `None` when only the host's asynchronous signer
    /// can sign (WebCrypto, a caller's `CryptoKey`).
    pub fn sign_now<E: crate::Env>(&self, env: &E, signing_input: String) -> Option<Result<String>> {
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

    /// The host's view of this key: its id, and the private JWK to import when the host does not
    /// hold it already.
    pub fn host_key(&self) -> HostKey<'_> {
        match &self.material {
            Material::P256 { id, private, .. } | Material::Jwk { id, private } => {
                HostKey { id, alg: self.alg, private_jwk: Some(private) }
            }
            Material::External { id } => HostKey { id, alg: self.alg, private_jwk: None },
        }
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
