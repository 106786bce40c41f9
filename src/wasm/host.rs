//! The host side of the engine's traits: `fetch`, `Date.now()` and `crypto.getRandomValues`.

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::text::decimal;
use crate::{Env, ErrorCode, HttpRequest, HttpResponse, TokenError, Transport};

#[wasm_bindgen]
extern "C" {
    /// `globalThis.crypto.getRandomValues(view)`, filling `buf` in place.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// Clock, randomness, signers, timers and the `onEvent` hook from the JS host.
#[derive(Clone, Default)]
pub struct JsEnv {
    /// The caller's `onEvent(event)`.
    pub on_event: Option<Function>,
}

/// `new Promise(resolve => setTimeout(resolve, ms))`.
async fn sleep_ms(ms: u64) {
    let set_timeout = super::get(&js_sys::global(), "setTimeout");
    let Ok(set_timeout) = set_timeout.dyn_into::<Function>() else {
        return;
    };
    let promise = Promise::new(&mut |resolve, _| {
        let _ = set_timeout.call2(&JsValue::UNDEFINED, &resolve, &JsValue::from_f64(ms as f64));
    });
    let _ = JsFuture::from(promise).await;
}

impl Env for JsEnv {
    fn event(&self, event: crate::event::Event) {
        use crate::event::Event;
        let Some(hook) = &self.on_event else {
            return;
        };
        let o = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &v);
        };
        set("type", event.kind().into());
        set("time", js_sys::Date::now().into());
        match &event {
            Event::CacheHit { key } => set("cacheKey", key.as_str().into()),
            Event::TokenRequest { key, duration_ms, attempts, error, .. } => {
                set("cacheKey", key.as_str().into());
                set("durationMs", (*duration_ms as f64).into());
                set("attempts", (*attempts).into());
                if let Some(code) = error {
                    set("code", (*code).into());
                }
            }
            Event::NonceRetry { at, url } => {
                set("at", (*at).into());
                set("url", url.as_str().into());
            }
            Event::InvalidTokenRetry { url } => set("url", url.as_str().into()),
            Event::StoreHit { key, waited_ms } => {
                set("cacheKey", key.as_str().into());
                set("waitedMs", (*waited_ms as f64).into());
            }
            Event::StoreError { key, op, message } => {
                set("cacheKey", key.as_str().into());
                set("op", (*op).into());
                set("message", message.as_str().into());
            }
            Event::StaleIfError { key, error, expires_in_ms } => {
                set("cacheKey", key.as_str().into());
                set("code", (*error).into());
                set("expiresInMs", (*expires_in_ms as f64).into());
            }
        }
        // A throwing hook must not break the client.
        let _ = hook.call1(&JsValue::UNDEFINED, &o);
    }

    async fn sleep(&self, ms: u64) {
        sleep_ms(ms).await;
    }

    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn fill_random(&self, buf: &mut [u8]) {
        // crypto.getRandomValues exists in every supported runtime; without it there is no safe
        // way on, so this fails closed. (Called directly: getrandom's fallbacks for old Node
        // added six host imports.) Requests here are at most 1 KiB, under its 65,536 limit.
        if get_random_values(buf).is_err() {
            wasm_bindgen::throw_str("tokenfetch: crypto.getRandomValues is not available");
        }
    }

    fn fill_unique(&self, buf: &mut [u8]) {
        UNIQUE.with(|pool| pool.borrow_mut().take(self, buf));
    }

    async fn public_jwk(&self, key: crate::key::HostKey<'_>) -> crate::Result<crate::json::Value> {
        super::signer::public_jwk(key).await
    }

    fn prefers_host(&self, alg: crate::jose::Alg) -> bool {
        alg != crate::jose::Alg::Es256 || super::signer::prefers_host()
    }

    fn sign_now(&self, key: crate::key::HostKey<'_>, input: &[u8]) -> Option<crate::Result<Vec<u8>>> {
        super::signer::sign_now(key, input)
    }

    async fn sign(&self, key: crate::key::HostKey<'_>, input: &[u8]) -> crate::Result<Vec<u8>> {
        super::signer::sign(key, input).await
    }
}

thread_local! {
    static UNIQUE: std::cell::RefCell<UniquePool> = const {
        std::cell::RefCell::new(UniquePool { bytes: [0; UNIQUE_POOL], used: UNIQUE_POOL })
    };
}

/// Bytes of [`UniquePool`]: 64 JWT IDs per `crypto.getRandomValues` call.
const UNIQUE_POOL: usize = 1024;

