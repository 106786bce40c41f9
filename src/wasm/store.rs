//! The `store` option: the caller's key/value adapter (Workers KV, Deno KV, Redis, ...), with
//! every value sealed by AES-GCM through WebCrypto under `storeEncryptionKey`, bound to its key
//! (as additional data) so that a value moved to another key does not open. Each call to the
//! adapter is bounded by a quarter of `timeoutMs` (at most 2 s): a hanging store cannot hang the
//! client, and leaves it time to ask the authority.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use zeroize::Zeroizing;

use super::get;
use crate::jose::{b64url, b64url_decode};
use crate::text::decimal;
use crate::{ErrorCode, Result, Store, TokenError};

/// The caller's store adapter and the key its values are sealed with.
#[derive(Clone)]
pub struct JsStore {
    inner: Rc<Inner>,
}

struct Inner {
    adapter: JsValue,
    locks: bool,
    key: RefCell<SealKey>,
    timeout_ms: u32,
}

/// `storeEncryptionKey`: raw bytes until first use, then a non-extractable `CryptoKey`.
enum SealKey {
    Raw(Zeroizing<Vec<u8>>),
    Crypto(JsValue),
}

const SEALED_PREFIX: &str = "v1.";

/// What is encrypted to derive the secret store keys are hashed under.
const NAMING_LABEL: &str = "tokenfetch/v2 store key names";

impl JsStore {
    /// The `store` and `storeEncryptionKey` options, checked: `None` without a store.
    pub fn from_options(options: &JsValue, timeout_ms: u32) -> Result<Option<JsStore>> {
        let adapter = get(options, "store");
        let key = get(options, "storeEncryptionKey");
        let absent = |v: &JsValue| v.is_undefined() || v.is_null();
        if absent(&adapter) {
            if !absent(&key) {
                return Err(TokenError::config("storeEncryptionKey", "is only used with \"store\""));
            }
            return Ok(None);
        }
        if !adapter.is_object() {
            return Err(TokenError::config(
                "store",
                "must be an object with get(key) and set(key, value, ttlSeconds)",
            ));
        }
        for name in ["get", "set"] {
            if !get(&adapter, name).is_function() {
                return Err(TokenError::config(&cat!("store.", name), "must be a function"));
            }
        }
        let has = |name: &str| !absent(&get(&adapter, name));
        for name in ["delete", "lock", "unlock"] {
            if has(name) && !get(&adapter, name).is_function() {
                return Err(TokenError::config(&cat!("store.", name), "must be a function"));
            }
        }
        if has("lock") != has("unlock") {
            return Err(TokenError::config("store.lock", "and store.unlock come together (or neither)"));
        }
        let key = seal_key(&key)?;
        let locks = has("lock");
        // A store answers in milliseconds; one that does not must leave time to ask the authority.
        let timeout_ms = (timeout_ms / 4).clamp(1, 2000);
        let inner = Inner { adapter, locks, key: RefCell::new(key), timeout_ms };
        Ok(Some(JsStore { inner: Rc::new(inner) }))
    }

    /// Call `store[name](...args)`, awaiting a returned Promise, within `timeoutMs`.
    async fn call(&self, name: &'static str, args: &[JsValue]) -> Result<JsValue> {
        let fail = |e: JsValue| {
            let detail = get(&e, "message").as_string().or_else(|| e.as_string()).unwrap_or_default();
            let detail = crate::text::clean(&detail, crate::text::DETAIL);
            TokenError::new(ErrorCode::Network, cat!("store.", name, " failed: ", detail))
        };
        let function: Function = get(&self.inner.adapter, name).unchecked_into();
        let value = function.apply(&self.inner.adapter, &args.iter().collect::<Array>()).map_err(fail)?;
        if !value.has_type::<Promise>() && !get(&value, "then").is_function() {
            return Ok(value);
        }
        let promise = super::guard::adopt(&value);
        within(promise, self.inner.timeout_ms).await.map_err(|e| match e {
            Bounded::TimedOut => TokenError::new(
                ErrorCode::Timeout,
                cat!("store.", name, " did not answer within ", decimal(self.inner.timeout_ms.into()), " ms"),
            ),
            Bounded::Failed(e) => fail(e),
        })
    }

