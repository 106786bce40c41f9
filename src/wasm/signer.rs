//! The host signers. A native signer registered by the package entry (node:crypto in Node and
//! Bun: synchronous, the fastest measured) signs keys given as JWKs; WebCrypto (`crypto.subtle`,
//! present in every supported runtime) signs the rest and everything where no native signer is
//! registered. ES256 JWKs go to the host only when [`prefers_host`] says so: by measurement, when
//! a native signer is registered.
//!
//! Keys are held by handle ([`HostKey::id`]: one per `SigningKey`, never derived from the key) and
//! deleted when the `SigningKey` drops ([`release`], the crate's release hook). Keys imported from
//! a private JWK are bounded ([`HOST_KEY_CAP`], least recently used leave first) and imported again
//! from the JWK when needed; a caller's `CryptoKey` cannot be, so it stays while its key lives.
//! Every import of an RSA or EC P-384/P-521 JWK is checked before a signature made with it is
//! used: a signature of [`PAIRWISE_TEST_INPUT`] must verify with the key's public members.

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::get;
use crate::jose::Alg;
use crate::key::{HostKey, SigningKey, PAIRWISE_TEST_INPUT};
use crate::providers::Signer;
use crate::{Result, TokenError};

/// The most keys imported from JWKs that each host map keeps (WebCrypto's and the native
/// signer's), least recently used leaving first.
pub const HOST_KEY_CAP: u32 = 256;

thread_local! {
    /// `CryptoKey`s imported from private JWKs, by handle, least recently used first (JS `Map`s:
    /// no hash map in the module).
    static IMPORTED: js_sys::Map = js_sys::Map::new();
    /// Callers' private `CryptoKey`s, by handle, for as long as their key lives.
    static REGISTERED: js_sys::Map = js_sys::Map::new();
    /// Callers' public `CryptoKey`s (`dpop.keyPair`), by handle.
    static PUBLIC_KEYS: js_sys::Map = js_sys::Map::new();
    /// Handles whose JWK passed the pairwise consistency test (a re-import skips it).
    static CHECKED: js_sys::Set = js_sys::Set::new(&JsValue::UNDEFINED);
    static NEXT_ID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    static NATIVE: RefCell<Option<Native>> = const { RefCell::new(None) };
    /// Handles the native signer holds, least recently used first; it drops what leaves here.
    static NATIVE_KEYS: js_sys::Map = js_sys::Map::new();
}

#[cfg(feature = "hooks")]
thread_local! {
    static PREFERENCE: std::cell::Cell<Preference> = const { std::cell::Cell::new(Preference::Auto) };
}

/// The native signer's two functions.
#[derive(Clone)]
struct Native {
    sign: Function,
    release: Function,
}

/// Who signs ES256 JWKs (set by the bench, through the `hooks` feature).
#[cfg(feature = "hooks")]
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

/// Called by the Node and Bun entries with a synchronous signer over node:crypto,
/// `sign(handle, alg, data: Uint8Array | null, privateJwkJson?, publicJwkJson?)`, and
/// `release(handle)`, which drops a key. `sign` answers the signature (ECDSA in IEEE P1363 form),
/// or `undefined` when `data` is null (import only). The private JWK comes when the signer does
/// not hold the key: it imports it, and with a public JWK first checks that a signature made with
/// it verifies with that public key, answering `false` when it does not (keeping nothing).
#[wasm_bindgen(js_name = __registerNativeSigner)]
pub fn register_native_signer(sign: Function, release: Function) {
    crate::key::set_release_hook(self::release);
    NATIVE.with(|n| *n.borrow_mut() = Some(Native { sign, release }));
    NATIVE_KEYS.with(js_sys::Map::clear);
}

/// The crate's release hook: forget everything held for `handle`, in wasm and in the native signer.
fn release(handle: &str) {
    let id = JsValue::from_str(handle);
    IMPORTED.with(|m| m.delete(&id));
    REGISTERED.with(|m| m.delete(&id));
    PUBLIC_KEYS.with(|m| m.delete(&id));
    CHECKED.with(|s| s.delete(&id));
    if NATIVE_KEYS.with(|m| m.delete(&id)) {
        native_release(&id);
    }
}

