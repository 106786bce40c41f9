//! A Cloudflare Worker in Rust that calls two OAuth-protected APIs through tokenfetch's engine,
//! the crate itself rather than its npm package:
//!
//! - `GET /call/api1`: API 1, behind a HelseID-style authority (`private_key_jwt` client
//!   assertion, DPoP with server nonces);
//! - `GET /call/api2`: API 2, behind a Duende IdentityServer-style authority (client secret,
//!   Bearer).
//!
//! Each answers JSON: `{ api, status, body, token: "new" | "cached", tokenRequests }` (the API's
//! status and body; whether this call needed a token request), or `{ api, error: { code, message,
//! … } }` when no token could be had. The two [`tokenfetch::TokenClient`]s are built once per
//! isolate, on first use, so their caches serve every later request the isolate handles.
//!
//! The parts: [`host`] performs the engine's I/O over `fetch`, [`providers`] gives it the
//! runtime's clock, randomness and `console`, [`config`] builds the clients from the bindings.
//! `worker.mjs` is the Worker's entry: it loads this module and calls [`handle`].

use std::cell::OnceCell;
use std::rc::Rc;

use serde_json::json;
use tokenfetch::{RequestOptions, TokenError};
use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, Response, ResponseInit};

pub mod config;
pub mod host;
pub mod providers;

use config::Api;
use host::ApiRequest;

thread_local! {
    /// This isolate's clients, built on first use (bindings arrive with the first request). A bad
    /// configuration is not kept: the next request tries again.
    static API1: OnceCell<Rc<Api>> = const { OnceCell::new() };
    static API2: OnceCell<Rc<Api>> = const { OnceCell::new() };
}

/// Makes an API's client from the bindings ([`config::api1`], [`config::api2`]).
type BuildApi = fn(&JsValue) -> Result<Api, TokenError>;

/// The Worker's `fetch` handler (called by worker.mjs with the request and the bindings).
#[wasm_bindgen]
pub async fn handle(request: Request, env: JsValue) -> Result<Response, JsValue> {
    let path = web_sys::Url::new(&request.url())?.pathname();
    let (cell, build): (_, BuildApi) = match path.as_str() {
        "/call/api1" => (&API1, config::api1),
        "/call/api2" => (&API2, config::api2),
        _ => return respond(404, &json!({ "error": "not_found", "routes": ["/call/api1", "/call/api2"] })),
    };
    if request.method() != "GET" {
        return respond(405, &json!({ "error": "method_not_allowed" }));
    }
    let api = match cell.with(|c| c.get().cloned()) {
        Some(api) => api,
        None => match build(&env) {
            Ok(api) => cell.with(|c| Rc::clone(c.get_or_init(|| Rc::new(api)))),
            // An `invalid_config` error names the binding or option at fault, never its value.
            Err(e) => return respond(500, &json!({ "error": error_json(&e) })),
        },
    };
    let (status, answer) = call(&api).await?;
    respond(status, &answer)
}

/// One call to `api` through its client: the API's status and body, and whether the token was
/// cached (the client made no token request for it).
async fn call(api: &Api) -> Result<(u16, serde_json::Value), JsValue> {
    let before = api.client.token_requests();
    let mut request = ApiRequest::get(api.url.clone()).header("accept", "application/json");
    let response = match api.client.fetch(&mut request, &RequestOptions::default()).await {
        Ok(response) => response,
        Err(e) => return Ok((502, json!({ "api": api.name, "error": error_json(&e) }))),
    };
    let status = response.status();
    let text = wasm_bindgen_futures::JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    let token_requests = api.client.token_requests();
    let answer = json!({
        "api": api.name,
        "status": status,
        "body": body,
        "token": if token_requests == before { "cached" } else { "new" },
        "tokenRequests": token_requests,
    });
    Ok((if status < 400 { 200 } else { 502 }, answer))
}

/// A [`TokenError`] as JSON: its stable code and message (safe to show: no secret, key or token)
/// and what the authority said, if it answered.
fn error_json(e: &TokenError) -> serde_json::Value {
    json!({
        "code": e.code.as_str(),
        "message": e.message,
        "status": e.status,
        "error": e.error,
        "errorDescription": e.error_description,
    })
}

fn respond(status: u16, body: &serde_json::Value) -> Result<Response, JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(&body.to_string()), &init)
}