    /// The sealing key as a `CryptoKey`, imported on first use (the raw bytes are then wiped).
    async fn crypto_key(&self) -> Result<JsValue> {
        let raw = match &*self.inner.key.borrow() {
            SealKey::Crypto(key) => return Ok(key.clone()),
            SealKey::Raw(raw) => Uint8Array::from(raw.as_slice()),
        };
        let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
        let key = super::signer::subtle_call(
            "importKey",
            &["raw".into(), raw.clone().into(), "AES-GCM".into(), false.into(), usages.into()],
        )
        .await
        .map_err(|_| {
            TokenError::config("storeEncryptionKey", "WebCrypto could not import it as an AES-GCM key")
        });
        raw.fill(0, 0, raw.length());
        let key = key?;
        *self.inner.key.borrow_mut() = SealKey::Crypto(key.clone());
        Ok(key)
    }

    fn params(iv: &[u8], store_key: &str) -> JsValue {
        let params = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = js_sys::Reflect::set(&params, &JsValue::from_str(k), &v);
        };
        set("name", "AES-GCM".into());
        set("iv", Uint8Array::from(iv).into());
        set("additionalData", Uint8Array::from(store_key.as_bytes()).into());
        params.into()
    }

    /// The secret store keys are hashed under: SHA-256 of the AES-GCM encryption of a fixed
    /// label under a fixed IV (96 zero bits, which random IVs never take in practice). AES as a
    /// PRF of the key: deterministic, the same whether the key came as text or as a `CryptoKey`,
    /// and unknowable without it.
    async fn derive_naming_secret(&self) -> Result<[u8; 32]> {
        use sha2::Digest;
        let key = self.crypto_key().await?;
        let label = Uint8Array::from(NAMING_LABEL.as_bytes());
        let sealed = super::signer::subtle_call("encrypt", &[Self::params(&[0; 12], ""), key, label.into()])
            .await
            .map_err(|_| {
                TokenError::new(ErrorCode::InvalidKey, "WebCrypto could not derive the store key names")
            })?;
        Ok(sha2::Sha256::digest(Uint8Array::new(&sealed).to_vec()).into())
    }

    /// `v1.<iv>.<ciphertext and tag>`, base64url.
    async fn seal(&self, store_key: &str, plaintext: &str) -> Result<String> {
        let key = self.crypto_key().await?;
        let mut iv = [0u8; 12];
        crate::Random::fill_random(&super::clock::JsRandom, &mut iv);
        let data = Uint8Array::from(plaintext.as_bytes());
        let sealed = super::signer::subtle_call("encrypt", &[Self::params(&iv, store_key), key, data.into()])
            .await
            .map_err(|_| {
                TokenError::new(ErrorCode::InvalidKey, "WebCrypto could not seal the store value")
            })?;
        Ok(cat!(SEALED_PREFIX, b64url(iv), ".", b64url(Uint8Array::new(&sealed).to_vec())))
    }

    /// The plaintext of a sealed value stored under `store_key`.
    async fn open(&self, store_key: &str, value: &str) -> Result<String> {
        let unreadable = || {
            TokenError::new(
                ErrorCode::InvalidTokenResponse,
                "a stored value did not open (another storeEncryptionKey, or altered)",
            )
        };
        let (iv, sealed) =
            value.strip_prefix(SEALED_PREFIX).and_then(|v| v.split_once('.')).ok_or_else(unreadable)?;
        let iv = b64url_decode("store", iv).map_err(|_| unreadable())?;
        let sealed = b64url_decode("store", sealed).map_err(|_| unreadable())?;
        if iv.len() != 12 {
            return Err(unreadable());
        }
        let key = self.crypto_key().await?;
        let data = Uint8Array::from(sealed.as_slice());
        let plain = super::signer::subtle_call("decrypt", &[Self::params(&iv, store_key), key, data.into()])
            .await
            .map_err(|_| unreadable())?;
        String::from_utf8(Uint8Array::new(&plain).to_vec()).map_err(|_| unreadable())
    }
}

