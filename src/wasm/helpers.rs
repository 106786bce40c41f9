//! The standalone helpers: `generateDpopKey`, `createClientAssertion`, `createDpopProof`,
//! `jwkThumbprint`.

use std::cell::RefCell;

use js_sys::Promise;
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;

use super::JsEnv;
use super::{get, to_json};
use crate::assertion::{AssertionParams, AssertionSigner};
use crate::dpop::{DpopKey, ProofClaims};
use crate::key::SigningKey;
use crate::providers::{Clock, Random};
use crate::TokenError;

fn required(o: &JsValue, name: &str) -> Result<String, TokenError> {
    get(o, name)
        .as_string()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TokenError::argument(name, "is required (a non-empty string)"))
}

thread_local! {
    /// Keys the helpers parsed, by SHA-256 of (JWK, alg, kid): deriving an EC public key costs as
    /// much as a signature, so a caller signing with the same JWK again skips it. The hash covers
    /// the private members, so a JWK that repeats another's public members is another entry, with
    /// its own host handle. Bounded, least recently used leaving first: a key that leaves is
    /// dropped, and its handle released in the host maps.
    static PARSED: RefCell<Vec<([u8; 32], SigningKey)>> = const { RefCell::new(Vec::new()) };
}
const PARSED_MAX: usize = 32;

fn private_key(o: &JsValue, alg: Option<&str>, kid: Option<&str>) -> Result<SigningKey, TokenError> {
    let value = get(o, "privateJwk");
    if value.is_undefined() || value.is_null() {
        return Err(TokenError::argument("privateJwk", "is required"));
    }
    let text = js_sys::JSON::stringify(&value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| TokenError::argument("privateJwk", "must be a JWK object"))?;
    let mut hasher = Sha256::new();
    for part in [text.as_str(), alg.unwrap_or(""), kid.unwrap_or("")] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let id: [u8; 32] = hasher.finalize().into();
    let hit = PARSED.with(|p| {
        let mut parsed = p.borrow_mut();
        let at = parsed.iter().position(|(k, _)| *k == id)?;
        let entry = parsed.remove(at);
        let key = entry.1.clone();
        parsed.push(entry);
        Some(key)
    });
    if let Some(key) = hit {
        return Ok(key);
    }
    let jwk = crate::json::parse(text.as_bytes())
        .ok_or_else(|| TokenError::argument("privateJwk", "must be a JWK object"))?;
    let key = SigningKey::from_jwk("privateJwk", &jwk, alg, kid)?;
    super::signer::check_now(&key)?;
    let evicted = PARSED.with(|p| {
        let mut parsed = p.borrow_mut();
        let evicted = (parsed.len() >= PARSED_MAX).then(|| parsed.remove(0));
        parsed.push((id, key.clone()));
        evicted
    });
    // Dropped outside the borrow: dropping a key runs the release hook.
    drop(evicted);
    Ok(key)
}

/// A new private ES256 JWK (with `alg`), for `dpop: { privateJwk }` or storage.
#[wasm_bindgen(js_name = generateDpopKey)]
pub fn generate_dpop_key() -> Promise {
    let key = SigningKey::generate(|b| JsEnv::default().fill_random(b));
    let jwk = super::json_to_js(key.to_private_jwk().as_ref());
    Promise::resolve(&jwk)
}

/// A signed `private_key_jwt` client assertion (RFC 7523).
#[wasm_bindgen(js_name = createClientAssertion)]
pub fn create_client_assertion(o: JsValue) -> Promise {
    settle(async move {
        let alg = get(&o, "alg").as_string();
        let kid = get(&o, "kid").as_string();
        let key = private_key(&o, alg.as_deref(), kid.as_deref())?;
        let lifetime = match get(&o, "lifetimeSeconds").as_f64() {
            None => 60,
            Some(s) if (1.0..=3600.0).contains(&s) && s.fract() == 0.0 => s as u64,
            Some(_) => {
                return Err(TokenError::argument("lifetimeSeconds", "must be an integer from 1 to 3600"))
            }
        };
        let claims = match to_json("claims", &get(&o, "claims"))? {
            crate::json::Value::Null => crate::json::Map::new(),
            crate::json::Value::Object(m) => m,
            _ => return Err(TokenError::argument("claims", "must be an object")),
        };
        let signer = AssertionSigner::new(
            key,
            AssertionParams {
                client_id: required(&o, "clientId")?,
                audience: required(&o, "audience")?,
                lifetime_secs: lifetime,
                typ: "JWT".into(),
                claims,
                x5c: None,
            },
        );
        let input =
            signer.signing_input(JsEnv::default().now_ms() / 1000, &JsEnv::default().jti(), signer.claims());
        signer.key().sign(&JsEnv::default(), input).await
    })
}

/// A signed DPoP proof (RFC 9449 §4).
#[wasm_bindgen(js_name = createDpopProof)]
pub fn create_dpop_proof(o: JsValue) -> Promise {
    settle(async move {
        let key = DpopKey::new(private_key(&o, None, None)?)?;
        let access_token = get(&o, "accessToken").as_string();
        let nonce = get(&o, "nonce").as_string();
        let input = key.signing_input(ProofClaims {
            method: &required(&o, "method")?,
            url: &required(&o, "url")?,
            now_secs: JsEnv::default().now_ms() / 1000,
            jti: &JsEnv::default().jti(),
            access_token: access_token.as_deref(),
            nonce: nonce.as_deref(),
        });
        key.key().sign(&JsEnv::default(), input).await
    })
}

/// HelseID's `helseid_authorization` object for organization numbers, to send as
/// `clientAuth.claims.assertion_details: [obj]` or `extraParams.authorization_details: JSON.stringify([obj])`.
#[wasm_bindgen(js_name = helseIdAuthorization)]
pub fn helseid_authorization(o: JsValue) -> Result<JsValue, JsValue> {
    let parent = get(&o, "parentOrganization").as_string();
    let child = get(&o, "childOrganization").as_string();
    Ok(super::json_to_js(Some(&crate::helseid::authorization(parent.as_deref(), child.as_deref())?)))
}

/// RFC 7638 thumbprint (SHA-256, base64url) of a JWK.
#[wasm_bindgen(js_name = jwkThumbprint)]
pub fn jwk_thumbprint(jwk: JsValue) -> Result<String, JsValue> {
    let json = to_json("jwk", &jwk)?;
    Ok(crate::jwk::thumbprint("jwk", &json)?)
}

fn settle(f: impl std::future::Future<Output = Result<String, TokenError>> + 'static) -> Promise {
    super::future_to_promise(async move { Ok(JsValue::from_str(&f.await?)) })
}