fn native_release(id: &JsValue) {
    if let Some(native) = NATIVE.with(|n| n.borrow().clone()) {
        let _ = native.release.call1(&JsValue::UNDEFINED, id);
    }
}

/// `map.get(id)`, moved to the most recent end when found (`undefined` when absent).
fn touch(map: &js_sys::Map, id: &JsValue) -> JsValue {
    let value = map.get(id);
    if !value.is_undefined() {
        map.delete(id);
        map.set(id, &value);
    }
    value
}

/// `map.set(id, value)` as the most recent entry; the least recently used key past
/// [`HOST_KEY_CAP`], removed.
fn insert_bounded(map: &js_sys::Map, id: &JsValue, value: &JsValue) -> Option<JsValue> {
    map.set(id, value);
    if map.size() <= HOST_KEY_CAP {
        return None;
    }
    let oldest = map.keys().next().ok()?.value();
    map.delete(&oldest);
    Some(oldest)
}

/// The error of a failed pairwise consistency test.
fn mismatch(key: HostKey<'_>) -> TokenError {
    let members = if key.alg.kty() == "RSA" { "\"n\"/\"e\"" } else { "\"x\"/\"y\"" };
    TokenError::key(
        key.field,
        cat!(
            "the public members (",
            members,
            ") do not belong to the private key: a signature made with it does not verify with them"
        ),
    )
}

/// Call the native signer (`input` `None`: import only); the private JWK crosses to the host until
/// the signer holds the key (once per import, not once per signature), with the public JWK to
/// check it against until that check has passed for this handle.
fn call_native(native: &Native, key: HostKey<'_>, jwk: &str, input: Option<&[u8]>) -> Result<JsValue> {
    let id = JsValue::from_str(key.id);
    let alg = JsValue::from_str(key.alg.as_str());
    let data = input.map_or(JsValue::NULL, |input| Uint8Array::from(input).into());
    let fail = |e: JsValue| host_error(key, &cat!("node:crypto could not sign with ", key.alg.as_str()), &e);
    if !NATIVE_KEYS.with(|m| touch(m, &id)).is_undefined() {
        return native.sign.call3(&JsValue::UNDEFINED, &id, &alg, &data).map_err(fail);
    }
    let check = key.check_against.filter(|_| !CHECKED.with(|c| c.has(&id)));
    let public = check.map_or(JsValue::UNDEFINED, JsValue::from_str);
    let signed =
        native.sign.call5(&JsValue::UNDEFINED, &id, &alg, &data, &JsValue::from_str(jwk), &public).map_err(
            |e| host_error(key, &cat!("node:crypto could not use the ", key.alg.as_str(), " key"), &e),
        )?;
    if signed == JsValue::FALSE {
        return Err(mismatch(key));
    }
    if check.is_some() {
        CHECKED.with(|c| c.add(&id));
    }
    let evicted = NATIVE_KEYS.with(|m| insert_bounded(m, &id, &JsValue::TRUE));
    if let Some(old) = evicted {
        native_release(&old);
    }
    Ok(signed)
}

/// With a native signer registered, import `key` into it now, running the pairwise consistency
/// test that RSA and EC P-384/P-521 JWKs need: the client constructor and the helpers call this,
/// so a mismatched JWK fails there, synchronously. Without one (WebCrypto only), the test runs
/// when the key is first imported, before its first signature is used.
pub fn check_now(key: &SigningKey) -> Result<()> {
    let host = key.host_key();
    let (Some(jwk), Some(_)) = (host.private_jwk, host.check_against) else {
        return Ok(());
    };
    match NATIVE.with(|n| n.borrow().clone()) {
        Some(native) => call_native(&native, host, jwk, None).map(drop),
        None => Ok(()),
    }
}

/// [`check_now`] for the keys of a client's options: a mismatched JWK is `invalid_config` naming
/// `clientAuth.privateJwk` or `dpop.privateJwk`.
pub fn check_config_keys(config: &crate::config::ClientConfig) -> Result<()> {
    use crate::config::{ClientAuth, DpopSetting};
    let auth = match &config.client_auth {
        ClientAuth::PrivateKeyJwt(signer) => Some(signer.key()),
        _ => None,
    };
    let dpop = match &config.dpop {
        DpopSetting::Key(key) => Some(&**key),
        _ => None,
    };
    for key in auth.into_iter().chain(dpop) {
        check_now(key).map_err(|mut e| {
            e.code = crate::ErrorCode::InvalidConfig;
            e
        })?;
    }
    Ok(())
}

