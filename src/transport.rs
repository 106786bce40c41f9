//! The engine's I/O: a [`Transport`] for token and metadata requests, and the [`ApiCall`] a Rust
//! host makes with [`crate::TokenClient::fetch`]. The wasm glue implements them over `fetch`;
//! Rust hosts over their own HTTP client. (Time, randomness, signing and events are the
//! [`crate::providers`].)
#![allow(async_fn_in_trait)] // the engine is single-threaded (wasm); futures need not be Send

use crate::error::Result;

/// A request to the authority: a token request (`POST`) or a metadata request (`GET`). Never
/// follows redirects; bounded by `timeout_ms`. Its `Debug` shows header values other than
/// `content-type` and `accept` as `***`, and only the parameter names of the body.
#[derive(Clone)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Absolute URL.
    pub url: String,
    /// Header names are lower case.
    pub headers: Vec<(&'static str, String)>,
    /// Form body (`POST` only).
    pub body: Option<String>,
    /// Bound on the whole exchange, body included.
    pub timeout_ms: u32,
}

/// Header values (an `Authorization` with a client secret, a DPoP proof) and form values (client
/// secrets, assertions, subject tokens) print as `***`.
impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| match *name {
                "content-type" | "accept" => (*name, value.as_str()),
                _ => (*name, "***"),
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body.as_deref().map(FormNames))
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// A form body in `Debug` output: its parameter names, each value `***`.
pub(crate) struct FormNames<'a>(pub(crate) &'a str);

impl std::fmt::Debug for FormNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self.0.split('&').filter(|p| !p.is_empty()).map(|p| p.split('=').next().unwrap_or(""));
        f.debug_map().entries(names.map(|name| (name, "***"))).finish()
    }
}

/// An authority's response, read whole. Its `Debug` shows the body's length, not the body (a
/// token response carries the access token).
#[derive(Clone, Default)]
pub struct HttpResponse {
    /// HTTP status (0 for an opaque redirect).
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `DPoP-Nonce`.
    pub dpop_nonce: Option<String>,
    /// `Retry-After`.
    pub retry_after: Option<String>,
    /// `Date`: the server's clock ([`crate::skew`]).
    pub date: Option<String>,
    /// Whether the host's fetch followed a redirect to get it (`Response.redirected`, or a
    /// `Response.url` other than the request's): refused, as token requests never follow one.
    pub redirected: bool,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("dpop_nonce", &self.dpop_nonce)
            .field("retry_after", &self.retry_after)
            .field("date", &self.date)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Sends requests to the authority.
pub trait Transport {
    /// Send `request`. Errors are [`crate::ErrorCode::Timeout`] or [`crate::ErrorCode::Network`].
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse>;
}

/// One request to a protected API, made by [`crate::TokenClient::fetch`]. The engine chooses the
/// `Authorization` and `DPoP` headers and the retries; the request and response stay the host's.
pub trait ApiCall {
    /// The host's response type.
    type Response;
    /// The host's error type; engine errors convert into it, the host's own pass through as-is.
    type Error: From<crate::TokenError>;
    /// HTTP method (normalized by the engine where it matters: [`crate::dpop::htm`]).
    fn method(&self) -> &str;
    /// Absolute request URL in normal form (WHATWG URL serialization, as `fetch` sends it). The
    /// engine sends a token only where [`crate::url::Origin::may_carry_token`] and the client's
    /// `baseUrl`/`allowedOrigins` allow.
    fn url(&self) -> &str;
    /// Whether the request (its body) can be sent more than once.
    fn replayable(&self) -> bool;
    /// Send once with these headers (`Authorization`, and `DPoP` when set) over the caller's.
    async fn send(&mut self, headers: &crate::resource::ApiHeaders) -> Result<Self::Response, Self::Error>;
    /// Status of a response.
    fn status(&self, response: &Self::Response) -> u16;
    /// A response header, by lower-case name.
    fn header(&self, response: &Self::Response, name: &str) -> Option<String>;
    /// Where a redirect `response` points, absolute and in normal form (its `Location` resolved
    /// against [`ApiCall::url`]), when this call sends without following redirects and lets the
    /// engine decide (it follows within the origin only); `None` otherwise. A host whose HTTP
    /// client follows redirects by itself would carry the token along: send with redirects off.
    fn redirect_location(&self, response: &Self::Response) -> Option<String> {
        let _ = response;
        None
    }
    /// Go on at `url` (same origin) after a redirect; `as_get`: as a `GET` without body. `false`
    /// when this call cannot (the response is then handed back).
    fn redirect(&mut self, url: &str, as_get: bool) -> Result<bool, Self::Error> {
        let _ = (url, as_get);
        Ok(false)
    }
}
