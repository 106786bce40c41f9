//! JWT client assertions for `private_key_jwt` (RFC 7523 §2.2 and §3; OpenID Connect Core §9).

use crate::json::{Map, Value};

use crate::jose::{object, signing_input, EncodedHeader};
use crate::key::SigningKey;

/// Mints client assertions for one client: the header is fixed per key and encoded once.
/// `Debug` shows the names of the extra claims, not their values.
#[derive(Clone)]
pub struct AssertionSigner {
    key: SigningKey,
    header: EncodedHeader,
    params: AssertionParams,
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("key", &self.key)
            .field("header", &self.header)
            .field("params", &self.params)
            .finish()
    }
}

/// What a client assertion says, besides the key (`Debug` shows claim names only).
#[derive(Clone)]
pub struct AssertionParams {
    /// `iss` and `sub` (RFC 7523 §3 items A and B).
    pub client_id: String,
    /// `aud`: one string, the issuer or token endpoint URL (RFC 7523 §3 item C).
    pub audience: String,
    /// `exp - iat`; authorities want it short (HelseID: at most 60 s).
    pub lifetime_secs: u64,
    /// Header `typ`; `JWT` unless the authority asks for e.g. `client-authentication+jwt`.
    pub typ: String,
    /// The client's extra claims (`clientAuth.claims`); they never replace the registered claims
    /// above. A request's own claims ([`crate::RequestOptions::claims`]) go over them.
    pub claims: Map<String, Value>,
    /// Header `x5c`: the certificate chain (base64 DER, leaf first) whose leaf holds the key
    /// (RFC 7515 §4.1.6; Maskinporten's business certificates).
    pub x5c: Option<Vec<String>>,
}

impl std::fmt::Debug for AssertionParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionParams")
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("lifetime_secs", &self.lifetime_secs)
            .field("typ", &self.typ)
            .field("claims", &ClaimNames(&self.claims))
            .field("x5c", &self.x5c.as_ref().map(Vec::len))
            .finish()
    }
}

/// Extra claims in `Debug` output: their names (a tenant's claims may be confidential).
struct ClaimNames<'a>(&'a Map<String, Value>);

impl std::fmt::Debug for ClaimNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl AssertionSigner {
    /// Prepare a signer for `params` with `key` (header: `alg`, `typ`, `kid` when the key has one,
    /// `x5c` when a chain is given).
    pub fn new(key: SigningKey, params: AssertionParams) -> Self {
        let mut header = object([("alg", key.alg().as_str().into()), ("typ", params.typ.as_str().into())]);
        if let Some(kid) = key.kid() {
            header.insert("kid".into(), kid.into());
        }
        if let Some(chain) = &params.x5c {
            header.insert("x5c".into(), chain.as_slice().into());
        }
        AssertionSigner { header: EncodedHeader::new(&Value::Object(header)), key, params }
    }

    /// The JWS signing input of an assertion issued at `now_secs` with the unique `jti` and the
    /// request's `claims` (the client's, merged with the call's); sign it with [`Self::key`].
    pub fn signing_input(&self, now_secs: u64, jti: &str, claims: &Map<String, Value>) -> String {
        let mut claims = claims.clone();
        let p = &self.params;
        let registered = [
            ("iss", p.client_id.as_str().into()),
            ("sub", p.client_id.as_str().into()),
            ("aud", p.audience.as_str().into()),
            ("jti", jti.into()),
            ("iat", now_secs.into()),
            ("nbf", now_secs.into()),
            ("exp", (now_secs + p.lifetime_secs).into()),
        ];
        for (name, value) in registered {
            claims.insert(name.to_owned(), value);
        }
        signing_input(&self.header, &Value::Object(claims))
    }

