//! Tests of the JavaScript glue, run by `wasm-bindgen-test` in Node and in headless Chromium
//! (`scripts/test-wasm.sh`). They call the `#[wasm_bindgen]` classes and functions directly, with
//! `fetch` stubbed in JS (src/wasm/tests.js): on `globalThis`, or passed as the `fetch` option.
#![cfg(target_arch = "wasm32")]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use super::client::JsTokenClient;
use super::transport::{Fetcher, JsTransport};
use super::JsEnv;
use super::{error, get, helpers};
use crate::{Clock, ErrorCode, HttpRequest, Random, TokenError, Transport};

const TOKEN_URL: &str = "https://as.example/token";
const API_URL: &str = "https://api.example/data";

// Test helpers written in JS: src/wasm/tests.js (documented there).
#[wasm_bindgen(module = "/src/wasm/tests.js")]
extern "C" {
    /// A fetch function answering `routes` and recording its calls in `fetch.calls`.
    #[wasm_bindgen(js_name = stub)]
    fn stub_fetch(routes: &JsValue) -> Function;
    #[wasm_bindgen(js_name = instanceOf)]
    fn instance_of(value: &JsValue, ctor: &JsValue) -> bool;
    /// A new class named TokenError that extends Error.
    #[wasm_bindgen(js_name = defineClass)]
    fn define_class() -> JsValue;
    #[wasm_bindgen(js_name = isPlainObject)]
    fn is_plain_object(value: &JsValue) -> bool;
}

/// A fetch stub answering `routes` (a JSON object: URL -> array of response specs).
fn stub(routes: &str) -> Function {
    stub_fetch(&js_sys::JSON::parse(routes).expect("routes are JSON"))
}

/// The calls a stub recorded.
fn calls(fetch: &Function) -> Vec<JsValue> {
    get(fetch, "calls").unchecked_into::<Array>().iter().collect()
}

fn string(value: &JsValue, path: &str) -> Option<String> {
    path.split('.').fold(value.clone(), |v, name| get(&v, name)).as_string()
}

fn number(value: &JsValue, name: &str) -> f64 {
    get(value, name).as_f64().unwrap_or_else(|| panic!("{name} is not a number"))
}

fn set(object: &JsValue, name: &str, value: &JsValue) {
    Reflect::set(object, &JsValue::from_str(name), value).expect("set");
}

/// `globalThis.fetch = fetch` until dropped.
struct GlobalFetch {
    original: JsValue,
}

impl GlobalFetch {
    fn install(fetch: &JsValue) -> Self {
        let original = get(&js_sys::global(), "fetch");
        set(&js_sys::global(), "fetch", fetch);
        GlobalFetch { original }
    }
}

impl Drop for GlobalFetch {
    fn drop(&mut self) {
        set(&js_sys::global(), "fetch", &self.original);
    }
}

/// Client options from JSON, plus `fetch` when given.
fn options(json: &str, fetch: Option<&Function>) -> JsValue {
    let options = js_sys::JSON::parse(json).expect("options are JSON");
    if let Some(fetch) = fetch {
        set(&options, "fetch", fetch);
    }
    options
}

fn basic_options(extra: &str) -> String {
    format!(
        r#"{{"tokenEndpoint":"{TOKEN_URL}","clientId":"my client",
            "clientAuth":{{"method":"client_secret_basic","clientSecret":"s3cr3t"}}{extra}}}"#
    )
}

