//! `TokenClient` and `ClientRegistry` as JavaScript classes.

use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;
use web_sys::Request;

use super::host::{Fetcher, JsApiCall, JsEnv, JsTransport, Outgoing};
use super::store::JsStore;
use super::{error, future_to_promise, get, guard, object, rejected, signer, to_json};
use crate::cache::CachedToken;
use crate::config::HostKeys;
use crate::key::SigningKey;
use crate::{ErrorCode, RequestOptions, TokenError};

type Engine = crate::TokenClient<JsTransport, JsEnv, JsStore>;

/// A managed OAuth client for one API (see DESIGN: `TokenClient`).
#[wasm_bindgen(js_name = TokenClient)]
#[derive(Clone)]
pub struct JsTokenClient {
    engine: Engine,
    fetcher: Fetcher,
    /// The last Bearer `Authorization` the fast path handed out, as Rust and as JS string.
    last_bearer: std::rc::Rc<std::cell::RefCell<Option<(String, JsValue)>>>,
}

/// `{ accessToken, tokenType, expiresAt, scope? }`.
fn token_to_js(token: &CachedToken) -> JsValue {
    let view = object(&[
        ("accessToken", token.access_token.as_str().into()),
        ("tokenType", token.token_type.as_str().into()),
        ("expiresAt", (token.expires_at_ms as f64).into()),
    ]);
    if let Some(scope) = &token.scope {
        let _ = js_sys::Reflect::set(&view, &"scope".into(), &scope.as_str().into());
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
        let engine = Engine::with_store(config, transport, JsEnv { on_event }, store)?;
        Ok(JsTokenClient { engine, fetcher, last_bearer: Default::default() })
    }

    /// A token: `{ accessToken, tokenType, expiresAt, scope? }`, cached and shared by concurrent callers.
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

    /// `fetch` with the token (and a fresh DPoP proof) attached; retries nonce challenges and a
    /// revoked token once.
    pub fn fetch(&self, input: JsValue, init: JsValue, req: JsValue) -> Promise {
        let read = request_options(&req).and_then(|options| Ok((options, self.call(&input, &init)?)));
        let (options, mut call) = match read {
            Ok(read) => read,
            Err(e) => return rejected(e),
        };
        let this = self.clone();
        future_to_promise(async move {
            let response = this.engine.fetch(&mut call, &options).await?;
            Ok(response.into())
        })
    }

    /// The fast path of `fetch` (js/fast-path.mjs sends the request itself): with a fresh cached
    /// token and (with DPoP) a signer that answers at once, the headers for a `method` request to
    /// the absolute `url`: `"<Authorization>"`, or `"<Authorization>\n<DPoP proof>"` (neither
    /// value can hold a line break); `undefined` when the full path must run. One string crosses
    /// the boundary, and a Bearer value the JS side already holds is handed back, not copied.
    #[wasm_bindgen(js_name = __fastHeaders)]
    pub fn fast_headers(&self, method: &str, url: &str) -> Option<JsValue> {
        let (authorization, proof) = self.engine.cached_headers(method, url)?;
        if let Some(proof) = proof {
            return Some(JsValue::from_str(&cat!(authorization, "\n", proof)));
        }
        let mut last = self.last_bearer.borrow_mut();
        match &*last {
            Some((sent, value)) if *sent == authorization => Some(value.clone()),
            _ => {
                let value = JsValue::from_str(&authorization);
                *last = Some((authorization, value.clone()));
                Some(value)
            }
        }
    }

    /// What the fast path needs once per client: `[the fetch option or undefined, baseUrl or
    /// undefined]`.
    #[wasm_bindgen(js_name = __fastSetup)]
    pub fn fast_setup(&self) -> js_sys::Array {
        let base = self.engine.config().base_url.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str);
        js_sys::Array::of2(&self.fetcher.custom().map_or(JsValue::UNDEFINED, JsValue::from), &base)
    }

    /// After the fast path's request got a 401: the same decisions as `fetch` from there (a new
    /// token and one retry on `invalid_token`).
    #[wasm_bindgen(js_name = __continueFetch)]
    pub fn continue_fetch(
        &self,
        response: JsValue,
        input: JsValue,
        init: JsValue,
        authorization: String,
    ) -> Promise {
        let read = super::host::response(response).and_then(|r| Ok((r, self.call(&input, &init)?)));
        let (response, mut call) = match read {
            Ok(read) => read,
            Err(e) => return rejected(e),
        };
        let this = self.clone();
        future_to_promise(async move {
            Ok(this.engine.continue_fetch(&mut call, &authorization, response).await?.into())
        })
    }

    /// The error to reject the fast path's call with, after its `fetch` to `url`, sent with
    /// `headers` (what [`Self::fast_headers`] gave), rejected with `error`: `error` itself, or a
    /// `network_error` when its text repeats a piece of the `Authorization` or `DPoP` value.
    #[wasm_bindgen(js_name = __apiError)]
    pub fn api_error(&self, error: JsValue, url: &str, headers: &str) -> JsValue {
        super::host::api_error(error, url, &[headers])
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
                text("opts.accessToken", &get(&opts, "accessToken"), true)?,
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
    /// nonces: [{ origin, nonce }] }` (no token values; keys are opaque keyed hashes).
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
        object(&[
            ("tokenRequests", (self.engine.token_requests() as f64).into()),
            ("cache", cache.collect::<js_sys::Array>().into()),
            ("nonces", nonces.collect::<js_sys::Array>().into()),
        ])
    }

    /// What `client.fetch` sends: relative inputs resolve against `baseUrl`; a string or URL input
    /// is passed to fetch as such (fetch builds the one Request), a Request input or a streamed
    /// body goes as a Request. The caller's `input` and `init` are read here, once, and whatever
    /// throws on the way is an `invalid_argument` naming them.
    fn call(&self, input: &JsValue, init: &JsValue) -> Result<JsApiCall, TokenError> {
        let init = read_init(init)?;
        let fetcher = self.fetcher.clone();
        let streamed = init.as_ref().is_some_and(|i| is_stream(&get(i, "body")));
        if input.has_type::<Request>() || streamed {
            let request = match (input.dyn_ref::<Request>(), &init) {
                (Some(request), Some(init)) => {
                    Request::new_with_request_and_init(request, init.unchecked_ref())
                }
                (Some(request), None) => Request::new_with_request(request),
                (None, Some(init)) => {
                    Request::new_with_str_and_init(&self.absolute(input)?, init.unchecked_ref())
                }
                (None, None) => Request::new_with_str(&self.absolute(input)?),
            };
            let mut request = request.map_err(|e| unusable("init", "is not a valid RequestInit", &e))?;
            let follow = request.redirect() == web_sys::RequestRedirect::Follow;
            if follow {
                let manual = web_sys::RequestInit::new();
                manual.set_redirect(web_sys::RequestRedirect::Manual);
                request = Request::new_with_request_and_init(&request, &manual)
                    .map_err(|e| unusable("input", "could not be copied", &e))?;
            }
            return Ok(JsApiCall {
                method: request.method(),
                url: request.url(),
                outgoing: Outgoing::Request(request),
                fetcher,
                follow,
            });
        }
        let url = self.absolute(input)?;
        // Normalized where it matters (proofs, redirect rules): `crate::dpop::htm`.
        let method = match init.as_ref().map(|i| get(i, "method")).filter(|m| !m.is_undefined()) {
            None => "GET".to_owned(),
            Some(method) => method
                .as_string()
                .ok_or_else(|| TokenError::argument("init.method", "must be a string (an HTTP method)"))?,
        };
        let follow = init.as_ref().is_none_or(|i| super::host::follows(&get(i, "redirect")));
        Ok(JsApiCall {
            method,
            outgoing: Outgoing::Parts { url: JsValue::from_str(&url), init },
            url,
            fetcher,
            follow,
        })
    }

    /// The absolute, normalized URL of a string or URL input (`new URL(input, baseUrl).href`).
    fn absolute(&self, input: &JsValue) -> Result<String, TokenError> {
        const KINDS: &str = "must be a string, a URL or a Request";
        let text = match input.as_string() {
            Some(text) => text,
            // URL objects and anything else with a string form (which may throw: a null
            // prototype, a throwing toString, a Proxy).
            None if input.is_object() => guard::string_of(input).ok_or_else(|| {
                TokenError::argument("input", cat!(KINDS, " (converting it to a string threw)"))
            })?,
            None => return Err(TokenError::argument("input", KINDS)),
        };
        let base = self.engine.config().base_url.as_deref();
        web_sys_url(&text, base).map_err(|_| {
            let problem = if base.is_some() {
                "is not a valid URL"
            } else {
                "is not an absolute URL (and there is no baseUrl)"
            };
            TokenError::argument("input", problem)
        })
    }
}