/// `storeEncryptionKey`: 16 or 32 bytes as base64url (or base64), or an AES-GCM `CryptoKey`
/// that can encrypt and decrypt. Never echoed in an error.
fn seal_key(value: &JsValue) -> Result<SealKey> {
    const FIELD: &str = "storeEncryptionKey";
    if value.is_undefined() || value.is_null() {
        return Err(TokenError::config(
            FIELD,
            "is required with \"store\": stored tokens are sealed with it (32 random bytes, base64url)",
        ));
    }
    if let Some(text) = value.as_string() {
        let text = Zeroizing::new(text.trim_end_matches('=').replace('+', "-").replace('/', "_"));
        let bytes = b64url_decode(FIELD, &text).map_err(|_| {
            TokenError::config(FIELD, "must be base64url (or base64) of 16 or 32 random bytes")
        })?;
        let bytes = Zeroizing::new(bytes);
        if bytes.len() != 16 && bytes.len() != 32 {
            return Err(TokenError::config(
                FIELD,
                cat!("must be 16 or 32 bytes (AES-128/256-GCM), not ", decimal(bytes.len() as u64)),
            ));
        }
        return Ok(SealKey::Raw(bytes));
    }
    let algorithm = get(&get(value, "algorithm"), "name").as_string();
    let usages = super::guard::strings(&get(value, "usages"));
    let can = |u: &str| usages.iter().any(|have| have == u);
    if get(value, "type").as_string().as_deref() != Some("secret") || algorithm.as_deref() != Some("AES-GCM")
    {
        return Err(TokenError::config(FIELD, "must be a base64url string or an AES-GCM CryptoKey"));
    }
    if !can("encrypt") || !can("decrypt") {
        return Err(TokenError::config(FIELD, "must have the \"encrypt\" and \"decrypt\" usages"));
    }
    Ok(SealKey::Crypto(value.clone()))
}

enum Bounded {
    TimedOut,
    Failed(JsValue),
}

/// Await `promise`, or give up after `ms` (the timer is cleared either way, so it does not keep
/// a process alive).
async fn within(promise: Promise, ms: u32) -> std::result::Result<JsValue, Bounded> {
    let global = js_sys::global();
    let (Ok(set_timeout), Ok(clear_timeout)) = (
        get(&global, "setTimeout").dyn_into::<Function>(),
        get(&global, "clearTimeout").dyn_into::<Function>(),
    ) else {
        return JsFuture::from(promise).await.map_err(Bounded::Failed);
    };
    let timed_out = js_sys::Object::new();
    let mut handle = JsValue::UNDEFINED;
    let marker = timed_out.clone();
    let timer = Promise::new(&mut |resolve, _| {
        let resolve_marker = resolve.bind1(&JsValue::UNDEFINED, &marker);
        handle =
            set_timeout.call2(&JsValue::UNDEFINED, &resolve_marker, &JsValue::from(ms)).unwrap_or_default();
    });
    let raced = JsFuture::from(Promise::race(&Array::of2(&promise, &timer))).await;
    let _ = clear_timeout.call1(&JsValue::UNDEFINED, &handle);
    match raced {
        Ok(value) if value == JsValue::from(timed_out) => Err(Bounded::TimedOut),
        Ok(value) => Ok(value),
        Err(e) => Err(Bounded::Failed(e)),
    }
}

impl Store for JsStore {
    async fn naming_secret(&self) -> Result<[u8; 32]> {
        self.derive_naming_secret().await
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        let value = self.call("get", &[key.into()]).await?;
        match value.as_string() {
            Some(sealed) => Ok(Some(self.open(key, &sealed).await?)),
            None if value.is_undefined() || value.is_null() => Ok(None),
            None => Err(TokenError::new(
                ErrorCode::InvalidTokenResponse,
                "store.get answered neither a string nor null",
            )),
        }
    }

    async fn set(&self, key: &str, value: &str, ttl_secs: u64) -> Result<()> {
        let sealed = self.seal(key, value).await?;
        self.call("set", &[key.into(), sealed.into(), JsValue::from(ttl_secs as f64)]).await.map(drop)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        if get(&self.inner.adapter, "delete").is_function() {
            self.call("delete", &[key.into()]).await?;
        }
        Ok(())
    }

    async fn lock(&self, key: &str, owner: &str, ttl_ms: u64) -> Result<Option<bool>> {
        if !self.inner.locks {
            return Ok(None);
        }
        let taken = self.call("lock", &[key.into(), owner.into(), JsValue::from(ttl_ms as f64)]).await?;
        Ok(Some(taken.is_truthy()))
    }

    async fn unlock(&self, key: &str, owner: &str) -> Result<()> {
        self.call("unlock", &[key.into(), owner.into()]).await.map(drop)
    }
}
