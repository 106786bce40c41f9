//! The client engine: orchestrates the sans-IO core over a [`Transport`] and an [`Env`]. Per
//! client: one token cache with single-flight, one DPoP nonce store, the clock skew learned per
//! origin, and optionally a [`Store`] shared with other instances. Getting a token is in
//! `obtain`, API calls in `api`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::shared::{ShareExt, Shared};

use crate::cache::{CachePolicy, CachedToken, Lookup, TokenCache};
use crate::config::{ClientConfig, DpopSetting, Secret};
use crate::dpop::{DpopKey, NonceStore, ProofClaims};
use crate::error::{Result, TokenError};
use crate::event::Event;
use crate::json::{Map, Value};
use crate::key::SigningKey;
use crate::providers::Env;
use crate::shape::Shape;
use crate::skew::ClockSkew;
use crate::store::{NoStore, Store};
use crate::transport::Transport;

mod api;
mod obtain;

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
    /// Each origin's clock, from the `Date` of its responses: the time of JWTs made for it.
    skew: RefCell<ClockSkew>,
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
                skew: RefCell::default(),
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

    /// The clock skew learned per origin (the origins whose `Date` showed their clock is off),
    /// for inspection. Release it before the client's next call.
    pub fn clock_skew(&self) -> std::cell::Ref<'_, ClockSkew> {
        self.inner.skew.borrow()
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
    /// The DPoP key, fetching a host key's public part on first use.
    pub(super) async fn dpop(&self) -> Result<Option<Rc<DpopKey>>> {
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

    /// The nonce remembered for `url`'s origin.
    pub(super) fn nonce_for(&self, url: &str) -> Option<String> {
        self.nonces.borrow_mut().get(url).map(str::to_owned)
    }

    /// The time, in ms, on the clock of `url`'s origin as far as its `Date`s told: what JWTs made
    /// for it say (cache expiry stays on this host's clock).
    pub(super) fn now_ms_for(&self, url: &str) -> u64 {
        self.skew.borrow().now_ms(url, self.env.now_ms())
    }

    /// Learn the clock of `url`'s origin from the `date` of its response (a `clock_skew` event when
    /// the offset changed): the server's time, when the `Date` is one to trust
    /// ([`crate::skew::server_time`]).
    pub(super) fn learn_clock(&self, url: &str, date: Option<&str>) -> Option<u64> {
        let now = self.env.now_ms();
        let server = crate::skew::server_time(date?, now)?;
        let changed = self.skew.borrow_mut().learn(url, server, now);
        if let Some(offset_ms) = changed {
            self.env.event(Event::ClockSkew { origin: crate::dpop::origin(url).to_owned(), offset_ms });
        }
        Some(server)
    }

    /// A DPoP proof, signed (by the host where it is faster).
    pub(super) async fn proof(
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
    pub(super) fn proof_input(
        &self,
        dpop: &DpopKey,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let jti = self.env.jti();
        let now_secs = self.now_ms_for(url) / 1000;
        dpop.signing_input(ProofClaims { method, url, now_secs, jti: &jti, access_token, nonce })
    }
}

#[cfg(test)]
mod tests;