    /// The signing input of a JWT bearer grant assertion (RFC 7523 §2.1 as Maskinporten wants
    /// it): exactly `iss` (client_id), `aud`, `scope`, `iat`, `exp`, `jti`, and `resource` when
    /// given (a string for one, an array for several), plus the request's `claims` — no `sub`,
    /// no `nbf`.
    pub fn grant_signing_input(
        &self,
        now_secs: u64,
        jti: &str,
        scope: &[String],
        resource: &[String],
        claims: &Map<String, Value>,
    ) -> String {
        let mut claims = claims.clone();
        let p = &self.params;
        let registered = [
            ("iss", p.client_id.as_str().into()),
            ("aud", p.audience.as_str().into()),
            ("scope", crate::text::spaced(scope).into()),
            ("iat", now_secs.into()),
            ("exp", (now_secs + p.lifetime_secs).into()),
            ("jti", jti.into()),
        ];
        for (name, value) in registered {
            claims.insert(name.to_owned(), value);
        }
        match resource {
            [] => {}
            [one] => {
                claims.insert("resource".into(), one.as_str().into());
            }
            many => {
                claims.insert("resource".into(), many.into());
            }
        }
        signing_input(&self.header, &Value::Object(claims))
    }

    /// `exp - iat` in seconds.
    pub fn lifetime_secs(&self) -> u64 {
        self.params.lifetime_secs
    }

    /// What the assertions say besides the key.
    pub fn params(&self) -> &AssertionParams {
        &self.params
    }

    /// The client's extra claims (`clientAuth.claims`).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.params.claims
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::b64url_decode;
    use crate::json::json;
    use crate::key::tests::rfc7515_jwk;

    /// Sign locally (test keys are ES256) and return the compact JWS.
    fn mint(s: &AssertionSigner, now: u64, jti: &str) -> String {
        let input = s.signing_input(now, jti, s.claims());
        let sig = s.key().sign_local(input.as_bytes()).unwrap();
        crate::jose::compact(input, &sig)
    }

    fn decode(part: &str) -> Value {
        crate::json::parse(&b64url_decode("p", part).unwrap()).unwrap()
    }

    fn signer(claims: Map<String, Value>) -> AssertionSigner {
        let key = SigningKey::from_jwk("k", &rfc7515_jwk(), None, Some("kid-7")).unwrap();
        AssertionSigner::new(
            key,
            AssertionParams {
                client_id: "worker".into(),
                audience: "https://helseid.example/".into(),
                lifetime_secs: 60,
                typ: "client-authentication+jwt".into(),
                claims,
                x5c: None,
            },
        )
    }

    #[test]
    fn assertion_has_rfc7523_claims_and_kid_typ_headers() {
        let jwt = mint(&signer(Map::new()), 1_700_000_000, "jti-1");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(decode(parts[0]), json!({"alg":"ES256","typ":"client-authentication+jwt","kid":"kid-7"}));
        assert_eq!(
            decode(parts[1]),
            json!({"iss":"worker","sub":"worker","aud":"https://helseid.example/","jti":"jti-1",
                   "iat":1_700_000_000u64,"nbf":1_700_000_000u64,"exp":1_700_000_060u64})
        );
    }

    #[test]
    fn maskinporten_grant_assertion_has_exactly_its_claims() {
        let mut extra = Map::new();
        extra.insert("consumer_org".into(), json!("0192:910753614"));
        let s = signer(extra);
        let input = s.grant_signing_input(
            100,
            "j1",
            &["nav:a".into(), "nav:b".into()],
            &["https://api/".into()],
            s.claims(),
        );
        let claims = decode(input.split('.').nth(1).unwrap());
        assert_eq!(
            claims,
            json!({"iss":"worker","aud":"https://helseid.example/","scope":"nav:a nav:b","iat":100,"exp":160,
                   "jti":"j1","resource":"https://api/","consumer_org":"0192:910753614"})
        );
        let two =
            s.grant_signing_input(100, "j", &[], &["https://a/".into(), "https://b/".into()], s.claims());
        assert_eq!(decode(two.split('.').nth(1).unwrap())["resource"], json!(["https://a/", "https://b/"]));
    }

    #[test]
    fn extra_claims_cannot_override_registered_ones() {
        let mut extra = Map::new();
        extra.insert("iss".into(), json!("attacker"));
        extra.insert("assertion_details".into(), json!([{"type":"helseid_authorization"}]));
        let jwt = mint(&signer(extra), 10, "j");
        let claims = decode(jwt.split('.').nth(1).unwrap());
        assert_eq!(claims["iss"], "worker");
        assert_eq!(claims["assertion_details"][0]["type"], "helseid_authorization");
    }
}
