//! Token and metadata requests over `fetch` (js/exchange.js), and the `fetch` to use.

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::text::decimal;
use crate::{ErrorCode, HttpRequest, HttpResponse, TokenError, Transport};

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
            date: text("date"),
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