/// The caller's `init`, read once: a plain copy of its own enumerable members (getters run here,
/// not again per attempt), with `headers` as a `Headers` (from a Headers or an array of pairs)
/// or a plain copy of a record. `None` without one.
fn read_init(init: &JsValue) -> Result<Option<Object>, TokenError> {
    if init.is_undefined() || init.is_null() {
        return Ok(None);
    }
    if !init.is_object() {
        return Err(TokenError::argument("init", "must be an object (a RequestInit)"));
    }
    let copy = guard::assign(&Object::new(), init).map_err(|e| unusable("init", "could not be read", &e))?;
    let headers = get(&copy, "headers");
    if headers.is_undefined() || headers.is_null() {
        return Ok(Some(copy));
    }
    let fail = |e: JsValue| unusable("init.headers", "could not be read", &e);
    let listed = headers.is_instance_of::<web_sys::Headers>() || guard::is_array(&headers).map_err(fail)?;
    let headers: JsValue = if listed {
        web_sys::Headers::new_with_headers(headers.unchecked_ref()).map_err(fail)?.into()
    } else if headers.is_object() {
        guard::assign(&Object::new(), &headers).map_err(fail)?.into()
    } else {
        return Err(TokenError::argument("init.headers", "must be a Headers, an array of pairs or a record"));
    };
    js_sys::Reflect::set(&copy, &"headers".into(), &headers).map_err(fail)?;
    Ok(Some(copy))
}

