//! The client engine: orchestrates the sans-IO core over a [`Transport`], an [`Env`] and the
//! caller's [`ApiCall`]s. Per client: one token cache with single-flight, one DPoP nonce store,
//! and optionally a [`Store`] shared with other instances.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::shared::{ShareExt, Shared};

use crate::cache::{CachePolicy, CachedToken, Lookup, TokenCache};
use crate::config::{ClientAuth, ClientConfig, DpopSetting, GrantKind, Secret, TokenEndpoint};
use crate::discovery::{self, Metadata};
use crate::dpop::{DpopKey, NonceStore, ProofClaims};
use crate::error::{ErrorCode, Result, TokenError};
use crate::event::Event;
use crate::grant::{token_request, ClientCredentials, Grant, TokenExchange};
use crate::json::{Map, Value};
use crate::key::SigningKey;
use crate::resource::{ApiDecision, ApiResponse, RetryBudget};
use crate::retry::Failure;
use crate::shape::Shape;
use crate::store::{self, NoStore, Store};
use crate::text::decimal;
use crate::token::{interpret, Expectation, TokenOutcome, TokenType};
use crate::transport::{ApiCall, Env, HttpRequest, HttpResponse, Transport};

/// Per-call token options (`TokenRequestOptions`): each overrides the client's default.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// Scopes instead of the client's.
    pub scope: Option<Vec<String>>,
    /// Resources instead of the client's.
    pub resource: Option<Vec<String>>,
    /// The token to act for (`on_behalf_of`, `token_exchange`, `jwt_bearer`); cached under its hash.
    pub subject_token: Option<Secret>,
    /// Its RFC 8693 type (token exchange; default from `tokenExchange.subjectTokenType`).
    pub subject_token_type: Option<String>,
    /// Skip a cached token and ask the authority (joins a request already in flight).
    pub force_refresh: bool,
    /// Claims for this request's client assertion (or self-signed grant assertion), over
    /// `clientAuth.claims`: a tenant's organization numbers. Part of the cache key.
    pub claims: Option<Map<String, Value>>,
    /// Token request parameters over the client's `extraParams`, by name. Part of the cache key.
    pub extra_params: Option<Vec<(String, String)>>,
}

impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestOptions")
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .field("subject_token", &self.subject_token.as_ref().map(|_| "***"))
            .field("subject_token_type", &self.subject_token_type)
            .field("force_refresh", &self.force_refresh)
            .field("claims", &self.claims.as_ref().map(|c| c.keys().collect::<Vec<_>>()))
            .field(
                "extra_params",
                &self.extra_params.as_ref().map(|p| p.iter().map(|(k, _)| k).collect::<Vec<_>>()),
            )
            .finish()
    }
}

type Pending = Shared<Result<CachedToken>>;

/// A managed OAuth client: gets, caches and refreshes tokens, and makes API calls with them.
/// Cheap to clone (clones share the cache).
pub struct TokenClient<T: Transport + 'static, E: Env + 'static, S: Store + 'static = NoStore> {
    inner: Rc<Inner<T, E, S>>,
}

impl<T: Transport + 'static, E: Env + 'static, S: Store + 'static> Clone for TokenClient<T, E, S> {
    fn clone(&self) -> Self {
        TokenClient { inner: Rc::clone(&self.inner) }
    }
}

struct Inner<T, E, S> {
    config: ClientConfig,
    transport: T,
    env: E,
    /// The shared store, read before asking the authority.
    store: Option<S>,
    policy: CachePolicy,
    dpop: RefCell<DpopState>,
    /// The secret cache keys are hashed under (random per client): events and `inspect()` show
    /// keys that cannot be tested against guesses of what they stand for.
    salt: [u8; 32],
    /// The secret store keys are hashed under, once the store has given it.
    store_secret: Cell<Option<[u8; 32]>>,
    cache: RefCell<TokenCache<Pending>>,
    nonces: RefCell<NonceStore>,
    token_requests: Cell<u64>,
    /// The token endpoint once known (configured, or discovered and checked).
    endpoint: RefCell<Option<String>>,
    /// The shape of calls without per-call options, computed on first use.
    default_target: RefCell<Option<Rc<Shape>>>,
}

/// The DPoP key: none, ready, or a host key whose public part is fetched on first use.
enum DpopState {
    Off,
    Ready(Rc<DpopKey>),
    Pending(Box<SigningKey>),
}

/// After an API response: hand it back, or send again with this token.
enum Next<R> {
    Done(R),
    Retry(SentToken),
}

/// What a call to an API is sent with: the token's type and value (its times stay in the cache).
struct SentToken {
    token_type: TokenType,
    access_token: String,
}

