//! DPoP proofs (RFC 9449 §4) and the per-origin nonce store (RFC 9449 §8, §9).

use std::cell::RefCell;
use std::fmt;

use crate::json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Result, TokenError};
use crate::jose::{b64url, object, signing_input_of_text, EncodedHeader};
use crate::json::push_string;
use crate::key::SigningKey;
use crate::text::decimal;

/// A DPoP key: signs proofs whose header (`typ`, `alg`, public `jwk`) is encoded once.
#[derive(Clone)]
pub struct DpopKey {
    key: SigningKey,
    header: EncodedHeader,
    /// The last access token a proof was made for, and its `ath`: computed once per token, not
    /// per proof (SHA-256 of a ~1 KB token is about 6 µs in wasm).
    last_ath: RefCell<Option<(String, String)>>,
}

/// Without the `ath` memo: it holds an access token.
impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("key", &self.key)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// What one proof binds (RFC 9449 §4.2); `Debug` shows the access token as `***`.
#[derive(Clone, Copy)]
pub struct ProofClaims<'a> {
    /// `htm`: the HTTP method.
    pub method: &'a str,
    /// The request URL; `htu` is this without query and fragment.
    pub url: &'a str,
    /// `iat`, seconds since the epoch.
    pub now_secs: u64,
    /// `jti`: unique per proof.
    pub jti: &'a str,
    /// The access token, on resource requests: `ath` = base64url(SHA-256(token)).
    pub access_token: Option<&'a str>,
    /// `nonce`, when the server supplied one.
    pub nonce: Option<&'a str>,
}

impl fmt::Debug for ProofClaims<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofClaims")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("now_secs", &self.now_secs)
            .field("jti", &self.jti)
            .field("access_token", &self.access_token.map(|_| "***"))
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl DpopKey {
    /// Wrap a signing key for DPoP use; its public key must be known (it goes in every proof).
    pub fn new(key: SigningKey) -> Result<Self> {
        let jwk = key.public_jwk().ok_or_else(|| TokenError::key("dpop", "the public key is not known"))?;
        let header =
            object([("typ", "dpop+jwt".into()), ("alg", key.alg().as_str().into()), ("jwk", jwk.clone())]);
        Ok(DpopKey { header: EncodedHeader::new(&Value::Object(header)), key, last_ath: RefCell::default() })
    }

    /// RFC 7638 thumbprint of the public key: the `jkt` tokens are bound to.
    pub fn thumbprint(&self) -> &str {
        self.key.thumbprint().unwrap_or_default()
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// `f` of the `ath` for `token`, from the one-entry memo when the token is the last one's.
    fn with_ath(&self, token: &str, f: impl FnOnce(&str)) {
        let mut last = self.last_ath.borrow_mut();
        if !matches!(&*last, Some((seen, _)) if seen == token) {
            *last = Some((token.to_owned(), ath(token)));
        }
        if let Some((_, ath)) = &*last {
            f(ath);
        }
    }

    /// The JWS signing input of a proof; sign it with [`Self::key`]. The claims are written as
    /// text directly, members in name order (as a [`crate::json::Map`] writes them): a proof is
    /// made per request, and building a map for it was a tenth of a proof's time in wasm.
    pub fn signing_input(&self, claims: ProofClaims<'_>) -> String {
        let mut body = String::with_capacity(200);
        body.push('{');
        if let Some(token) = claims.access_token {
            body.push_str("\"ath\":\"");
            self.with_ath(token, |ath| body.push_str(ath));
            body.push_str("\",");
        }
        body.push_str("\"htm\":");
        push_string(&mut body, htm(claims.method));
        body.push_str(",\"htu\":");
        push_string(&mut body, htu(claims.url));
        body.push_str(",\"iat\":");
        body.push_str(&decimal(claims.now_secs));
        body.push_str(",\"jti\":");
        push_string(&mut body, claims.jti);
        if let Some(nonce) = claims.nonce {
            body.push_str(",\"nonce\":");
            push_string(&mut body, nonce);
        }
        body.push('}');
        signing_input_of_text(&self.header, &body)
    }
}

/// `htm`: the method as fetch sends it (Fetch §2.2.1 "normalize a method"): the six standard
/// methods upper-cased, any other exactly as given. The one place a method is normalized, for
/// proofs and for decisions alike: `createDpopProof('get', url)` signs `GET`, as fetch sends.
pub fn htm(method: &str) -> &str {
    const STANDARD: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    STANDARD.into_iter().find(|m| m.eq_ignore_ascii_case(method)).unwrap_or(method)
}

/// `htu`: the URL without query and fragment (RFC 9449 §4.2).
pub fn htu(url: &str) -> &str {
    url.find(['?', '#']).map_or(url, |end| &url[..end])
}

/// `ath`: base64url(SHA-256(ASCII access token)) (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    b64url(Sha256::digest(access_token.as_bytes()))
}