/// Random bytes for JWT IDs, fetched in batches: `crypto.getRandomValues` costs about 10 µs per
/// call in Node whatever the length (measured: a fifth of a DPoP proof's time). Every byte is
/// handed out once.
struct UniquePool {
    bytes: [u8; UNIQUE_POOL],
    used: usize,
}

impl UniquePool {
    fn take(&mut self, env: &JsEnv, buf: &mut [u8]) {
        if buf.len() > UNIQUE_POOL / 4 {
            return env.fill_random(buf);
        }
        if self.used + buf.len() > UNIQUE_POOL {
            env.fill_random(&mut self.bytes);
            self.used = 0;
        }
        let end = self.used + buf.len();
        buf.copy_from_slice(&self.bytes[self.used..end]);
        self.bytes[self.used..end].fill(0);
        self.used = end;
    }
}

/// The `fetch` to use: the caller's, or `globalThis.fetch` looked up at call time.
#[derive(Clone)]
pub struct Fetcher {
    custom: Option<Function>,
}

impl Fetcher {
    pub fn new(custom: Option<Function>) -> Self {
        Fetcher { custom }
    }

    /// The caller's `fetch` option, if any.
    pub fn custom(&self) -> Option<&Function> {
        self.custom.as_ref()
    }
}

#[wasm_bindgen(module = "/js/exchange.js")]
extern "C" {
    /// One token or metadata request (js/exchange.js): `redirect: "manual"`, a timeout on the
    /// whole exchange, the body read up to `limit` bytes.
    #[wasm_bindgen(catch)]
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        fetch: &JsValue,
        url: &str,
        method: &str,
        headers: &js_sys::Object,
        body: Option<String>,
        timeout_ms: u32,
        limit: u32,
    ) -> Result<Promise, JsValue>;
}

/// Token requests over fetch (js/exchange.js).
#[derive(Clone)]
pub struct JsTransport {
    pub fetcher: Fetcher,
}

/// The most a token or metadata response may be: real ones are a few KiB.
const MAX_BODY_BYTES: u32 = 256 * 1024;

impl Transport for JsTransport {
    async fn send(&self, request: HttpRequest) -> crate::Result<HttpResponse> {
        let url = crate::dpop::htu(&request.url).to_owned();
        let headers = js_sys::Object::new();
        for (name, value) in &request.headers {
            let _ = js_sys::Reflect::set(&headers, &JsValue::from_str(name), &JsValue::from_str(value));
        }
        let custom = self.fetcher.custom().map_or(JsValue::UNDEFINED, JsValue::from);
        let sent = exchange(
            &custom,
            &request.url,
            request.method,
            &headers,
            request.body.clone(),
            request.timeout_ms,
            MAX_BODY_BYTES,
        );
        let answer = match sent {
            Ok(promise) => JsFuture::from(promise).await,
            Err(e) => Err(e),
        }
        .unwrap_or_default();
        match super::get(&answer, "failed").as_string().as_deref() {
            None => {}
            Some("timeout") => {
                let ms = decimal(request.timeout_ms.into());
                let message = cat!("request to ", url, " did not complete within ", ms, " ms");
                return Err(TokenError::new(ErrorCode::Timeout, message));
            }
            Some(_) => {
                let detail = super::get(&answer, "detail").as_string();
                let detail =
                    detail.map(|d| crate::text::clean(&d, crate::text::DETAIL)).filter(|d| !d.is_empty());
                let detail = match (detail, super::get(&answer, "withheld").is_truthy()) {
                    (_, true) => {
                        "fetch failed (the error's details quote the request and are withheld)".to_owned()
                    }
                    (Some(detail), _) => detail,
                    (None, _) => "fetch failed".to_owned(),
                };
                let message = cat!("token request to ", url, " failed: ", detail);
                return Err(TokenError::new(ErrorCode::Network, message));
            }
        }
        let text = |name: &str| super::get(&answer, name).as_string();
        let status = super::get(&answer, "status").as_f64().unwrap_or_default() as u16;
        let body = super::get(&answer, "body");
        if body.is_null() {
            let limit = cat!(" is larger than ", decimal(u64::from(MAX_BODY_BYTES / 1024)), " KiB");
            let e = TokenError::new(ErrorCode::InvalidTokenResponse, cat!("response from ", url, limit));
            return Err(e.with_status(status));
        }
        Ok(HttpResponse {
            status,
            content_type: text("contentType"),
            dpop_nonce: text("dpopNonce"),
            retry_after: text("retryAfter"),
            redirected: super::get(&answer, "redirected").is_truthy(),
            body: Uint8Array::new(&body).to_vec(),
        })
    }
}

impl From<TokenError> for JsValue {
    fn from(e: TokenError) -> JsValue {
        super::error::to_js(e)
    }
}