fn token_route(tokens: &[&str]) -> String {
    let specs: Vec<String> = tokens
        .iter()
        .map(|t| {
            format!(
                r#"{{"json":{{"access_token":"{t}","token_type":"Bearer","expires_in":3600,"scope":"read write"}}}}"#
            )
        })
        .collect();
    format!(r#""{TOKEN_URL}":[{}]"#, specs.join(","))
}

async fn settle(promise: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// Assert `e` is a JS `Error` with `name` "TokenError" and `code`.
fn assert_token_error(e: &JsValue, code: ErrorCode) {
    assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?}");
    assert_eq!(string(e, "name").as_deref(), Some("TokenError"));
    assert_eq!(string(e, "code").as_deref(), Some(code.as_str()), "message: {:?}", string(e, "message"));
}

// 1. fetch: globalThis.fetch looked up at call time, or the caller's.

#[wasm_bindgen_test]
async fn token_request_goes_through_global_fetch_looked_up_at_call_time() {
    let before = stub(&format!("{{{}}}", token_route(&["t1"])));
    let guard = GlobalFetch::install(&before);
    let client = JsTokenClient::new(options(&basic_options(r#","scope":"read write""#), None)).unwrap();
    // Replaced after construction: the client must use this one.
    let after = stub(&format!("{{{}}}", token_route(&["t2"])));
    set(&js_sys::global(), "fetch", &after);

    let token = settle(client.get_token(JsValue::UNDEFINED)).await.expect("getToken resolves");
    drop(guard);

    assert_eq!(string(&token, "accessToken").as_deref(), Some("t2"));
    assert!(calls(&before).is_empty(), "the fetch seen at construction was used");
    let calls = calls(&after);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(string(call, "url").as_deref(), Some(TOKEN_URL));
    assert_eq!(string(call, "method").as_deref(), Some("POST"));
    assert_eq!(string(call, "redirect").as_deref(), Some("manual"));
    // fetch(url, init): a Request would make fetch copy its body once more.
    assert!(!get(call, "isRequest").is_truthy(), "a token request goes as fetch(url, init)");
    assert!(get(call, "thisIsGlobal").is_truthy(), "fetch was not called with this = globalThis");
    assert_eq!(string(call, "headers.content-type").as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(string(call, "headers.accept").as_deref(), Some("application/json"));
    let basic = format!("Basic {}", STANDARD.encode("my+client:s3cr3t"));
    assert_eq!(string(call, "headers.authorization"), Some(basic));
    assert_eq!(string(call, "body").as_deref(), Some("grant_type=client_credentials&scope=read+write"));
    let signal = get(call, "signal");
    assert!(signal.is_instance_of::<web_sys::AbortSignal>(), "the request has no AbortSignal");
    assert!(!get(&signal, "aborted").is_truthy());
}

#[wasm_bindgen_test]
async fn caller_fetch_option_is_used_instead_of_global_fetch() {
    let global = stub(&format!("{{{}}}", token_route(&["from-global"])));
    let _guard = GlobalFetch::install(&global);
    let custom = stub(&format!("{{{}}}", token_route(&["from-option"])));
    let opts = r#"{"tokenEndpoint":"https://as.example/token","clientId":"c1",
        "clientAuth":{"method":"client_secret_post","clientSecret":"pw"}}"#;
    let client = JsTokenClient::new(options(opts, Some(&custom))).unwrap();

    let token = settle(client.get_token(JsValue::UNDEFINED)).await.expect("getToken resolves");

    assert_eq!(string(&token, "accessToken").as_deref(), Some("from-option"));
    assert!(calls(&global).is_empty(), "globalThis.fetch was called despite the fetch option");
    let calls = calls(&custom);
    assert_eq!(calls.len(), 1);
    assert_eq!(string(&calls[0], "headers.authorization"), None);
    assert_eq!(
        string(&calls[0], "body").as_deref(),
        Some("grant_type=client_credentials&client_id=c1&client_secret=pw")
    );
}

#[wasm_bindgen_test]
async fn js_transport_reads_status_headers_and_body() {
    let fetch = stub(&format!(
        r#"{{"{TOKEN_URL}":[{{"status":400,"body":"raw \u00e6","headers":{{"content-type":"text/plain","dpop-nonce":"n-1"}}}}]}}"#
    ));
    let transport = JsTransport { fetcher: Fetcher::new(Some(fetch.clone())) };
    let request = HttpRequest {
        method: "GET",
        url: TOKEN_URL.into(),
        headers: vec![("accept", "application/json".into())],
        body: None,
        timeout_ms: 5_000,
    };

    let response = transport.send(request).await.expect("send succeeds");

    assert_eq!(response.status, 400);
    assert_eq!(response.content_type.as_deref(), Some("text/plain"));
    assert_eq!(response.dpop_nonce.as_deref(), Some("n-1"));
    assert_eq!(response.body, "raw æ".as_bytes());
    let calls = calls(&fetch);
    assert_eq!(string(&calls[0], "method").as_deref(), Some("GET"));
    assert_eq!(string(&calls[0], "redirect").as_deref(), Some("manual"));
    assert_eq!(string(&calls[0], "body").as_deref(), Some(""));
}

// 2. Timeouts and network errors.

#[wasm_bindgen_test]
async fn hanging_token_request_times_out_via_abort_signal() {
    let fetch = stub(&format!(r#"{{"{TOKEN_URL}":[{{"hang":true}}]}}"#));
    let client = JsTokenClient::new(options(&basic_options(r#","timeoutMs":300"#), Some(&fetch))).unwrap();

    let start = now();
    let e = settle(client.get_token(JsValue::UNDEFINED)).await.expect_err("getToken must reject");
    let elapsed = now() - start;

    assert_token_error(&e, ErrorCode::Timeout);
    assert!(elapsed >= 250.0, "rejected after {elapsed} ms, before timeoutMs (300)");
    assert!(elapsed < 300.0 + 3_000.0, "rejected after {elapsed} ms, long after timeoutMs (300)");
    let message = string(&e, "message").unwrap_or_default();
    assert!(message.contains("https://as.example/token") && message.contains("300 ms"), "{message}");
    let calls = calls(&fetch);
    assert_eq!(calls.len(), 1);
    assert!(get(&get(&calls[0], "signal"), "aborted").is_truthy(), "the request's signal did not abort");
}

#[wasm_bindgen_test]
async fn rejected_fetch_is_a_network_error() {
    let fetch = stub(&format!(r#"{{"{TOKEN_URL}":[{{"reject":"fetch failed"}}]}}"#));
    let client = JsTokenClient::new(options(&basic_options(""), Some(&fetch))).unwrap();

    let e = settle(client.get_token(JsValue::UNDEFINED)).await.expect_err("getToken must reject");

    assert_token_error(&e, ErrorCode::Network);
    let message = string(&e, "message").unwrap_or_default();
    assert!(message.contains("https://as.example/token") && message.contains("fetch failed"), "{message}");
    assert_eq!(get(&e, "status"), JsValue::UNDEFINED);
}

#[wasm_bindgen_test]
async fn network_error_message_names_the_cause_code() {
    let fetch = stub(&format!(
        r#"{{"{TOKEN_URL}":[{{"reject":"fetch failed","cause":{{"code":"ECONNREFUSED"}}}}]}}"#
    ));
    let client = JsTokenClient::new(options(&basic_options(r#","retries":1"#), Some(&fetch))).unwrap();

    let e = settle(client.get_token(JsValue::UNDEFINED)).await.expect_err("getToken must reject");

    assert_token_error(&e, ErrorCode::Network);
    let message = string(&e, "message").unwrap_or_default();
    assert!(message.contains("ECONNREFUSED"), "{message}");
    assert_eq!(calls(&fetch).len(), 2, "one attempt and one retry after a network failure");
    // A later call tries again (failures are not cached) and hits the stub again.
    let _ = settle(client.get_token(JsValue::UNDEFINED)).await.expect_err("still failing");
    assert_eq!(calls(&fetch).len(), 4);
}

// 3. Clock and randomness.

#[wasm_bindgen_test]
fn js_env_clock_is_date_now() {
    let before = now();
    let ms = JsEnv::default().now_ms() as f64;
    let after = now();
    assert!(ms >= before - 5.0 && ms <= after + 5.0, "now_ms {ms} outside [{before}, {after}]");
    assert!(ms > 1.6e12, "now_ms {ms} is not epoch milliseconds");
}

#[wasm_bindgen_test]
fn js_env_randomness_differs_between_calls() {
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    JsEnv::default().fill_random(&mut a);
    JsEnv::default().fill_random(&mut b);
    assert_ne!(a, [0u8; 32]);
    assert_ne!(b, [0u8; 32]);
    assert_ne!(a, b);
}

#[wasm_bindgen_test]
fn js_env_unique_bytes_never_repeat_across_pool_refills() {
    // 200 JWT IDs of 16 bytes: more than three refills of the 1 KiB pool.
    let env = JsEnv::default();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let mut id = [0u8; 16];
        env.fill_unique(&mut id);
        assert_ne!(id, [0u8; 16]);
        assert!(seen.insert(id), "a JWT ID repeated");
    }
    let mut large = [0u8; 512];
    env.fill_unique(&mut large); // larger than a quarter of the pool: straight from the host
    assert!(large.iter().filter(|b| **b == 0).count() < 16);
}

fn jwt_payload(jwt: &str) -> serde_json::Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {jwt}");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url payload"))
        .expect("JSON payload")
}

#[wasm_bindgen_test]
async fn standalone_dpop_proofs_have_fresh_jti_and_current_iat() {
    let jwk = settle(helpers::generate_dpop_key()).await.expect("generateDpopKey resolves");
    assert_eq!(string(&jwk, "kty").as_deref(), Some("EC"));
    assert!(string(&jwk, "d").is_some(), "generateDpopKey returned no private key");
    let proof = || {
        let o = options(r#"{"method":"POST","url":"https://api.example/data?q=1"}"#, None);
        set(&o, "privateJwk", &jwk);
        helpers::create_dpop_proof(o)
    };

    let first = settle(proof()).await.expect("createDpopProof resolves").as_string().unwrap();
    let second = settle(proof()).await.expect("createDpopProof resolves").as_string().unwrap();

    let (a, b) = (jwt_payload(&first), jwt_payload(&second));
    let now_secs = now() / 1000.0;
    for p in [&a, &b] {
        let iat = p["iat"].as_f64().expect("iat");
        assert!((iat - now_secs).abs() <= 5.0, "iat {iat} is not now ({now_secs})");
        assert_eq!(p["htm"], "POST");
        assert_eq!(p["htu"], "https://api.example/data");
        assert!(p["jti"].as_str().is_some_and(|j| j.len() >= 16), "weak jti: {}", p["jti"]);
    }
    assert_ne!(a["jti"], b["jti"], "two proofs share a jti");
}

// 4. JS errors.

#[wasm_bindgen_test]
fn token_error_is_a_js_error_with_oauth_properties() {
    let mut e = TokenError::new(ErrorCode::OAuth, "token endpoint said no");
    e.status = Some(400);
    e.error = Some("invalid_client".into());
    e.error_description = Some("bad secret".into());

    let js = error::to_js(e);

    assert_token_error(&js, ErrorCode::OAuth);
    assert_eq!(string(&js, "message").as_deref(), Some("token endpoint said no"));
    assert_eq!(get(&js, "status").as_f64(), Some(400.0));
    assert_eq!(string(&js, "error").as_deref(), Some("invalid_client"));
    assert_eq!(string(&js, "errorDescription").as_deref(), Some("bad secret"));
    assert!(string(&js, "stack").is_some_and(|s| !s.is_empty()), "no stack");

    let bare = error::to_js(TokenError::new(ErrorCode::Timeout, "slow"));
    for name in ["status", "error", "errorDescription"] {
        assert!(get(&bare, name).is_undefined(), "{name} set without a value");
    }
}

#[wasm_bindgen_test]
fn registered_class_is_in_the_prototype_chain() {
    let class = define_class();
    let before = error::to_js(TokenError::new(ErrorCode::Network, "x"));
    assert!(!instance_of(&before, &class), "instanceof a class never registered");

    error::register_token_error(&class);
    let after = error::to_js(TokenError::new(ErrorCode::Network, "x"));

    let prototype = get(&class, "prototype");
    assert_eq!(JsValue::from(Object::get_prototype_of(&after)), prototype);
    assert!(instance_of(&after, &class));
    assert!(after.is_instance_of::<js_sys::Error>(), "no longer an Error");
    assert_token_error(&after, ErrorCode::Network);
}

#[wasm_bindgen_test]
fn invalid_options_throw_invalid_config_naming_the_field() {
    let cases = [
        (basic_options(r#","timeoutMs":0"#), "timeoutMs"),
        (basic_options(r#","fetch":42"#), "fetch"),
        (basic_options(r#","dpop":"yes""#), "dpop"),
        (basic_options(r#","unknownThing":1"#), "unknownThing"),
        (r#"{"tokenEndpoint":"http://as.example/token","clientId":"c","clientAuth":{"method":"none"}}"#.into(), "tokenEndpoint"),
        (r#"{"tokenEndpoint":"https://as.example/token","clientAuth":{"method":"none"}}"#.into(), "clientId"),
        (r#"{"tokenEndpoint":"https://as.example/token","clientId":"c","clientAuth":{"method":"client_secret_basic"}}"#.into(), "clientAuth.clientSecret"),
    ];
    for (json, field) in cases {
        let e = JsTokenClient::new(options(&json, None)).err().unwrap_or_else(|| panic!("accepted {json}"));
        assert_token_error(&e, ErrorCode::InvalidConfig);
        let message = string(&e, "message").unwrap_or_default();
        assert!(message.contains(field), "message {message:?} does not name {field}");
    }
    let e = JsTokenClient::new(JsValue::from_str("nope")).err().expect("a string is not options");
    assert_token_error(&e, ErrorCode::InvalidConfig);
}

// 5. Token object shape.

#[wasm_bindgen_test]
async fn get_token_resolves_to_a_plain_token_object() {
    let fetch = stub(&format!("{{{}}}", token_route(&["abc"])));
    let client = JsTokenClient::new(options(&basic_options(""), Some(&fetch))).unwrap();

    let before = now();
    let token = settle(client.get_token(JsValue::UNDEFINED)).await.expect("getToken resolves");
    let after = now();

    assert!(is_plain_object(&token), "not a plain object: {token:?}");
    let mut keys: Vec<String> =
        Object::keys(token.unchecked_ref::<Object>()).iter().map(|k| k.as_string().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, ["accessToken", "expiresAt", "scope", "tokenType"]);
    assert_eq!(string(&token, "accessToken").as_deref(), Some("abc"));
    assert_eq!(string(&token, "tokenType").as_deref(), Some("Bearer"));
    assert_eq!(string(&token, "scope").as_deref(), Some("read write"));
    let expires_at = number(&token, "expiresAt");
    assert!(
        expires_at >= before + 3_600_000.0 - 5.0 && expires_at <= after + 3_600_000.0 + 5.0,
        "expiresAt {expires_at} is not now + 3600 s ({before}..{after})"
    );

    // Cached: a second call does not reach the token endpoint.
    let again = settle(client.get_token(JsValue::UNDEFINED)).await.expect("getToken resolves");
    assert_eq!(string(&again, "accessToken").as_deref(), Some("abc"));
    assert_eq!(calls(&fetch).len(), 1);
}

// 6. The decisions client.fetch asks for (js/fetch.mjs performs them with fetch).

#[wasm_bindgen_test]
async fn authorize_sets_headers_after_a_token_request_then_at_once() {
    let fetch = stub(&format!("{{{}}}", token_route(&["tok-1"])));
    let client = JsTokenClient::new(options(&basic_options(""), Some(&fetch))).unwrap();
    let headers = Object::new();
    let first = client.authorize(headers.clone(), "GET".into(), API_URL.into(), JsValue::UNDEFINED).unwrap();
    let first: Promise = first.dyn_into().expect("no token yet: a Promise");
    assert_eq!(settle(first).await.unwrap(), JsValue::TRUE);
    assert_eq!(string(&headers, "authorization").as_deref(), Some("Bearer tok-1"));
    assert_eq!(string(&headers, "dpop"), None);
    // Cached: set at once, no Promise.
    let again = Object::new();
    let now = client.authorize(again.clone(), "GET".into(), API_URL.into(), JsValue::UNDEFINED).unwrap();
    assert_eq!(now, JsValue::TRUE);
    assert_eq!(string(&again, "authorization").as_deref(), Some("Bearer tok-1"));
    assert_eq!(calls(&fetch).len(), 1);
    // A URL the token may not go to: a TokenError, before anything is sent.
    let refused =
        client.authorize(Object::new(), "GET".into(), "http://api.example/x".into(), JsValue::UNDEFINED);
    assert_token_error(&refused.unwrap_err(), ErrorCode::UrlNotAllowed);
}

#[wasm_bindgen_test]
async fn after_an_invalid_token_401_sets_a_new_token_once() {
    let fetch = stub(&format!("{{{}}}", token_route(&["old", "new", "newer"])));
    let client = JsTokenClient::new(options(&basic_options(""), Some(&fetch))).unwrap();
    let headers = Object::new();
    let ready = client.authorize(headers.clone(), "POST".into(), API_URL.into(), JsValue::UNDEFINED).unwrap();
    settle(ready.dyn_into().unwrap()).await.unwrap();
    let seen = js_sys::JSON::parse(r#"{"status":401,"www":"Bearer error=\"invalid_token\""}"#).unwrap();
    let after = |budget: u32| {
        let call = Object::new();
        set(&call, "headers", &headers);
        set(&call, "method", &"POST".into());
        set(&call, "url", &API_URL.into());
        set(&call, "replayable", &true.into());
        set(&call, "budget", &budget.into());
        client.after(call, seen.clone(), JsValue::UNDEFINED)
    };
    let next = settle(after(0)).await.expect("after resolves");
    assert_eq!(string(&next, "next").as_deref(), Some("send"));
    assert_eq!(string(&headers, "authorization").as_deref(), Some("Bearer new"));
    let budget = number(&next, "budget") as u32;
    let last = settle(after(budget)).await.expect("after resolves");
    assert_eq!(string(&last, "next").as_deref(), Some("done"), "one new token per call");
    assert_eq!(calls(&fetch).len(), 2);
}