/// The origin (`scheme://host[:port]`) of an absolute URL, the key nonces are stored under.
pub fn origin(url: &str) -> &str {
    let Some(after_scheme) = crate::url::after_scheme(url) else {
        return url;
    };
    let rest = &url[after_scheme..];
    let end = rest.find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// The most origins a [`NonceStore`] keeps a nonce for; past it, the least recently used goes.
pub const NONCE_ORIGINS: usize = 32;

/// The longest `DPoP-Nonce` remembered, in bytes (servers send 16 to 64).
pub const NONCE_MAX_BYTES: usize = 256;

/// Whether a server's `DPoP-Nonce` is one to put in a proof: `1*NQCHAR` (RFC 9449 §8.1: printable
/// ASCII without space, `"` and `\`), at most [`NONCE_MAX_BYTES`].
pub fn is_nonce(nonce: &str) -> bool {
    let nqchar = |b: u8| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e);
    (1..=NONCE_MAX_BYTES).contains(&nonce.len()) && nonce.bytes().all(nqchar)
}

/// The latest `DPoP-Nonce` per origin, from error and success replies alike (RFC 9449 §8.2, §9),
/// for at most [`NONCE_ORIGINS`] origins, least recently used out. A client talks to a handful of
/// origins: a list is enough (and smaller in wasm than a map); the bound holds when the URLs a
/// caller sends to are many, or chosen by someone else.
#[derive(Clone, Debug, Default)]
pub struct NonceStore {
    /// Least recently used first.
    by_origin: Vec<(String, String)>,
}

impl NonceStore {
    /// The nonce to put in the next proof for `url`, if the server gave one (a use: the origin
    /// becomes the most recently used).
    pub fn get(&mut self, url: &str) -> Option<&str> {
        let origin = origin(url);
        let at = self.by_origin.iter().position(|(o, _)| o == origin)?;
        let last = self.by_origin.len() - 1;
        if at != last {
            let entry = self.by_origin.remove(at);
            self.by_origin.push(entry);
        }
        self.by_origin.last().map(|(_, n)| n.as_str())
    }

    /// Remember the `DPoP-Nonce` a response from `url` carried; `false` (and nothing kept) when it
    /// is not a valid nonce ([`is_nonce`]).
    pub fn remember(&mut self, url: &str, nonce: &str) -> bool {
        if !is_nonce(nonce) {
            return false;
        }
        let origin = origin(url);
        match self.by_origin.iter().position(|(o, _)| o == origin) {
            Some(at) => {
                let (_, current) = &mut self.by_origin[at];
                if current != nonce {
                    nonce.clone_into(current);
                }
                let entry = self.by_origin.remove(at);
                self.by_origin.push(entry);
            }
            None => {
                if self.by_origin.len() >= NONCE_ORIGINS {
                    self.by_origin.remove(0);
                }
                self.by_origin.push((origin.to_owned(), nonce.to_owned()));
            }
        }
        true
    }

