//! The engine's I/O over the Workers runtime's `fetch`: a [`Transport`] for token and metadata
//! requests, and [`ApiRequest`], the [`ApiCall`] that carries a token to an API.
//!
//! Both send with `redirect: "manual"` (Cloudflare's fetch refuses `"error"`): a token request
//! never follows a redirect, and an API call's redirects are the engine's to decide (within the
//! origin only, so the token never travels to another one). Errors never quote what was sent:
//! a runtime's error text may repeat a header (a client secret, a proof, a token).

use js_sys::{Promise, Reflect, Uint8Array};
use tokenfetch::resource::ApiHeaders;
use tokenfetch::{ApiCall, ErrorCode, HttpRequest, HttpResponse, TokenError, Transport};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestInit, RequestRedirect, Response};

#[wasm_bindgen]
extern "C" {
    /// The runtime's `fetch(url, init)`.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn runtime_fetch(url: &str, init: &RequestInit) -> Result<Promise, JsValue>;
}

/// The most a token or metadata response may be: real ones are a few KiB.
const MAX_TOKEN_RESPONSE_BYTES: u32 = 256 * 1024;

/// How long an API call may take before it is abandoned (`timeout`).
const API_TIMEOUT_MS: u32 = 30_000;

/// Token and metadata requests over `fetch`: `redirect: "manual"`, `AbortSignal.timeout` over
/// the whole exchange (the body too), the response read whole (up to 256 KiB).
#[derive(Clone, Copy, Debug, Default)]
pub struct FetchTransport;

impl Transport for FetchTransport {
    async fn send(&self, request: HttpRequest) -> tokenfetch::Result<HttpResponse> {
        // Messages name the URL without its query (`htu`).
        let shown = tokenfetch::dpop::htu(&request.url);
        let fail = |e: JsValue| failure(e, "token request to ", shown, request.timeout_ms);
        let headers = Headers::new().map_err(fail)?;
        for (name, value) in &request.headers {
            headers.set(name, value).map_err(fail)?;
        }
        let init = init(request.method, &headers, request.body.as_deref(), request.timeout_ms);
        let response: Response = JsFuture::from(runtime_fetch(&request.url, &init).map_err(fail)?)
            .await
            .map_err(fail)?
            .unchecked_into();
        let status = response.status();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let too_large = || {
            let problem =
                format!("response from {shown} is larger than {} KiB", MAX_TOKEN_RESPONSE_BYTES / 1024);
            TokenError::new(ErrorCode::InvalidTokenResponse, problem).with_status(status)
        };
        let declared = header("content-length").and_then(|n| n.parse::<u64>().ok());
        if declared.is_some_and(|n| n > u64::from(MAX_TOKEN_RESPONSE_BYTES)) {
            return Err(too_large());
        }
        let buffer = JsFuture::from(response.array_buffer().map_err(fail)?).await.map_err(fail)?;
        let body = Uint8Array::new(&buffer);
        if body.length() > MAX_TOKEN_RESPONSE_BYTES {
            return Err(too_large());
        }
        let answered = response.url();
        Ok(HttpResponse {
            status,
            content_type: header("content-type"),
            dpop_nonce: header("dpop-nonce"),
            retry_after: header("retry-after"),
            date: header("date"),
            redirected: response.redirected() || (!answered.is_empty() && answered != request.url),
            body: body.to_vec(),
        })
    }
}

/// One API request that [`tokenfetch::TokenClient::fetch`] sends with a token: the engine adds
/// `Authorization` (and `DPoP`) over these headers, retries after a DPoP nonce challenge or an
/// `invalid_token`, and follows same-origin redirects through [`ApiCall::redirect`].
#[derive(Debug)]
pub struct ApiRequest {
    method: String,
    /// Absolute, in normal form (the engine compares origins on it).
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl ApiRequest {
    /// A `GET` of `url` (absolute, in normal form: see [`tokenfetch::url::normalize`]).
    pub fn get(url: String) -> Self {
        ApiRequest { method: "GET".to_owned(), url, headers: Vec::new(), body: None }
    }

    /// With one more request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl ApiCall for ApiRequest {
    type Response = Response;
    type Error = TokenError;

    fn method(&self) -> &str {
        &self.method
    }

    fn url(&self) -> &str {
        &self.url
    }

    /// The body is a string held here: it can be sent again.
    fn replayable(&self) -> bool {
        true
    }

    async fn send(&mut self, with: &ApiHeaders) -> Result<Response, TokenError> {
        let shown = tokenfetch::dpop::htu(&self.url);
        let fail = |e: JsValue| failure(e, "request to ", shown, API_TIMEOUT_MS);
        let headers = Headers::new().map_err(fail)?;
        for (name, value) in &self.headers {
            headers.set(name, value).map_err(fail)?;
        }
        headers.set("authorization", &with.authorization).map_err(fail)?;
        if let Some(proof) = &with.dpop {
            headers.set("dpop", proof).map_err(fail)?;
        }
        let init = init(&self.method, &headers, self.body.as_deref(), API_TIMEOUT_MS);
        let response = JsFuture::from(runtime_fetch(&self.url, &init).map_err(fail)?).await.map_err(fail)?;
        Ok(response.unchecked_into())
    }

    fn status(&self, response: &Response) -> u16 {
        response.status()
    }

    fn header(&self, response: &Response, name: &str) -> Option<String> {
        response.headers().get(name).ok().flatten()
    }

    /// `Location`, resolved against the request URL by the runtime's `URL` (as `fetch` would).
    fn redirect_location(&self, response: &Response) -> Option<String> {
        if !(300..400).contains(&response.status()) {
            return None;
        }
        let location = self.header(response, "location")?;
        web_sys::Url::new_with_base(&location, &self.url).ok().map(|u| u.href())
    }

    fn redirect(&mut self, url: &str, as_get: bool) -> Result<bool, TokenError> {
        url.clone_into(&mut self.url);
        if as_get {
            "GET".clone_into(&mut self.method);
            self.body = None;
            self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        }
        Ok(true)
    }
}

/// `{ method, headers, body, redirect: "manual", signal: AbortSignal.timeout(timeout_ms) }`.
fn init(method: &str, headers: &Headers, body: Option<&str>, timeout_ms: u32) -> RequestInit {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(headers);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    init.set_redirect(RequestRedirect::Manual);
    init.set_signal(Some(&AbortSignal::timeout_with_u32(timeout_ms)));
    init
}

/// A failed exchange as a [`TokenError`]: `timeout` when the signal fired, else `network_error`
/// with the error's name only (its message may quote the request).
fn failure(error: JsValue, what: &str, url: &str, timeout_ms: u32) -> TokenError {
    let name = Reflect::get(&error, &JsValue::from_str("name")).ok().and_then(|n| n.as_string());
    match name.as_deref() {
        Some("TimeoutError" | "AbortError") => TokenError::new(
            ErrorCode::Timeout,
            format!("{what}{url} did not complete within {timeout_ms} ms"),
        ),
        Some(name) if name.bytes().all(|b| b.is_ascii_alphanumeric()) && name.len() <= 40 => {
            TokenError::new(ErrorCode::Network, format!("{what}{url} failed ({name})"))
        }
        _ => TokenError::new(ErrorCode::Network, format!("{what}{url} failed")),
    }
}
