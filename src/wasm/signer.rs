//! The host signers. A native signer registered by the package entry (node:crypto in Node and
//! Bun: synchronous, the fastest measured) signs keys given as JWKs; WebCrypto (`crypto.subtle`,
//! present in every supported runtime) signs the rest and everything where no native signer is
//! registered. Private JWKs are imported once and cached by key id; a caller's `CryptoKey` is
//! registered under an id and never leaves the host. ES256 JWKs go to the host only when
//! [`prefers_host`] says so: by measurement, when a native signer is registered.

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::get;
use crate::jose::Alg;
use crate::key::HostKey;
use crate::{Result, TokenError};

thread_local! {
    /// Imported and registered `CryptoKey`s by key id, in a JS `Map` (no hash map in the module).
    static KEYS: js_sys::Map = js_sys::Map::new();
    static PUBLIC_KEYS: js_sys::Map = js_sys::Map::new();
    static NEXT_ID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    static NATIVE: RefCell<Option<Function>> = const { RefCell::new(None) };
    /// Key ids the native signer holds (it keeps each key after the first call).
    static NATIVE_KEYS: js_sys::Set = js_sys::Set::new(&JsValue::UNDEFINED);
    static PREFERENCE: std::cell::Cell<Preference> = const { std::cell::Cell::new(Preference::Auto) };
}

/// Who signs ES256 JWKs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Preference {
    /// The native signer when one is registered (node:crypto: ~10x p256 in wasm), else p256 in
    /// wasm (WebCrypto, awaited per proof, measured no faster than p256 in wasm in Deno).
    Auto,
    /// Always p256 in wasm.
    Wasm,
    /// Always the host.
    Host,
}

/// Called by the Node and Bun entries with a synchronous signer over node:crypto:
/// `(keyId, alg, data: Uint8Array, privateJwkJson?) => Uint8Array` (ECDSA in IEEE P1363 form).
/// The JWK comes with a key's first signature only; the signer keeps the key by id.
#[wasm_bindgen(js_name = __registerNativeSigner)]
pub fn register_native_signer(signer: Function) {
    NATIVE.with(|n| *n.borrow_mut() = Some(signer));
    NATIVE_KEYS.with(js_sys::Set::clear);
}

/// Call the native signer; the private JWK crosses to the host until the signer has the key
/// (once per key, not once per signature).
fn call_native(signer: &Function, key: HostKey<'_>, jwk: &str, input: &[u8]) -> Result<JsValue, JsValue> {
    let id = JsValue::from_str(key.id);
    let (alg, data) = (JsValue::from_str(key.alg.as_str()), Uint8Array::from(input));
    if NATIVE_KEYS.with(|k| k.has(&id)) {
        return signer.call3(&JsValue::UNDEFINED, &id, &alg, &data);
    }
    let signed = signer.call4(&JsValue::UNDEFINED, &id, &alg, &data, &JsValue::from_str(jwk))?;
    NATIVE_KEYS.with(|k| k.add(&id));
    Ok(signed)
}

/// For benchmarks and diagnosis: `"auto"` (default), `"wasm"` (p256 in wasm for ES256 JWKs) or
/// `"host"`.
#[wasm_bindgen(js_name = __setSignerPreference)]
pub fn set_signer_preference(preference: &str) -> Result<(), JsValue> {
    let p = match preference {
        "auto" => Preference::Auto,
        "wasm" => Preference::Wasm,
        "host" => Preference::Host,
        _ => return Err(TokenError::argument("preference", "must be \"auto\", \"wasm\" or \"host\"").into()),
    };
    PREFERENCE.with(|c| c.set(p));
    Ok(())
}

/// Whether ES256 JWKs should be signed by the host rather than p256 in wasm.
pub fn prefers_host() -> bool {
    match PREFERENCE.with(|p| p.get()) {
        Preference::Wasm => false,
        Preference::Host => true,
        Preference::Auto => NATIVE.with(|n| n.borrow().is_some()),
    }
}

