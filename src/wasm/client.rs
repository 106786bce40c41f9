//! `TokenClient` as a JavaScript class. Its `fetch` is js/fetch.mjs, which sends; the decisions
//! it asks for are [`JsTokenClient::authorize`] and [`JsTokenClient::after`] here.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;

use super::store::JsStore;
use super::transport::{Fetcher, JsTransport};
use super::JsEnv;
use super::{future_to_promise, get, object, rejected, signer, to_json};
use crate::cache::CachedToken;
use crate::config::HostKeys;
use crate::key::SigningKey;
use crate::resource::{AfterResponse, ApiHeaders, ApiResponse, RetryBudget, SentRequest};
use crate::{ErrorCode, RequestOptions, TokenError};

type Engine = crate::TokenClient<JsTransport, JsEnv, JsStore>;

/// A managed OAuth client for one API: the JavaScript `TokenClient` (its `fetch` is js/fetch.mjs).
#[wasm_bindgen(js_name = TokenClient)]
#[derive(Clone)]
pub struct JsTokenClient {
    engine: Engine,
    fetcher: Fetcher,
    /// The last `Authorization` value handed to JS, as Rust and as JS string: a cached call hands
    /// back the JS string it already holds instead of copying the token across again.
    last_authorization: Rc<RefCell<Option<(String, JsValue)>>>,
    /// The last `accessToken` given to `createDpopProof`, as JS and as Rust string: proofs for the
    /// same token (`===`) do not copy it across again (most of reading a call's arguments).
    last_proof_token: Rc<RefCell<Option<(JsValue, String)>>>,
}

/// `{ accessToken, tokenType, expiresAt, scope?, issuedTokenType? }`.
fn token_to_js(token: &CachedToken) -> JsValue {
    let view = object(&[
        ("accessToken", token.access_token.as_str().into()),
        ("tokenType", token.token_type.as_str().into()),
        ("expiresAt", (token.expires_at_ms as f64).into()),
    ]);
    if let Some(scope) = &token.scope {
        let _ = js_sys::Reflect::set(&view, &"scope".into(), &scope.as_str().into());
    }
    if let Some(issued) = &token.issued_token_type {
        let _ = js_sys::Reflect::set(&view, &"issuedTokenType".into(), &issued.as_str().into());
    }
    view
}