    /// Every origin and its nonce (for inspection tools), least recently used first.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_origin.iter().map(|(o, n)| (o.as_str(), n.as_str()))
    }
}

/// Decode a compact JWS's header and claims (for tests and inspection; no verification).
pub fn decode_unverified(jws: &str) -> Option<(Value, Value)> {
    let mut parts = jws.split('.');
    let mut next = || -> Option<Value> {
        let bytes = crate::jose::b64url_decode("jws", parts.next()?).ok()?;
        crate::json::parse(&bytes)
    };
    Some((next()?, next()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::rfc7515_jwk;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{Signature, VerifyingKey};

    struct Local(DpopKey);
    impl Local {
        fn proof(&self, claims: ProofClaims<'_>) -> String {
            let input = self.0.signing_input(claims);
            let sig = self.0.key().sign_local(input.as_bytes()).unwrap();
            crate::jose::compact(input, &sig)
        }
    }

    fn key() -> Local {
        Local(DpopKey::new(SigningKey::from_jwk("dpop", &rfc7515_jwk(), None, None).unwrap()).unwrap())
    }

    fn claims<'a>(access_token: Option<&'a str>, nonce: Option<&'a str>) -> ProofClaims<'a> {
        ProofClaims {
            method: "GET",
            url: "https://api.example/r/1?q=secret#frag",
            now_secs: 1_700_000_000,
            jti: "jti-1",
            access_token,
            nonce,
        }
    }

    /// The claims written as text are exactly what the JSON writer makes of the same members,
    /// with awkward strings (quotes, control characters, non-ASCII) in every free-form member.
    #[test]
    fn claims_text_is_the_json_writers() {
        let k = key();
        let url = "https://api.example/\"q\"\u{1}/\u{e9}?x";
        for (token, nonce, method) in [(None, None, "get"), (Some("tok"), Some("n\"\\\n"), "M\u{7f}")] {
            let input = k.0.signing_input(ProofClaims {
                method,
                url,
                now_secs: 17,
                jti: "j-_",
                access_token: token,
                nonce,
            });
            let mut expected = object([
                ("htm", htm(method).into()),
                ("htu", htu(url).into()),
                ("iat", 17u64.into()),
                ("jti", "j-_".into()),
            ]);
            if let Some(token) = token {
                expected.insert("ath".into(), ath(token).into());
            }
            if let Some(nonce) = nonce {
                expected.insert("nonce".into(), nonce.into());
            }
            let body = input.split('.').nth(1).unwrap();
            let text = String::from_utf8(crate::jose::b64url_decode("claims", body).unwrap()).unwrap();
            assert_eq!(text, crate::json::text(&Value::Object(expected)));
        }
    }

    #[test]
    fn proof_header_carries_public_jwk_only_and_dpop_typ() {
        let (header, _) = decode_unverified(&key().proof(claims(None, None))).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert!(header["jwk"].get("d").is_none());
    }

    #[test]
    fn proof_claims_strip_query_and_fragment_and_bind_token_and_nonce() {
        let (_, body) = decode_unverified(&key().proof(claims(Some("tok"), Some("n-1")))).unwrap();
        assert_eq!(body["htu"], "https://api.example/r/1");
        assert_eq!(body["htm"], "GET");
        assert_eq!(body["iat"], 1_700_000_000u64);
        assert_eq!(body["jti"], "jti-1");
        assert_eq!(body["nonce"], "n-1");
        assert_eq!(body["ath"], ath("tok"));
        let (_, bare) = decode_unverified(&key().proof(claims(None, None))).unwrap();
        assert!(bare.get("ath").is_none() && bare.get("nonce").is_none());
    }

    #[test]
    fn ath_follows_the_token_of_each_proof_and_debug_never_shows_it() {
        let key = key();
        let ath_of =
            |token| decode_unverified(&key.proof(claims(Some(token), None))).unwrap().1["ath"].clone();
        for token in ["token-a", "token-a", "token-b", "token-a"] {
            assert_eq!(ath_of(token), ath(token), "ath for {token}");
        }
        assert!(!format!("{:?}", key.0).contains("token-a"));
    }

    #[test]
    fn proof_signature_verifies_with_the_embedded_jwk() {
        let proof = key().proof(claims(None, None));
        let (header, _) = decode_unverified(&proof).unwrap();
        let (input, sig) = proof.rsplit_once('.').unwrap();
        let coord = |n: &str| crate::jose::b64url_decode(n, header["jwk"][n].as_str().unwrap()).unwrap();
        let point = p256::EncodedPoint::from_affine_coordinates(
            (&coord("x")[..]).into(),
            (&coord("y")[..]).into(),
            false,
        );
        let sig = Signature::from_slice(&crate::jose::b64url_decode("s", sig).unwrap()).unwrap();
        VerifyingKey::from_encoded_point(&point).unwrap().verify(input.as_bytes(), &sig).unwrap();
    }

    /// RFC 9449 §7.1 example: the `ath` of the access token `Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU`.
    #[test]
    fn ath_matches_rfc9449_example() {
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn nonces_are_kept_per_origin() {
        let mut store = NonceStore::default();
        store.remember("https://as.example/token", "n1");
        store.remember("https://api.example:8443/x?y", "n2");
        assert_eq!(store.get("https://as.example/other"), Some("n1"));
        assert_eq!(store.get("https://api.example:8443/"), Some("n2"));
        assert_eq!(store.get("https://api.example/"), None);
        store.remember("https://as.example/", "n3");
        assert_eq!(store.get("https://as.example/token"), Some("n3"));
    }

    #[test]
    fn nonce_store_keeps_32_origins_least_recently_used_out() {
        let mut store = NonceStore::default();
        let url = |n: usize| format!("https://o{n}.example/path");
        for n in 0..100 {
            assert!(store.remember(&url(n), &format!("nonce-{n}")));
            if n == 70 {
                assert_eq!(store.get(&url(40)), Some("nonce-40"), "a use keeps origin 40");
            }
        }
        assert_eq!(store.entries().count(), NONCE_ORIGINS);
        assert_eq!(store.get(&url(40)), Some("nonce-40"));
        assert_eq!(store.get(&url(99)), Some("nonce-99"));
        for gone in [0, 39, 41, 68] {
            assert_eq!(store.get(&url(gone)), None, "origin {gone}");
        }
        // Renewing a known origin's nonce takes no room.
        store.remember(&url(99), "fresh");
        assert_eq!((store.entries().count(), store.get(&url(99))), (NONCE_ORIGINS, Some("fresh")));
    }

    #[test]
    fn only_rfc9449_nonces_of_bounded_length_are_remembered() {
        let mut store = NonceStore::default();
        let long = "n".repeat(NONCE_MAX_BYTES + 1);
        let bad = ["", "a b", "a\"b", "a\\b", "a\u{0}b", "a\r\nX-Evil: 1", "é", "a\u{7f}", long.as_str()];
        for nonce in bad {
            assert!(!store.remember("https://as.example/token", nonce), "{nonce:?}");
        }
        assert_eq!(store.entries().count(), 0);
        let good = ["!#[]~", "eyJ7S_zG.eyJH0-Z.HX4w-7v", &"n".repeat(NONCE_MAX_BYTES)];
        for nonce in good {
            assert!(store.remember("https://as.example/token", nonce), "{nonce:?}");
            assert_eq!(store.get("https://as.example/x"), Some(nonce));
        }
        // A bad nonce leaves the last good one in place.
        assert!(!store.remember("https://as.example/token", "a b"));
        assert_eq!(store.get("https://as.example/x"), Some(good[2]));
    }

    #[test]
    fn origin_and_htu_handle_edge_shapes() {
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin("http://h?x"), "http://h");
        assert_eq!(htu("http://h/p#f?x"), "http://h/p");
    }
}