/// Sign with the native signer, when one is registered and the key is a JWK.
/// The signer may answer with the bytes or with a Promise of them.
async fn sign_native(key: HostKey<'_>, input: &[u8]) -> Option<Result<Vec<u8>>> {
    let jwk = key.private_jwk?;
    let signer = NATIVE.with(|n| n.borrow().clone())?;
    let fail = |e: JsValue| host_error(&cat!("node:crypto could not sign with ", key.alg.as_str()), &e);
    let result = match call_native(&signer, key, jwk, input) {
        Ok(value) => match value.dyn_into::<Promise>() {
            Ok(promise) => JsFuture::from(promise).await,
            Err(bytes) => Ok(bytes),
        },
        Err(e) => Err(e),
    };
    Some(result.map(|signature| Uint8Array::new(&signature).to_vec()).map_err(fail))
}

/// Sign with the native signer now, when it is registered, the key is a JWK, and it answers
/// synchronously (node:crypto does); `None` otherwise.
pub fn sign_now(key: HostKey<'_>, input: &[u8]) -> Option<Result<Vec<u8>>> {
    let jwk = key.private_jwk?;
    let signer = NATIVE.with(|n| n.borrow().clone())?;
    match call_native(&signer, key, jwk, input) {
        Ok(value) if value.has_type::<Promise>() => None,
        Ok(signature) => Some(Ok(Uint8Array::new(&signature).to_vec())),
        Err(e) => Some(Err(host_error(&cat!("node:crypto could not sign with ", key.alg.as_str()), &e))),
    }
}

fn subtle() -> std::result::Result<JsValue, TokenError> {
    let subtle = get(&get(&js_sys::global(), "crypto"), "subtle");
    if subtle.is_undefined() {
        return Err(TokenError::key("key", "crypto.subtle (WebCrypto) is not available in this runtime"));
    }
    Ok(subtle)
}