#[wasm_bindgen(js_class = TokenClient)]
impl JsTokenClient {
    /// Validate `options` and build the client; throws `TokenError` (`invalid_config`) naming the field.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<JsTokenClient, JsValue> {
        Ok(Self::build(&options)?)
    }

    fn build(options: &JsValue) -> Result<JsTokenClient, TokenError> {
        if !options.is_object() {
            return Err(TokenError::config("options", "must be an object"));
        }
        let custom = optional_function(options, "fetch")?;
        reject_non_finite(options)?;
        let json = to_json("options", options).map_err(|mut e| {
            e.code = ErrorCode::InvalidConfig;
            e
        })?;
        let config = crate::config::parse_with(&json, host_keys(options)?)?;
        signer::check_config_keys(&config)?;
        let fetcher = Fetcher::new(custom);
        let transport = JsTransport { fetcher: fetcher.clone() };
        let on_event = optional_function(options, "onEvent")?;
        let store = JsStore::from_options(options, config.timeout_ms)?;
        let env = JsEnv { events: super::events::JsEvents { on_event }, ..JsEnv::default() };
        let engine = Engine::with_store(config, transport, env, store)?;
        Ok(JsTokenClient {
            engine,
            fetcher,
            last_authorization: Default::default(),
            last_proof_token: Default::default(),
        })
    }

    /// A token: `{ accessToken, tokenType, expiresAt, scope?, issuedTokenType? }`, cached and shared
    /// by concurrent callers.
    #[wasm_bindgen(js_name = getToken)]
    pub fn get_token(&self, req: JsValue) -> Promise {
        // The caller's values are read now, before the work is spawned: a failure is a rejection.
        let options = match request_options(&req) {
            Ok(options) => options,
            Err(e) => return rejected(e),
        };
        let engine = self.engine.clone();
        future_to_promise(async move {
            let token = engine.get_token(&options).await?;
            Ok(token_to_js(&token))
        })
    }

    /// What js/fetch.mjs needs once per client: `[the fetch option or undefined, baseUrl or
    /// undefined]`.
    #[wasm_bindgen(js_name = __setup)]
    pub fn setup(&self) -> js_sys::Array {
        let base = self.engine.config().base_url.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str);
        js_sys::Array::of2(&self.fetcher.custom().map_or(JsValue::UNDEFINED, JsValue::from), &base)
    }

    /// Set `authorization` (and `dpop`) in `headers`, a plain object js/fetch.mjs sends, for a
    /// `method` request to the absolute, normalized `url`: `true` when set now (a fresh cached
    /// token, a proof signed at once: no Promise is made), else a Promise that resolves once they
    /// are (a token had to be fetched). Throws a `TokenError` when the URL is refused or `req` is
    /// not valid `TokenRequestOptions`.
    #[wasm_bindgen(js_name = __authorize)]
    pub fn authorize(
        &self,
        headers: Object,
        method: String,
        url: String,
        req: JsValue,
    ) -> Result<JsValue, JsValue> {
        let options = request_options(&req)?;
        if let Some(now) = self.engine.headers_now(&method, &url, &options)? {
            self.set(&headers, &now);
            return Ok(JsValue::TRUE);
        }
        let this = self.clone();
        Ok(future_to_promise(async move {
            let later = this.engine.headers(&method, &url, &options).await?;
            this.set(&headers, &later);
            Ok(JsValue::TRUE)
        })
        .into())
    }

    /// After a response to a request sent with `headers` (as [`Self::authorize`] set them): a
    /// Promise of `{ next, budget }`, `next` being `"done"` (hand the response back), `"send"`
    /// (again, with the headers now set in `headers`) or `"follow"` / `"follow-get"` (to
    /// `location`, within the origin; as a `GET` without body for the latter). `call` is
    /// `{ headers, method, url, replayable, budget }` (`budget`: what is left of the call's retries,
    /// `0` at first), `seen` is `{ status, www?, nonce?, location?, date? }` of the response.
    #[wasm_bindgen(js_name = __after)]
    pub fn after(&self, call: Object, seen: JsValue, req: JsValue) -> Promise {
        let options = match request_options(&req) {
            Ok(options) => options,
            Err(e) => return rejected(e),
        };
        let this = self.clone();
        future_to_promise(async move {
            let text = |o: &JsValue, name: &str| get(o, name).as_string();
            let number = |o: &JsValue, name: &str| get(o, name).as_f64().unwrap_or_default();
            let headers: Object = get(&call, "headers").unchecked_into();
            let (method, url) =
                (text(&call, "method").unwrap_or_default(), text(&call, "url").unwrap_or_default());
            let authorization = text(&headers, "authorization").unwrap_or_default();
            let replayable = get(&call, "replayable").is_truthy();
            let sent = SentRequest { method: &method, url: &url, authorization: &authorization, replayable };
            let (www, nonce, location) = (text(&seen, "www"), text(&seen, "nonce"), text(&seen, "location"));
            let date = text(&seen, "date");
            let response = ApiResponse {
                status: number(&seen, "status") as u16,
                www_authenticate: www.as_deref(),
                dpop_nonce: nonce.as_deref(),
                location: location.as_deref(),
                date: date.as_deref(),
            };
            let mut budget = RetryBudget::from_bits(number(&call, "budget") as u32);
            let next = match this.engine.after(&sent, &response, &mut budget, &options).await? {
                AfterResponse::Done => "done",
                AfterResponse::Send(next) => {
                    this.set(&headers, &next);
                    "send"
                }
                AfterResponse::Follow { as_get, headers: next, .. } => {
                    this.set(&headers, &next);
                    if as_get {
                        "follow-get"
                    } else {
                        "follow"
                    }
                }
            };
            Ok(object(&[("next", next.into()), ("budget", budget.to_bits().into())]))
        })
    }

    /// A summary safe to log: `{ clientId, tokenEndpoint | issuer, grant, dpop, tokenRequests }`
    /// (`JSON.stringify(client)` and Node's `util.inspect` show it).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> JsValue {
        let config = self.engine.config();
        let (at, url) = match &config.token_endpoint {
            crate::config::TokenEndpoint::Configured(url) => ("tokenEndpoint", url.as_str()),
            crate::config::TokenEndpoint::Discover(issuer) => ("issuer", issuer.as_str()),
        };
        object(&[
            ("clientId", config.client_id.as_str().into()),
            (at, url.into()),
            ("grant", config.grant.name().into()),
            ("dpop", (!matches!(config.dpop, crate::config::DpopSetting::Off)).into()),
            ("tokenRequests", (self.engine.token_requests() as f64).into()),
        ])
    }

    /// A DPoP proof with this client's key, for requests the caller makes itself.
    #[wasm_bindgen(js_name = createDpopProof)]
    pub fn create_dpop_proof(&self, method: JsValue, url: JsValue, opts: JsValue) -> Promise {
        // Options may be left out; the method and the URL may not.
        let text = |field: &str, value: &JsValue, optional: bool| match value.as_string() {
            Some(text) => Ok(Some(text)),
            None if optional && (value.is_undefined() || value.is_null()) => Ok(None),
            None => Err(TokenError::argument(field, "must be a string")),
        };
        let read = (|| {
            Ok::<_, TokenError>((
                text("method", &method, false)?.unwrap_or_default(),
                text("url", &url, false)?.unwrap_or_default(),
                self.proof_token(get(&opts, "accessToken"))?,
                text("opts.nonce", &get(&opts, "nonce"), true)?,
            ))
        })();
        let (method, url, access_token, nonce) = match read {
            Ok(read) => read,
            Err(e) => return rejected(e),
        };
        let engine = self.engine.clone();
        future_to_promise(async move {
            let proof =
                engine.create_dpop_proof(&method, &url, access_token.as_deref(), nonce.as_deref()).await?;
            Ok(JsValue::from_str(&proof))
        })
    }

    /// `opts.accessToken` of `createDpopProof` as a Rust string, from the memo when it is the
    /// last one.
    fn proof_token(&self, token: JsValue) -> Result<Option<String>, TokenError> {
        if token.is_undefined() || token.is_null() {
            return Ok(None);
        }
        let mut memo = self.last_proof_token.borrow_mut();
        if let Some((seen, text)) = &*memo {
            if *seen == token {
                return Ok(Some(text.clone()));
            }
        }
        let text =
            token.as_string().ok_or_else(|| TokenError::argument("opts.accessToken", "must be a string"))?;
        *memo = Some((token, text.clone()));
        Ok(Some(text))
    }

    /// RFC 7638 thumbprint of the DPoP public key, or `undefined` without DPoP.
    #[wasm_bindgen(js_name = dpopThumbprint)]
    pub fn dpop_thumbprint(&self) -> Option<String> {
        self.engine.dpop_thumbprint()
    }

    /// Drop the cached token for `req`.
    pub fn invalidate(&self, req: JsValue) -> Promise {
        let options = match request_options(&req) {
            Ok(options) => options,
            Err(e) => return rejected(e),
        };
        let engine = self.engine.clone();
        future_to_promise(async move {
            engine.invalidate(&options).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Inspection: `{ tokenRequests, cache: [{ key, tokenType, expiresAt, refreshAt, scope? }],
    /// nonces: [{ origin, nonce }], clockSkew: [{ origin, offsetMs }] }` (no token values; keys
    /// are opaque keyed hashes).
    #[wasm_bindgen(js_name = inspect)]
    pub fn inspect(&self) -> JsValue {
        let cache = self.engine.cached_tokens().into_iter().map(|(key, t)| {
            let entry = object(&[
                ("key", key.into()),
                ("tokenType", t.token_type.as_str().into()),
                ("expiresAt", (t.expires_at_ms as f64).into()),
                ("refreshAt", (t.refresh_at_ms as f64).into()),
            ]);
            if let Some(scope) = &t.scope {
                let _ = js_sys::Reflect::set(&entry, &"scope".into(), &scope.as_str().into());
            }
            entry
        });
        let nonces = self
            .engine
            .nonces()
            .into_iter()
            .map(|(origin, nonce)| object(&[("origin", origin.into()), ("nonce", nonce.into())]));
        let skew = js_sys::Array::new();
        for (origin, offset) in self.engine.clock_skew().entries() {
            skew.push(&object(&[("origin", origin.into()), ("offsetMs", (offset as f64).into())]));
        }
        object(&[
            ("tokenRequests", (self.engine.token_requests() as f64).into()),
            ("cache", cache.collect::<js_sys::Array>().into()),
            ("nonces", nonces.collect::<js_sys::Array>().into()),
            ("clockSkew", skew.into()),
        ])
    }

    /// `headers` with `authorization` and `dpop` set (`dpop` deleted when there is none).
    fn set(&self, headers: &Object, to: &ApiHeaders) {
        let mut last = self.last_authorization.borrow_mut();
        let authorization = match &*last {
            Some((sent, value)) if *sent == to.authorization => value.clone(),
            _ => {
                let value = JsValue::from_str(&to.authorization);
                *last = Some((to.authorization.clone(), value.clone()));
                value
            }
        };
        set_headers(headers, &authorization, to.dpop.as_deref());
    }
}

#[wasm_bindgen(module = "/js/headers.js")]
extern "C" {
    /// Write `authorization` and `dpop` (or no DPoP header) into a call's header record.
    #[wasm_bindgen(js_name = setHeaders)]
    fn set_headers(record: &Object, authorization: &JsValue, dpop: Option<&str>);
}

/// Numeric options that are NaN or ±Infinity would turn into `null` through JSON (and so into the
/// defaults): refuse them, naming the field.
fn reject_non_finite(options: &JsValue) -> Result<(), TokenError> {
    let auth = get(options, "clientAuth");
    let numbers = [
        ("timeoutMs", get(options, "timeoutMs")),
        ("refreshBeforeExpirySeconds", get(options, "refreshBeforeExpirySeconds")),
        ("cacheSize", get(options, "cacheSize")),
        ("retries", get(options, "retries")),
        ("staleIfErrorSeconds", get(options, "staleIfErrorSeconds")),
        ("clientAuth.lifetimeSeconds", get(&auth, "lifetimeSeconds")),
    ];
    for (field, value) in numbers {
        if value.as_f64().is_some_and(|n| !n.is_finite()) {
            return Err(TokenError::config(field, "must be a finite number"));
        }
    }
    Ok(())
}

/// An optional function-valued option (`fetch`, `onEvent`).
fn optional_function(options: &JsValue, name: &str) -> Result<Option<Function>, TokenError> {
    let value = get(options, name);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.dyn_into::<Function>().map(Some).map_err(|_| TokenError::config(name, "must be a function"))
}

/// Keys in the options that JSON cannot carry: `clientAuth.key` (a private `CryptoKey`) and
/// `dpop.keyPair` (a `CryptoKeyPair`) are registered with the host signer and stay there.
fn host_keys(options: &JsValue) -> Result<HostKeys, TokenError> {
    let auth = get(options, "clientAuth");
    let key = get(&auth, "key");
    let client_auth = if key.is_undefined() || key.is_null() {
        None
    } else {
        let alg = get(&auth, "alg").as_string();
        let kid = get(&auth, "kid").as_string();
        let (id, alg) = signer::register("clientAuth.key", &key, alg.as_deref(), None)?;
        Some(SigningKey::external(&id, alg, kid.as_deref(), None)?)
    };
    let pair = get(&get(options, "dpop"), "keyPair");
    let dpop = if pair.is_undefined() || pair.is_null() {
        None
    } else {
        let public = get(&pair, "publicKey");
        if get(&public, "type").as_string().as_deref() != Some("public") {
            return Err(TokenError::config("dpop.keyPair.publicKey", "must be a public CryptoKey"));
        }
        let (id, alg) =
            signer::register("dpop.keyPair.privateKey", &get(&pair, "privateKey"), None, Some(public))?;
        Some(SigningKey::external(&id, alg, None, None)?)
    };
    Ok(HostKeys { client_auth, dpop })
}

/// Read `TokenRequestOptions`.
fn request_options(req: &JsValue) -> Result<RequestOptions, TokenError> {
    crate::config::parse_request(&to_json("req", req)?)
}