/// An `invalid_argument` for `field` after JS threw `e` reading or converting it, with the error's
/// name only (its message could quote the caller's values, a header among them).
fn unusable(field: &str, problem: &str, e: &JsValue) -> TokenError {
    let name = get(e, "name").as_string().unwrap_or_default();
    TokenError::argument(field, cat!(problem, " (", crate::text::clean(&name, 40), ")"))
}

/// Whether a body is a ReadableStream (sent once; must go through a cloneable Request).
fn is_stream(body: &JsValue) -> bool {
    body.is_object() && get(body, "getReader").is_function()
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

/// `new URL(input, base).href`.
fn web_sys_url(input: &str, base: Option<&str>) -> Result<String, JsValue> {
    let url_ctor: Function = get(&js_sys::global(), "URL").dyn_into()?;
    let base = base.map_or(JsValue::UNDEFINED, JsValue::from_str);
    let args = js_sys::Array::of2(&JsValue::from_str(input), &base);
    let url = js_sys::Reflect::construct(&url_ctor, &args)?;
    get(&url, "href").as_string().ok_or_else(|| TokenError::argument("input", "is not a valid URL").into())
}

/// Read `TokenRequestOptions`.
fn request_options(req: &JsValue) -> Result<RequestOptions, TokenError> {
    crate::config::parse_request(&to_json("req", req)?)
}

/// Named clients (see DESIGN: `ClientRegistry`).
#[wasm_bindgen]
pub struct ClientRegistry {
    /// By name, in the options' order (a registry names a handful of APIs).
    clients: Vec<(String, JsTokenClient)>,
}

#[wasm_bindgen]
impl ClientRegistry {
    /// Build every client; throws `TokenError` naming `clients.<name>.<field>`.
    #[wasm_bindgen(constructor)]
    pub fn new(clients: JsValue) -> Result<ClientRegistry, JsValue> {
        if !clients.is_object() {
            return Err(TokenError::config("clients", "must be an object of client options").into());
        }
        let mut list = Vec::new();
        let names = guard::keys(&clients).map_err(|_| {
            error::to_js(TokenError::config("clients", "could not be read (a Proxy or a getter threw)"))
        })?;
        for name in names.iter() {
            let name = name.as_string().unwrap_or_default();
            let options = get(&clients, &name);
            let client = JsTokenClient::build(&options).map_err(|e| {
                let mut e = e;
                e.message = cat!("clients.", name, ".", e.message);
                error::to_js(e)
            })?;
            list.push((name, client));
        }
        Ok(ClientRegistry { clients: list })
    }

    /// The client named `name`; throws `TokenError` for an unknown name.
    pub fn get(&self, name: JsValue) -> Result<JsTokenClient, JsValue> {
        let name = name.as_string().ok_or_else(|| TokenError::argument("name", "must be a string"))?;
        let name = name.as_str();
        self.clients.iter().find(|(n, _)| n == name).map(|(_, c)| c.clone()).ok_or_else(|| {
            TokenError::argument(
                "name",
                cat!("no client named \"", crate::text::clean(name, crate::text::QUOTED), "\""),
            )
            .into()
        })
    }

    // `fetch(name, input, init)` is defined in JS (js/fast-path.mjs), on one cached client per name.
}