fn object(entries: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in entries {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

fn hash(alg: Alg) -> JsValue {
    JsValue::from_str(match alg.hash_bits() {
        256 => "SHA-256",
        384 => "SHA-384",
        _ => "SHA-512",
    })
}

/// The WebCrypto algorithm to import a key for `alg` with.
fn import_params(alg: Alg) -> Object {
    match alg.curve() {
        Some(curve) => object(&[("name", "ECDSA".into()), ("namedCurve", curve.into())]),
        None if alg.as_str().starts_with("PS") => object(&[("name", "RSA-PSS".into()), ("hash", hash(alg))]),
        None => object(&[("name", "RSASSA-PKCS1-v1_5".into()), ("hash", hash(alg))]),
    }
}

/// The WebCrypto parameters to sign with for `alg` (RFC 7518 §3.3–3.5: PSS salt = hash length).
fn sign_params(alg: Alg) -> Object {
    match alg.curve() {
        Some(_) => object(&[("name", "ECDSA".into()), ("hash", hash(alg))]),
        None if alg.as_str().starts_with("PS") => {
            object(&[("name", "RSA-PSS".into()), ("saltLength", JsValue::from(alg.hash_bits() / 8))])
        }
        None => object(&[("name", "RSASSA-PKCS1-v1_5".into())]),
    }
}

/// `crypto.subtle[method](...args)`, awaited.
pub(super) async fn subtle_call(method: &str, args: &[JsValue]) -> std::result::Result<JsValue, JsValue> {
    let subtle = subtle()?;
    let f: Function = get(&subtle, method).dyn_into()?;
    let promise: Promise = f.apply(&subtle, &args.iter().collect::<Array>())?.dyn_into()?;
    JsFuture::from(promise).await
}

fn host_error(what: &str, e: &JsValue) -> TokenError {
    let detail = get(e, "message").as_string().unwrap_or_default();
    TokenError::key("key", cat!(what, ": ", crate::text::clean(&detail, crate::text::DETAIL)))
}

async fn crypto_key(key: HostKey<'_>) -> Result<JsValue> {
    let found = KEYS.with(|k| k.get(&key.id.into()));
    if !found.is_undefined() {
        return Ok(found);
    }
    let jwk = key.private_jwk.ok_or_else(|| TokenError::key("key", "the host key is not registered"))?;
    let jwk = js_sys::JSON::parse(jwk).map_err(|_| TokenError::key("key", "private JWK is not JSON"))?;
    let usages: JsValue = Array::of1(&"sign".into()).into();
    let imported =
        subtle_call("importKey", &["jwk".into(), jwk, import_params(key.alg).into(), false.into(), usages])
            .await
            .map_err(|e| {
                host_error(&cat!("WebCrypto could not import the ", key.alg.as_str(), " key"), &e)
            })?;
    KEYS.with(|k| k.set(&key.id.into(), &imported));
    Ok(imported)
}

/// Sign natively when possible, else with WebCrypto; ECDSA signatures come back as `R || S`, as
/// JWS wants them.
pub async fn sign(key: HostKey<'_>, input: &[u8]) -> Result<Vec<u8>> {
    if let Some(signature) = sign_native(key, input).await {
        return signature;
    }
    let crypto_key = crypto_key(key).await?;
    let data: JsValue = Uint8Array::from(input).into();
    let signature = subtle_call("sign", &[sign_params(key.alg).into(), crypto_key, data])
        .await
        .map_err(|e| host_error(&cat!("WebCrypto could not sign with ", key.alg.as_str()), &e))?;
    Ok(Uint8Array::new(&signature).to_vec())
}

/// The public JWK of a registered key pair (`crypto.subtle.exportKey`: public keys always export).
pub async fn public_jwk(key: HostKey<'_>) -> Result<crate::json::Value> {
    let public = PUBLIC_KEYS.with(|k| k.get(&key.id.into()));
    if public.is_undefined() {
        return Err(TokenError::key("key", "no public key was registered"));
    }
    let jwk = subtle_call("exportKey", &["jwk".into(), public])
        .await
        .map_err(|e| host_error("WebCrypto could not export the public key", &e))?;
    super::to_json("publicKey", &jwk)
}

/// Register a caller's private `CryptoKey` (and, for DPoP, its public key) for `field`; returns
/// its id and the JWS algorithm it signs with (from `key.algorithm`, checked against `alg`).
pub fn register(
    field: &str,
    key: &JsValue,
    alg: Option<&str>,
    public: Option<JsValue>,
) -> Result<(String, Alg)> {
    if get(key, "type").as_string().as_deref() != Some("private") {
        return Err(TokenError::config(field, "must be a private CryptoKey"));
    }
    if !super::guard::strings(&get(key, "usages")).iter().any(|u| u == "sign") {
        return Err(TokenError::config(field, "must have the \"sign\" usage"));
    }
    let algorithm = get(key, "algorithm");
    let name = get(&algorithm, "name").as_string().unwrap_or_default();
    let hash = get(&get(&algorithm, "hash"), "name").as_string().unwrap_or_default();
    let curve = get(&algorithm, "namedCurve").as_string().unwrap_or_default();
    let bits = hash.strip_prefix("SHA-").unwrap_or("");
    let inferred = match name.as_str() {
        "ECDSA" => match curve.as_str() {
            "P-256" => "ES256",
            "P-384" => "ES384",
            "P-521" => "ES512",
            _ => "",
        }
        .to_owned(),
        "RSASSA-PKCS1-v1_5" => cat!("RS", bits),
        "RSA-PSS" => cat!("PS", bits),
        _ => String::new(),
    };
    let inferred = Alg::parse(field, &inferred).map_err(|_| {
        TokenError::config(
            field,
            cat!("a ", name, " key cannot sign JWS (use ECDSA, RSASSA-PKCS1-v1_5 or RSA-PSS)"),
        )
    })?;
    if let Some(wanted) = alg.filter(|a| *a != inferred.as_str()) {
        return Err(TokenError::config(
            field,
            cat!(
                "this ",
                name,
                " key signs ",
                inferred.as_str(),
                ", not \"",
                crate::text::clean(wanted, crate::text::QUOTED),
                "\""
            ),
        ));
    }
    let id = NEXT_ID.with(|n| {
        n.set(n.get() + 1);
        cat!("cryptokey-", crate::text::decimal(n.get().into()))
    });
    KEYS.with(|k| k.set(&id.as_str().into(), key));
    if let Some(public) = public {
        PUBLIC_KEYS.with(|k| k.set(&id.as_str().into(), &public));
    }
    Ok((id, inferred))
}
