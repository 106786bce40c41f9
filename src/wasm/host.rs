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
        .map_err(|e| transport_error(&e, &url, &request))?;
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

/// Map a fetch rejection to a TokenError naming the endpoint and the cause: the cause's `code`
/// (`ECONNRESET`) or else the error's message, unless that repeats part of what was sent (a
/// custom fetch or a wrapper may quote the request's `Authorization` header or form in its errors).
fn transport_error(e: &JsValue, url: &str, request: &HttpRequest) -> TokenError {
    let name = super::get(e, "name").as_string().unwrap_or_default();
    if name == "TimeoutError" || name == "AbortError" {
        return TokenError::new(
            ErrorCode::Timeout,
            cat!("request to ", url, " did not complete within ", decimal(request.timeout_ms.into()), " ms"),
        );
    }
    let cause = super::get(e, "cause");
    let detail = super::get(&cause, "code")
        .as_string()
        .or_else(|| super::get(e, "message").as_string())
        .map(|d| crate::text::clean(&d, crate::text::DETAIL))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "fetch failed".into());
    let detail = if quotes(&detail, &sent_pieces(request)) {
        "fetch failed (the error's details quote the request and are withheld)".to_owned()
    } else {
        detail
    };
    TokenError::new(ErrorCode::Network, cat!("token request to ", url, " failed: ", detail))
}

/// The shortest piece of the request that, repeated in a host error, counts as quoting it.
const QUOTE_MIN_BYTES: usize = 8;

/// What a token request sent that a host error must not repeat: its header values and body, raw
/// and form-decoded (client secrets, assertions and subject tokens travel there).
fn sent_pieces(request: &HttpRequest) -> Vec<Vec<u8>> {
    let mut sent: Vec<Vec<u8>> = request.headers.iter().map(|(_, v)| v.as_bytes().to_vec()).collect();
    if let Some(body) = &request.body {
        sent.push(body.as_bytes().to_vec());
        sent.extend(body.split(['&', '=']).map(form_decode));
    }
    sent
}

/// Whether `text` repeats [`QUOTE_MIN_BYTES`] or more bytes of any of `sent`. The pieces of `sent`
/// are first marked in a 64 Kbit filter, so a long error text (a stack, a cause chain) is
/// compared byte by byte only where a piece may match.
fn quotes(text: &str, sent: &[impl AsRef<[u8]>]) -> bool {
    let slot = |w: &[u8]| {
        let word = <[u8; QUOTE_MIN_BYTES]>::try_from(w).map_or(0, u64::from_le_bytes);
        (word.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 48) as usize
    };
    let pieces = || sent.iter().flat_map(|s| s.as_ref().windows(QUOTE_MIN_BYTES));
    let mut filter = vec![0u64; 1024];
    for w in pieces() {
        let at = slot(w);
        filter[at / 64] |= 1 << (at % 64);
    }
    text.as_bytes().windows(QUOTE_MIN_BYTES).any(|piece| {
        let at = slot(piece);
        filter[at / 64] & (1 << (at % 64)) != 0 && pieces().any(|w| w == piece)
    })
}

/// A failed API call's error, unless its text ([`error_text`]) repeats a piece of `sent` (the
/// `Authorization` and `DPoP` values): a custom fetch's error, or the platform's about an invalid
/// header value, may quote the token. Then a `network_error` naming `url` says the details were
/// withheld.
pub fn api_error(error: JsValue, url: &str, sent: &[impl AsRef<[u8]>]) -> JsValue {
    if !quotes(&error_text(&error), sent) {
        return error;
    }
    let url = crate::dpop::htu(url);
    let message =
        cat!("request to ", url, " failed (the error's details quote the request and are withheld)");
    TokenError::new(ErrorCode::Network, message).into()
}

/// What of a thrown value can reach a log: `String(e)`, its `message` and `stack`, its JSON (own
/// enumerable properties), and the same of its `cause`s (at most four: a chain may be a cycle).
fn error_text(error: &JsValue) -> String {
    let mut text = String::new();
    let mut e = error.clone();
    for _ in 0..4 {
        if e.is_undefined() || e.is_null() {
            break;
        }
        let json = js_sys::JSON::stringify(&e).ok().and_then(|j| j.as_string());
        let parts = [
            super::guard::string_of(&e),
            super::get(&e, "message").as_string(),
            super::get(&e, "stack").as_string(),
            json,
        ];
        for part in parts.into_iter().flatten() {
            text.push_str(&part);
            text.push('\n');
        }
        e = super::get(&e, "cause");
    }
    text
}

/// `application/x-www-form-urlencoded` decoding of one name or value (`+` is a space).
fn form_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|&b| (b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'+', ..) => out.push(b' '),
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 2;
            }
            (b, ..) => out.push(b),
        }
        i += 1;
    }
    out
}

impl From<TokenError> for JsValue {
    fn from(e: TokenError) -> JsValue {
        super::error::to_js(e)
    }
}