/// Counts of what the host maps hold, for tests: `{ imported, registered, publicKeys, checked,
/// native, cap }`. Internal (the `hooks` feature); not part of the package's API.
#[cfg(feature = "hooks")]
#[wasm_bindgen(js_name = __hostKeyCounts)]
pub fn host_key_counts() -> JsValue {
    super::object(&[
        ("imported", IMPORTED.with(|m| m.size()).into()),
        ("registered", REGISTERED.with(|m| m.size()).into()),
        ("publicKeys", PUBLIC_KEYS.with(|m| m.size()).into()),
        ("checked", CHECKED.with(|s| s.size()).into()),
        ("native", NATIVE_KEYS.with(|m| m.size()).into()),
        ("cap", HOST_KEY_CAP.into()),
    ])
}

/// For benchmarks and diagnosis: `"auto"` (default), `"wasm"` (p256 in wasm for ES256 JWKs) or
/// `"host"`. Internal (the `hooks` feature).
#[cfg(feature = "hooks")]
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

/// The host signers as the engine's [`Signer`]: node:crypto when the Node and Bun entries
/// registered it, WebCrypto otherwise; ES256 JWKs stay with p256 in wasm unless
/// [`prefers_host`].
#[derive(Clone, Copy, Default)]
pub struct JsSigner;

impl Signer for JsSigner {
    fn prefers_host(&self, alg: Alg) -> bool {
        alg != Alg::Es256 || prefers_host()
    }

    fn sign_now(&self, key: HostKey<'_>, input: &[u8]) -> Option<Result<Vec<u8>>> {
        sign_now(key, input)
    }

    async fn sign(&self, key: HostKey<'_>, input: &[u8]) -> Result<Vec<u8>> {
        sign(key, input).await
    }

    async fn public_jwk(&self, key: HostKey<'_>) -> Result<crate::json::Value> {
        public_jwk(key).await
    }
}

/// Whether ES256 JWKs should be signed by the host rather than p256 in wasm: when a native
/// signer is registered (node:crypto: ~10x p256 in wasm; WebCrypto, awaited per proof, measured
/// no faster than p256 in wasm in Deno).
pub fn prefers_host() -> bool {
    #[cfg(feature = "hooks")]
    match PREFERENCE.with(|p| p.get()) {
        Preference::Wasm => return false,
        Preference::Host => return true,
        Preference::Auto => {}
    }
    NATIVE.with(|n| n.borrow().is_some())
}

/// Sign with the native signer, when one is registered and the key is a JWK.
/// The signer may answer with the bytes or with a Promise of them.
async fn sign_native(key: HostKey<'_>, input: &[u8]) -> Option<Result<Vec<u8>>> {
    let jwk = key.private_jwk?;
    let signer = NATIVE.with(|n| n.borrow().clone())?;
    let value = match call_native(&signer, key, jwk, Some(input)) {
        Ok(value) => value,
        Err(e) => return Some(Err(e)),
    };
    let result = match value.dyn_into::<Promise>() {
        Ok(promise) => JsFuture::from(promise).await,
        Err(bytes) => Ok(bytes),
    };
    let fail = |e: JsValue| host_error(key, &cat!("node:crypto could not sign with ", key.alg.as_str()), &e);
    Some(result.map(|signature| Uint8Array::new(&signature).to_vec()).map_err(fail))
}