impl From<CachedToken> for SentToken {
    fn from(token: CachedToken) -> Self {
        SentToken { token_type: token.token_type, access_token: token.access_token }
    }
}

impl SentToken {
    /// The token from an `Authorization` value this engine made (`"<type> <token>"`).
    fn from_authorization(authorization: &str) -> Self {
        let (scheme, token) = authorization.split_once(' ').unwrap_or(("Bearer", authorization));
        let token_type = if scheme == "DPoP" { TokenType::DPoP } else { TokenType::Bearer };
        SentToken { token_type, access_token: token.to_owned() }
    }
}

impl<T: Transport + 'static, E: Env + 'static> TokenClient<T, E> {
    /// Build a client; generates the ephemeral DPoP key when `dpop: true`.
    pub fn new(config: ClientConfig, transport: T, env: E) -> Result<Self> {
        TokenClient::with_store(config, transport, env, None)
    }
}

impl<T: Transport + 'static, E: Env + 'static, S: Store + 'static> TokenClient<T, E, S> {
    /// Build a client that shares tokens with other instances through `store`. DPoP-bound tokens
    /// are only usable with their key, so a store needs a configured DPoP key (the same in every
    /// instance), not a generated one.
    pub fn with_store(config: ClientConfig, transport: T, env: E, store: Option<S>) -> Result<Self> {
        if store.is_some() && matches!(config.dpop, DpopSetting::Generate) {
            return Err(TokenError::config(
                "dpop",
                "must be a configured key ({ privateJwk } or { keyPair }) shared by every instance when \
                 a store is used: tokens are bound to it, and a generated key is this instance's alone",
            ));
        }
        let dpop = match &config.dpop {
            DpopSetting::Off => DpopState::Off,
            DpopSetting::Generate => {
                DpopState::Ready(Rc::new(DpopKey::new(SigningKey::generate(|b| env.fill_random(b)))?))
            }
            DpopSetting::Key(key) if key.public_jwk().is_none() => DpopState::Pending(key.clone()),
            DpopSetting::Key(key) => DpopState::Ready(Rc::new(DpopKey::new((**key).clone())?)),
        };
        let mut salt = [0u8; 32];
        env.fill_random(&mut salt);
        let policy =
            CachePolicy { refresh_before_ms: config.refresh_before_secs * 1000, ..CachePolicy::default() };
        let cache = RefCell::new(TokenCache::with_capacity(config.cache_size));
        Ok(TokenClient {
            inner: Rc::new(Inner {
                config,
                transport,
                env,
                store,
                policy,
                dpop: RefCell::new(dpop),
                salt,
                store_secret: Cell::new(None),
                cache,
                nonces: RefCell::default(),
                token_requests: Cell::new(0),
                endpoint: RefCell::default(),
                default_target: RefCell::default(),
            }),
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// RFC 7638 thumbprint of the DPoP key, when DPoP is on.
    pub fn dpop_thumbprint(&self) -> Option<String> {
        match &*self.inner.dpop.borrow() {
            DpopState::Ready(key) => Some(key.thumbprint().to_owned()),
            _ => None,
        }
    }

    /// How many tokens this client has asked for (a request retried after a DPoP nonce challenge
    /// counts once).
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.get()
    }

    /// The cached tokens by key, for inspection.
    pub fn cached_tokens(&self) -> Vec<(String, CachedToken)> {
        let cache = self.inner.cache.borrow();
        cache.tokens().map(|(k, t)| (k.to_owned(), t.clone())).collect()
    }

    /// The DPoP nonces by origin, for inspection.
    pub fn nonces(&self) -> Vec<(String, String)> {
        let nonces = self.inner.nonces.borrow();
        nonces.entries().map(|(o, n)| (o.to_owned(), n.to_owned())).collect()
    }

    /// A token for `options`: from the cache when fresh, else from the authority, with concurrent
    /// misses sharing one request.
    pub async fn get_token(&self, options: &RequestOptions) -> Result<CachedToken> {
        self.inner.dpop().await?; // its thumbprint is part of the key
        let target = self.target(options)?;
        self.token_for(&target, options.force_refresh, None).await
    }

    /// Drop the cached token for `options`, here and in the shared store.
    pub async fn invalidate(&self, options: &RequestOptions) -> Result<()> {
        self.inner.dpop().await?;
        let target = self.target(options)?;
        self.inner.cache.borrow_mut().clear(&target.key);
        if let Some(store) = &self.inner.store {
            let key = self.inner.store_key(&target).await?;
            if let Err(e) = store.delete(&key).await {
                self.inner.store_error(&target, "delete", e);
            }
        }
        Ok(())
    }

    /// A DPoP proof with this client's key (`ath` when `access_token` is given; `nonce` defaults
    /// to the one remembered for the URL's origin).
    pub async fn create_dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String> {
        let dpop = self
            .inner
            .dpop()
            .await?
            .ok_or_else(|| TokenError::config("dpop", "is not enabled for this client"))?;
        let nonce = nonce.map(str::to_owned).or_else(|| self.inner.nonce_for(url));
        self.inner.proof(&dpop, method, url, access_token, nonce.as_deref()).await
    }

    /// Make `call` with a token for `options`: `Authorization` (and a fresh `DPoP` proof) on each
    /// attempt; one retry on a DPoP nonce challenge and one with a new token on `invalid_token`.
    pub async fn fetch<C: ApiCall>(
        &self,
        call: &mut C,
        options: &RequestOptions,
    ) -> Result<C::Response, C::Error> {
        self.inner.check_api_url(call.url())?; // refused before anything is sent
        self.inner.dpop().await?;
        let target = self.target(options)?;
        let token = self.token_for(&target, options.force_refresh, None).await?;
        self.send(call, &target, token.into(), RetryBudget::default()).await
    }

    /// The fast path of a plain `fetch` (no per-call options): the `Authorization` value of a
    /// fresh cached token and, with DPoP, a proof for `method` and `url` when it can be signed
    /// without awaiting. The host sends with them and hands a 401 (or a response with a
    /// `DPoP-Nonce`) to [`TokenClient::continue_fetch`]; `None` means: take [`TokenClient::fetch`].
    pub fn cached_headers(&self, method: &str, url: &str) -> Option<(String, Option<String>)> {
        self.inner.check_api_url(url).ok()?; // the full path reports it
        let dpop = match &*self.inner.dpop.borrow() {
            DpopState::Off => None,
            DpopState::Ready(key) => Some(Rc::clone(key)),
            DpopState::Pending(_) => return None,
        };
        let target = self.target(&RequestOptions::default()).ok()?;
        let now = self.inner.env.now_ms();
        let Lookup::Fresh(token) = self.inner.cache.borrow_mut().lookup(&target.key, now, false) else {
            return None;
        };
        let proof = match &dpop {
            None => None,
            Some(key) => {
                let nonce = self.inner.nonce_for(url);
                let input =
                    self.inner.proof_input(key, method, url, Some(&token.access_token), nonce.as_deref());
                Some(key.key().sign_now(&self.inner.env, input)?.ok()?)
            }
        };
        self.inner.env.event(Event::CacheHit { key: target.key.clone() });
        Some((cat!(token.token_type.as_str(), " ", token.access_token), proof))
    }

    /// Go on with a call whose first attempt, sent with `authorization` (and a proof when it is
    /// a DPoP token) from [`TokenClient::cached_headers`], got `response`: the same decisions as
    /// [`TokenClient::fetch`] from there.
    pub async fn continue_fetch<C: ApiCall>(
        &self,
        call: &mut C,
        authorization: &str,
        response: C::Response,
    ) -> Result<C::Response, C::Error> {
        let target = self.target(&RequestOptions::default())?;
        let token = SentToken::from_authorization(authorization);
        let mut budget = RetryBudget::default();
        match self.decide(call, &target, token, response, &mut budget).await? {
            Next::Done(response) => Ok(response),
            Next::Retry(token) => self.send(call, &target, token, budget).await,
        }
    }

    /// After an API said `invalid_token`: drop `rejected` and get another token (never that one
    /// again from a shared store).
    async fn renew(&self, url: &str, target: &Rc<Shape>, rejected: String) -> Result<CachedToken> {
        self.inner.env.event(Event::InvalidTokenRetry { url: crate::dpop::htu(url).to_owned() });
        self.inner.cache.borrow_mut().evict(&target.key, &rejected);
        self.token_for(target, false, Some(rejected)).await
    }

    /// Send `call` with `token` (and a fresh proof), then retry as `budget` allows.
    async fn send<C: ApiCall>(
        &self,
        call: &mut C,
        target: &Rc<Shape>,
        mut token: SentToken,
        mut budget: RetryBudget,
    ) -> Result<C::Response, C::Error> {
        loop {
            self.inner.check_api_url(call.url())?;
            let authorization = cat!(token.token_type.as_str(), " ", token.access_token);
            let proof = match &self.inner.dpop().await? {
                Some(dpop) => {
                    let nonce = self.inner.nonce_for(call.url());
                    let proof = self.inner.proof(
                        dpop,
                        call.method(),
                        call.url(),
                        Some(&token.access_token),
                        nonce.as_deref(),
                    );
                    Some(proof.await?)
                }
                None => None,
            };
            let response = call.send(&authorization, proof.as_deref()).await?;
            match self.decide(call, target, token, response, &mut budget).await? {
                Next::Done(response) => return Ok(response),
                Next::Retry(next) => token = next,
            }
        }
    }

    /// What to do with `response` to `call` sent with `token`: remember a DPoP nonce, then hand
    /// the response back or retry (with which token) as `budget` allows.
    async fn decide<C: ApiCall>(
        &self,
        call: &mut C,
        target: &Rc<Shape>,
        mut token: SentToken,
        response: C::Response,
        budget: &mut RetryBudget,
    ) -> Result<Next<C::Response>, C::Error> {
        let dpop = token.token_type == TokenType::DPoP;
        let nonce = if dpop { call.header(&response, "dpop-nonce") } else { None };
        let nonce = nonce.filter(|nonce| self.inner.nonces.borrow_mut().remember(call.url(), nonce));
        let status = call.status(&response);
        if (300..400).contains(&status) {
            let follow = call.redirect_location(&response).and_then(|to| {
                let as_get = budget.follow(status, call.method(), call.url(), &to, call.replayable())?;
                Some((to, as_get))
            });
            return match follow {
                Some((to, as_get)) if call.redirect(&to, as_get)? => Ok(Next::Retry(token)),
                _ => Ok(Next::Done(response)),
            };
        }
        // Only a 401 carries a challenge worth reading (one header lookup less per request).
        let www = if status == 401 { call.header(&response, "www-authenticate") } else { None };
        let seen = ApiResponse { status, www_authenticate: www.as_deref(), has_dpop_nonce: nonce.is_some() };
        match budget.decide(seen, dpop, call.replayable()) {
            ApiDecision::Done => return Ok(Next::Done(response)),
            ApiDecision::RetryWithNonce => self
                .inner
                .env
                .event(Event::NonceRetry { at: "resource", url: crate::dpop::htu(call.url()).to_owned() }),
            ApiDecision::RetryWithNewToken => {
                let rejected = std::mem::take(&mut token.access_token);
                token = self.renew(call.url(), target, rejected).await?.into();
            }
        }
        Ok(Next::Retry(token))
    }

    /// The request's shape and cache key; the common case (no per-call options) is computed once.
    fn target(&self, options: &RequestOptions) -> Result<Rc<Shape>> {
        let RequestOptions {
            scope,
            resource,
            subject_token,
            subject_token_type: _,
            force_refresh: _,
            claims,
            extra_params,
        } = options;
        let plain = scope.is_none()
            && resource.is_none()
            && subject_token.is_none()
            && claims.is_none()
            && extra_params.is_none();
        if plain {
            if let Some(target) = self.inner.default_target.borrow().as_ref() {
                return Ok(Rc::clone(target));
            }
        }
        let dpop = match &*self.inner.dpop.borrow() {
            DpopState::Off => None,
            DpopState::Ready(key) => Some(key.thumbprint().to_owned()),
            // Not reached by the async entry points (they resolve the key first); the host's
            // handle is unique to the key, so a key made with it is never shared.
            DpopState::Pending(key) => Some(key.host_key().id.to_owned()),
        };
        let keys = crate::shape::Keys { dpop: dpop.as_deref(), salt: &self.inner.salt };
        let target = Rc::new(Shape::resolve(&self.inner.config, options, keys)?);
        if plain {
            *self.inner.default_target.borrow_mut() = Some(Rc::clone(&target));
        }
        Ok(target)
    }

    /// `rejected`: a token an API refused, not to be taken from the shared store again.
    async fn token_for(
        &self,
        target: &Rc<Shape>,
        force: bool,
        rejected: Option<String>,
    ) -> Result<CachedToken> {
        let now = self.inner.env.now_ms();
        let found = self.inner.cache.borrow_mut().lookup(&target.key, now, force);
        match found {
            Lookup::Fresh(token) => {
                self.inner.env.event(Event::CacheHit { key: target.key.clone() });
                Ok(token)
            }
            Lookup::Join(pending) => pending.await,
            Lookup::Miss => {
                let inner = Rc::clone(&self.inner);
                let owned = Rc::clone(target);
                let refresh = self.inner.cache.borrow().has_token(&target.key);
                let pending = async move {
                    let started = inner.env.now_ms();
                    let attempts = Cell::new(0);
                    let result = inner.obtain(&owned, force, rejected, &attempts).await;
                    inner.cache.borrow_mut().complete(&owned.key, result.as_ref().ok().cloned());
                    if attempts.get() > 0 || result.is_err() {
                        inner.env.event(Event::TokenRequest {
                            key: owned.key.clone(),
                            refresh,
                            duration_ms: inner.env.now_ms().saturating_sub(started),
                            attempts: attempts.get(),
                            error: result.as_ref().err().map(|e| e.code.as_str()),
                        });
                    }
                    result.or_else(|e| inner.stale_if_error(&owned.key, e))
                }
                .shared();
                self.inner.cache.borrow_mut().begin(&target.key, pending.clone());
                pending.await
            }
        }
    }
}

impl<T: Transport, E: Env, S: Store> Inner<T, E, S> {
    /// Whether `fetch` may send this client's token (and proofs) to `url`: https, or plain http
    /// to loopback; with `baseUrl` or `allowedOrigins`, only to those origins.
    fn check_api_url(&self, url: &str) -> Result<()> {
        let refused = |problem: &str| {
            let shown = crate::url::Origin::of(url).map_or("the URL", |o| o.text);
            Err(TokenError::new(ErrorCode::UrlNotAllowed, cat!("input: ", problem, " (", shown, ")")))
        };
        let Some(origin) = crate::url::Origin::of(url) else {
            return refused("is not an absolute http(s) URL");
        };
        if !origin.may_carry_token() {
            return refused("a token is sent over https only (plain http only to loopback hosts)");
        }
        let config = &self.config;
        let base = config.base_url.as_deref().and_then(crate::url::Origin::of).map(|o| o.text);
        let limited = base.is_some() || !config.allowed_origins.is_empty();
        if limited && base != Some(origin.text) && !config.allowed_origins.iter().any(|o| o == origin.text) {
            return refused(
                "is not the baseUrl's origin nor in allowedOrigins; the token stays with its API",
            );
        }
        Ok(())
    }

    /// The DPoP key, fetching a host key's public part on first use.
    async fn dpop(&self) -> Result<Option<Rc<DpopKey>>> {
        let pending = match &*self.dpop.borrow() {
            DpopState::Off => return Ok(None),
            DpopState::Ready(key) => return Ok(Some(Rc::clone(key))),
            DpopState::Pending(key) => key.clone(),
        };
        let public = self.env.public_jwk(pending.host_key()).await.map_err(|e| e.in_field("dpop"))?;
        let key = Rc::new(DpopKey::new((*pending).with_public_jwk(&public)?)?);
        *self.dpop.borrow_mut() = DpopState::Ready(Rc::clone(&key));
        Ok(Some(key))
    }

    /// A token from the shared store or, failing that, the authority. With a store that locks,
    /// one instance asks while the others wait (bounded by `timeoutMs`) for its token to appear.
    /// `force` skips what the store holds now, but still joins another instance's request;
    /// `rejected` is never taken from the store.
    async fn obtain(
        &self,
        target: &Shape,
        force: bool,
        rejected: Option<String>,
        attempts: &Cell<u32>,
    ) -> Result<CachedToken> {
        // One deadline for everything getting this token takes: discovery, the store, retries.
        let deadline = self.env.now_ms().saturating_add(u64::from(self.config.timeout_ms));
        let Some(store) = &self.store else {
            return self.request_token(target, attempts, deadline).await;
        };
        let key = match self.store_key(target).await {
            Ok(key) => key,
            Err(e) => {
                // No key to read or write under: go on without the store, as when it fails.
                self.store_error(target, "key", e);
                return self.request_token(target, attempts, deadline).await;
            }
        };
        let found = self.read_store(store, target, &key).await;
        let avoid = match found {
            Some(token) if force => Some(token.access_token),
            Some(token) if rejected.as_ref() != Some(&token.access_token) => {
                return Ok(self.store_hit(target, token, 0));
            }
            _ => rejected,
        };
        let accept = |token: &CachedToken| avoid.as_deref() != Some(token.access_token.as_str());
        let lock = store::lock_key(&key);
        let owner = self.env.jti();
        let started = self.env.now_ms();
        // Wait for another instance at most half the time, so that asking ourselves still fits.
        let wait_until = started.saturating_add(u64::from(self.config.timeout_ms / 2));
        let mut polls = 0;
        let held = loop {
            match store.lock(&lock, &owner, store::lock_ttl_ms(self.config.timeout_ms)).await {
                Ok(Some(true)) => {
                    // The previous holder may have stored its token just before letting go.
                    if let Some(token) = self.read_store(store, target, &key).await.filter(accept) {
                        self.unlock(store, target, &lock, &owner).await;
                        return Ok(self.store_hit(target, token, self.env.now_ms() - started));
                    }
                    break true;
                }
                Ok(Some(false)) => {
                    let now = self.env.now_ms();
                    let Some(delay) = store::poll_delay_ms(polls, wait_until.saturating_sub(now)) else {
                        break false; // waited long enough: ask the authority ourselves
                    };
                    polls += 1;
                    self.env.sleep(delay).await;
                    if let Some(token) = self.read_store(store, target, &key).await.filter(accept) {
                        return Ok(self.store_hit(target, token, self.env.now_ms() - started));
                    }
                }
                Ok(None) => break false,
                Err(e) => {
                    self.store_error(target, "lock", e);
                    break false;
                }
            }
        };
        let result = self.request_token(target, attempts, deadline).await;
        if let Ok(token) = &result {
            let now = self.env.now_ms();
            let value = store::record(token, now);
            if let Err(e) = store.set(&key, &value, store::ttl_secs(token, now)).await {
                self.store_error(target, "set", e);
            }
        }
        if held {
            self.unlock(store, target, &lock, &owner).await;
        }
        result
    }

    /// The key `target`'s tokens have in the shared store: a keyed hash of its description under
    /// the store's secret, so instances that share the secret agree on it and nobody else can
    /// tell what it stands for.
    async fn store_key(&self, target: &Shape) -> Result<String> {
        let secret = match (self.store_secret.get(), &self.store) {
            (Some(secret), _) => secret,
            (None, Some(store)) => {
                let secret = store.naming_secret().await?;
                self.store_secret.set(Some(secret));
                secret
            }
            (None, None) => return Err(TokenError::config("store", "is not set")),
        };
        Ok(store::store_key(&secret, &target.digest))
    }

    /// A fresh token of this client's type from the store; a failing store reads as empty.
    async fn read_store(&self, store: &S, target: &Shape, key: &str) -> Option<CachedToken> {
        let value = match store.get(key).await {
            Ok(value) => value?,
            Err(e) => {
                self.store_error(target, "get", e);
                return None;
            }
        };
        let expect =
            if matches!(self.config.dpop, DpopSetting::Off) { TokenType::Bearer } else { TokenType::DPoP };
        store::open(&value, &self.policy, expect, self.env.now_ms())
    }

    async fn unlock(&self, store: &S, target: &Shape, lock: &str, owner: &str) {
        if let Err(e) = store.unlock(lock, owner).await {
            self.store_error(target, "unlock", e);
        }
    }

    fn store_hit(&self, target: &Shape, token: CachedToken, waited_ms: u64) -> CachedToken {
        self.env.event(Event::StoreHit { key: target.key.clone(), waited_ms });
        token
    }

    fn store_error(&self, target: &Shape, op: &'static str, e: TokenError) {
        self.env.event(Event::StoreError { key: target.key.clone(), op, message: e.into_details().message });
    }

    /// After a failed token request: the cached token for `key` when `staleIfErrorSeconds`
    /// allows it (the failure is transient, the token has not expired, and its refresh was due no
    /// longer ago than the window), else the error. A refusal (`invalid_client`, `invalid_grant`:
    /// a revoked client or user) is the answer, never papered over.
    fn stale_if_error(&self, key: &str, error: TokenError) -> Result<CachedToken> {
        if !crate::retry::is_transient(&error) {
            return Err(error);
        }
        let window_ms = self.config.stale_if_error_secs.saturating_mul(1000);
        let now = self.env.now_ms();
        let stale = self.cache.borrow().token(key).cloned().filter(|token| {
            window_ms > 0 && now < token.expires_at_ms && now <= token.refresh_at_ms.saturating_add(window_ms)
        });
        let Some(token) = stale else {
            return Err(error);
        };
        self.env.event(Event::StaleIfError {
            key: key.to_owned(),
            error: error.code.as_str(),
            expires_in_ms: token.expires_at_ms - now,
        });
        Ok(token)
    }

    /// What is left of `deadline` for one HTTP exchange (at least 1 ms, at most `timeoutMs`).
    fn remaining_ms(&self, deadline: u64) -> u32 {
        deadline.saturating_sub(self.env.now_ms()).clamp(1, u64::from(self.config.timeout_ms)) as u32
    }

    fn random_u32(&self) -> u32 {
        let mut bytes = [0u8; 4];
        self.env.fill_random(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn nonce_for(&self, url: &str) -> Option<String> {
        self.nonces.borrow_mut().get(url).map(str::to_owned)
    }

    async fn proof(
        &self,
        dpop: &DpopKey,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String> {
        let input = self.proof_input(dpop, method, url, access_token, nonce);
        dpop.key().sign(&self.env, input).await
    }

    /// The signing input of a proof made now, with a fresh `jti`.
    fn proof_input(
        &self,
        dpop: &DpopKey,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let jti = self.env.jti();
        let now_secs = self.env.now_ms() / 1000;
        dpop.signing_input(ProofClaims { method, url, now_secs, jti: &jti, access_token, nonce })
    }

    /// The token endpoint: configured, or discovered from the issuer once (failures are retried
    /// on the next call, not cached).
    async fn token_endpoint(&self, deadline: u64) -> Result<String> {
        if let Some(url) = self.endpoint.borrow().as_ref() {
            return Ok(url.clone());
        }
        let url = match &self.config.token_endpoint {
            TokenEndpoint::Configured(url) => url.clone(),
            TokenEndpoint::Discover(issuer) => self.discover(issuer, deadline).await?.token_endpoint,
        };
        *self.endpoint.borrow_mut() = Some(url.clone());
        Ok(url)
    }

    /// Fetch the issuer's metadata (OpenID configuration, then RFC 8414) and check it against
    /// this client's authentication method and algorithms.
    async fn discover(&self, issuer: &str, deadline: u64) -> Result<Metadata> {
        let urls = discovery::metadata_urls(issuer).map(|url| crate::config::endpoint_url("issuer", &url));
        let mut result = Err(TokenError::new(ErrorCode::InvalidConfig, "issuer: no metadata"));
        for url in urls {
            let url = url?;
            let request = HttpRequest {
                method: "GET",
                url: url.clone(),
                headers: vec![("accept", "application/json".to_owned())],
                body: None,
                timeout_ms: self.remaining_ms(deadline),
            };
            let response = not_redirected(self.transport.send(request).await?, &url)?;
            result = discovery::parse(issuer, &url, response.status, &response.body);
            if response.status != 404 {
                break;
            }
        }
        let metadata = result?;
        let assertion_alg = match &self.config.client_auth {
            ClientAuth::PrivateKeyJwt(signer) => Some(signer.key().alg().as_str()),
            _ => None,
        };
        let dpop_alg = match &self.config.dpop {
            DpopSetting::Off => None,
            DpopSetting::Generate => Some("ES256"),
            DpopSetting::Key(key) => Some(key.alg().as_str()),
        };
        metadata.check(self.config.client_auth.method(), assertion_alg, dpop_alg)?;
        Ok(metadata)
    }

    /// The client assertion for one token request of `target`, when the client authenticates
    /// with one.
    async fn client_assertion(&self, target: &Shape) -> Result<Option<String>> {
        match &self.config.client_auth {
            ClientAuth::PrivateKeyJwt(signer) => {
                let input = signer.signing_input(self.env.now_ms() / 1000, &self.env.jti(), &target.claims);
                Ok(Some(signer.key().sign(&self.env, input).await?))
            }
            _ => Ok(None),
        }
    }

    /// Maskinporten's grant: an assertion signed with the `private_key_jwt` key (RFC 7523 §2.1).
    async fn grant_assertion(&self, target: &Shape) -> Result<String> {
        let ClientAuth::PrivateKeyJwt(signer) = &self.config.client_auth else {
            return Err(TokenError::argument(
                "req.subjectToken",
                "is required for grant \"jwt_bearer\" unless clientAuth is private_key_jwt (which signs the grant)",
            ));
        };
        let input = signer.grant_signing_input(
            self.env.now_ms() / 1000,
            &self.env.jti(),
            &target.scope,
            &target.resource,
            &target.claims,
        );
        signer.key().sign(&self.env, input).await
    }

    /// One token request, retried once on a DPoP nonce challenge with a fresh assertion and proof.
    async fn request_token(
        &self,
        target: &Shape,
        attempts: &Cell<u32>,
        deadline: u64,
    ) -> Result<CachedToken> {
        let config = &self.config;
        let endpoint = &self.token_endpoint(deadline).await?;
        let mut may_retry_nonce = true;
        let mut retries = 0;
        self.token_requests.set(self.token_requests.get() + 1);
        loop {
            let subject = target.subject.as_ref().map(|s| (s.token.expose(), s.token_type.as_str()));
            // Maskinporten's form: the self-signed grant assertion is the only credential.
            let own_grant = match (&config.grant, subject) {
                (GrantKind::JwtBearer, None) => Some(self.grant_assertion(target).await?),
                _ => None,
            };
            let assertion = if own_grant.is_some() { None } else { self.client_assertion(target).await? };
            let grant = match (&config.grant, subject, &own_grant) {
                (GrantKind::JwtBearer, _, Some(own)) => Grant::JwtBearer { assertion: own },
                (GrantKind::JwtBearer, Some((token, _)), _) => Grant::JwtBearer { assertion: token },
                (GrantKind::OnBehalfOf, Some((token, _)), _) => Grant::OnBehalfOf { assertion: token },
                (GrantKind::TokenExchange(x), Some((token, token_type)), _) => {
                    Grant::TokenExchange(TokenExchange {
                        subject_token: token,
                        subject_token_type: token_type,
                        requested_token_type: x.requested_token_type.as_deref(),
                        audience: x.audience.as_deref(),
                        actor: x.actor.as_ref().map(|(t, kind)| (t.expose(), kind.as_str())),
                    })
                }
                _ => Grant::ClientCredentials,
            };
            let client_id = config.client_id.as_str();
            let credentials = match (&config.client_auth, &assertion) {
                _ if own_grant.is_some() => ClientCredentials::Omitted,
                (ClientAuth::SecretBasic(s), _) => {
                    ClientCredentials::SecretBasic { client_id, secret: s.expose() }
                }
                (ClientAuth::SecretPost(s), _) => {
                    ClientCredentials::SecretPost { client_id, secret: s.expose() }
                }
                (ClientAuth::PrivateKeyJwt(_), Some(a)) => {
                    ClientCredentials::Assertion { client_id, assertion: a }
                }
                _ => ClientCredentials::None { client_id },
            };
            // Maskinporten's grant carries scope and resource inside the signed assertion only.
            let (scope, resource): (&[String], &[String]) =
                if own_grant.is_some() { (&[], &[]) } else { (&target.scope, &target.resource) };
            let request = token_request(endpoint, grant, credentials, scope, resource, &target.extra_params);
            let mut headers = request.headers;
            let dpop = self.dpop().await?;
            if let Some(dpop) = &dpop {
                let nonce = self.nonce_for(endpoint);
                headers.push(("dpop", self.proof(dpop, "POST", endpoint, None, nonce.as_deref()).await?));
            }
            attempts.set(attempts.get() + 1);
            let sent = self
                .transport
                .send(HttpRequest {
                    method: "POST",
                    url: request.url,
                    headers,
                    body: Some(request.body),
                    // The whole exchange, retries included, ends by the deadline.
                    timeout_ms: self.remaining_ms(deadline),
                })
                .await;
            let failure = match &sent {
                Err(e) if e.code == ErrorCode::Network => Some(Failure::Network),
                Ok(r) if r.status == 429 || r.status >= 500 => {
                    Some(Failure::Status(r.status, r.retry_after.as_deref()))
                }
                _ => None,
            };
            if let Some(failure) = failure {
                let now = self.env.now_ms();
                let random = self.random_u32();
                if let Some(delay) =
                    config.retry.delay(retries, failure, now, deadline.saturating_sub(now), random)
                {
                    retries += 1;
                    self.env.sleep(delay).await;
                    continue;
                }
            }
            let response = sent.and_then(|r| not_redirected(r, endpoint)).map_err(|mut e| {
                if e.code == ErrorCode::Timeout {
                    e.message = cat!(
                        "token request to ",
                        crate::dpop::htu(endpoint),
                        " did not complete within timeoutMs (",
                        decimal(config.timeout_ms.into()),
                        " ms)"
                    );
                }
                e
            })?;
            // A nonce that is not one (RFC 9449 §8.1) is neither kept nor retried with.
            let nonce = match (&dpop, &response.dpop_nonce) {
                (Some(_), Some(nonce)) => self.nonces.borrow_mut().remember(endpoint, nonce),
                _ => false,
            };
            let expect = Expectation { dpop: dpop.is_some(), may_retry_nonce };
            let outcome =
                interpret(response.status, response.content_type.as_deref(), nonce, &response.body, expect)
                    .map_err(|e| with_endpoint(e, endpoint))?;
            match outcome {
                TokenOutcome::Issued(token) => return Ok(self.policy.admit(token, self.env.now_ms())),
                TokenOutcome::RetryWithNonce => {
                    may_retry_nonce = false;
                    self.env.event(Event::NonceRetry {
                        at: "token_endpoint",
                        url: crate::dpop::htu(endpoint).to_owned(),
                    });
                }
            }
        }
    }
}

/// A response the host's fetch got by following a redirect (a custom fetch that ignores
/// `redirect: "manual"`) is refused: credentials must not have travelled on, and what answered is
/// not the authority asked.
fn not_redirected(response: HttpResponse, url: &str) -> Result<HttpResponse> {
    if !response.redirected {
        return Ok(response);
    }
    let e = TokenError::new(
        ErrorCode::Redirect,
        cat!(
            "the fetch for ",
            crate::dpop::htu(url),
            " followed a redirect; token and metadata requests never do"
        ),
    );
    Err(e.with_status(response.status))
}

/// Token endpoint errors name the endpoint (a URL, never a secret).
fn with_endpoint(mut e: TokenError, endpoint: &str) -> TokenError {
    if e.code != ErrorCode::InvalidConfig {
        e.message = cat!(e.message, " (", crate::dpop::htu(endpoint), ")");
    }
    e
}

#[cfg(test)]
mod tests;