/// Sign with the native signer now, when it is registered, the key is a JWK, and it answers
/// synchronously (node:crypto does); `None` otherwise.
pub fn sign_now(key: HostKey<'_>, input: &[u8]) -> Option<Result<Vec<u8>>> {
    let jwk = key.private_jwk?;
    let signer = NATIVE.with(|n| n.borrow().clone())?;
    match call_native(&signer, key, jwk, Some(input)) {
        Ok(value) if value.has_type::<Promise>() => None,
        Ok(signature) => Some(Ok(Uint8Array::new(&signature).to_vec())),
        Err(e) => Some(Err(e)),
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

/// A host's error as `field: what: detail`, the detail (its message, else its name) made printable
/// and capped.
fn host_error(key: HostKey<'_>, what: &str, e: &JsValue) -> TokenError {
    let detail = get(e, "message")
        .as_string()
        .filter(|m| !m.is_empty())
        .or_else(|| get(e, "name").as_string())
        .unwrap_or_default();
    TokenError::key(key.field, cat!(what, ": ", crate::text::clean(&detail, crate::text::DETAIL)))
}

/// `crypto.subtle.importKey("jwk", json, params(alg), false, [usage])`.
async fn import_jwk(key: HostKey<'_>, json: &str, usage: &str) -> Result<JsValue> {
    let jwk = js_sys::JSON::parse(json).map_err(|_| TokenError::key(key.field, "the JWK is not JSON"))?;
    let usages: JsValue = Array::of1(&usage.into()).into();
    subtle_call("importKey", &["jwk".into(), jwk, import_params(key.alg).into(), false.into(), usages])
        .await
        .map_err(|e| host_error(key, &cat!("WebCrypto could not import the ", key.alg.as_str(), " key"), &e))
}

/// The pairwise consistency test with WebCrypto: a signature of [`PAIRWISE_TEST_INPUT`] made
/// with `private` verifies with the public JWK `public`.
async fn pairwise(key: HostKey<'_>, private: &JsValue, public: &str) -> Result<()> {
    let verifier = import_jwk(key, public, "verify").await?;
    let data: JsValue = Uint8Array::from(PAIRWISE_TEST_INPUT).into();
    let params: JsValue = sign_params(key.alg).into();
    let failed = |e: JsValue| host_error(key, "WebCrypto could not check the key", &e);
    let signature =
        subtle_call("sign", &[params.clone(), private.clone(), data.clone()]).await.map_err(failed)?;
    let verified = subtle_call("verify", &[params, verifier, signature, data]).await.map_err(failed)?;
    if verified != JsValue::TRUE {
        return Err(mismatch(key));
    }
    Ok(())
}

/// The `CryptoKey` for `key`: a caller's, or one imported from its private JWK (checked, the
/// first time, by [`pairwise`]) and kept by handle, least recently used leaving first.
async fn crypto_key(key: HostKey<'_>) -> Result<JsValue> {
    let id = JsValue::from_str(key.id);
    let registered = REGISTERED.with(|m| m.get(&id));
    if !registered.is_undefined() {
        return Ok(registered);
    }
    let found = IMPORTED.with(|m| touch(m, &id));
    if !found.is_undefined() {
        return Ok(found);
    }
    let jwk = key.private_jwk.ok_or_else(|| TokenError::key(key.field, "the host key is not registered"))?;
    let imported = import_jwk(key, jwk, "sign").await?;
    if let Some(public) = key.check_against.filter(|_| !CHECKED.with(|c| c.has(&id))) {
        pairwise(key, &imported, public).await?;
        CHECKED.with(|c| c.add(&id));
    }
    crate::key::set_release_hook(release);
    IMPORTED.with(|m| insert_bounded(m, &id, &imported));
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
        .map_err(|e| host_error(key, &cat!("WebCrypto could not sign with ", key.alg.as_str()), &e))?;
    Ok(Uint8Array::new(&signature).to_vec())
}

/// The public JWK of a registered key pair (`crypto.subtle.exportKey`: public keys always export).
pub async fn public_jwk(key: HostKey<'_>) -> Result<crate::json::Value> {
    let public = PUBLIC_KEYS.with(|k| k.get(&key.id.into()));
    if public.is_undefined() {
        return Err(TokenError::key(key.field, "no public key was registered"));
    }
    let jwk = subtle_call("exportKey", &["jwk".into(), public])
        .await
        .map_err(|e| host_error(key, "WebCrypto could not export the public key", &e))?;
    super::to_json("publicKey", &jwk)
}

/// Register a caller's private `CryptoKey` (and, for DPoP, its public key) for `field`; returns
/// its id and the JWS algorithm it signs with (from `key.algorithm`, checked against `alg`). The
/// id is the handle of one `SigningKey::external`, which releases it when it drops.
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
    crate::key::set_release_hook(release);
    REGISTERED.with(|k| k.set(&id.as_str().into(), key));
    if let Some(public) = public {
        PUBLIC_KEYS.with(|k| k.set(&id.as_str().into(), &public));
    }
    Ok((id, inferred))
}
