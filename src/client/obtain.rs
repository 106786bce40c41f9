//! Getting a token: from the shared store or the authority (discovery, the token request with
//! its client authentication or self-signed grant, DPoP nonce retries, one retry with the time
//! corrected when a refusal shows the clock was off, backoff), within one deadline.

use std::cell::Cell;

use super::Inner;
use crate::cache::CachedToken;
use crate::config::{ClientAuth, DpopSetting, GrantKind, TokenEndpoint};
use crate::discovery::{self, Metadata};
use crate::error::{ErrorCode, Result, TokenError};
use crate::event::Event;
use crate::grant::{token_request, ClientCredentials, Grant, TokenExchange, TokenRequest};
use crate::providers::Env;
use crate::retry::Failure;
use crate::shape::Shape;
use crate::store::{self, Store};
use crate::text::decimal;
use crate::token::{interpret, Expectation, TokenOutcome, TokenType};
use crate::transport::{HttpRequest, HttpResponse, Transport};

impl<T: Transport, E: Env, S: Store> Inner<T, E, S> {
    /// A token from the shared store or, failing that, the authority. With a store that locks,
    /// one instance asks while the others wait (bounded by `timeoutMs`) for its token to appear.
    /// `force` skips what the store holds now, but still joins another instance's request;
    /// `rejected` (a token an API refused, as its `Authorization` value) is never taken from the
    /// store.
    pub(super) async fn obtain(
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
            Some(token) if force => Some(token.authorization()),
            Some(token) if rejected.as_ref() != Some(&token.authorization()) => {
                return Ok(self.store_hit(target, token, 0));
            }
            _ => rejected,
        };
        let accept = |token: &CachedToken| avoid.as_deref() != Some(token.authorization().as_str());
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
    pub(super) async fn store_key(&self, target: &Shape) -> Result<String> {
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

    pub(super) fn store_error(&self, target: &Shape, op: &'static str, e: TokenError) {
        self.env.event(Event::StoreError { key: target.key.clone(), op, message: e.into_details().message });
    }

    /// After a failed token request: the cached token for `key` when `staleIfErrorSeconds`
    /// allows it (the failure is transient, the token has not expired, and its refresh was due no
    /// longer ago than the window), else the error. A refusal (`invalid_client`, `invalid_grant`:
    /// a revoked client or user) is the answer, never papered over.
    pub(super) fn stale_if_error(&self, key: &str, error: TokenError) -> Result<CachedToken> {
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

    /// The client assertion for one token request of `target` to `endpoint`, when the client
    /// authenticates with one.
    async fn client_assertion(&self, target: &Shape, endpoint: &str) -> Result<Option<String>> {
        match &self.config.client_auth {
            ClientAuth::PrivateKeyJwt(signer) => {
                let now_secs = self.now_ms_for(endpoint) / 1000;
                let input = signer.signing_input(now_secs, &self.env.jti(), &target.claims);
                Ok(Some(signer.key().sign(&self.env, input).await?))
            }
            _ => Ok(None),
        }
    }

    /// Maskinporten's grant: an assertion signed with the `private_key_jwt` key (RFC 7523 §2.1).
    async fn grant_assertion(&self, target: &Shape, endpoint: &str) -> Result<String> {
        let ClientAuth::PrivateKeyJwt(signer) = &self.config.client_auth else {
            return Err(TokenError::argument(
                "req.subjectToken",
                "is required for grant \"jwt_bearer\" unless clientAuth is private_key_jwt (which signs the grant)",
            ));
        };
        let input = signer.grant_signing_input(
            self.now_ms_for(endpoint) / 1000,
            &self.env.jti(),
            &target.scope,
            &target.resource,
            &target.claims,
        );
        signer.key().sign(&self.env, input).await
    }

    /// What proves the client in one token request to `endpoint`, made fresh for each attempt (a
    /// new `jti`, the time of the endpoint's clock).
    async fn credential(&self, target: &Shape, endpoint: &str) -> Result<Credential> {
        match (&self.config.grant, &target.subject) {
            (GrantKind::JwtBearer, None) => {
                Ok(Credential::Grant(self.grant_assertion(target, endpoint).await?))
            }
            _ => Ok(Credential::Client(self.client_assertion(target, endpoint).await?)),
        }
    }

    /// The token request for `target` with `credential`.
    fn token_request(&self, endpoint: &str, target: &Shape, credential: &Credential) -> TokenRequest {
        let config = &self.config;
        let client_id = config.client_id.as_str();
        let assertion = match credential {
            // The grant carries scope and resource inside the signed assertion only.
            Credential::Grant(own) => {
                let grant = Grant::JwtBearer { assertion: own };
                return token_request(
                    endpoint,
                    grant,
                    ClientCredentials::Omitted,
                    &[],
                    &[],
                    &target.extra_params,
                );
            }
            Credential::Client(assertion) => assertion.as_deref(),
        };
        let subject = target.subject.as_ref().map(|s| (s.token.expose(), s.token_type.as_str()));
        let grant = match (&config.grant, subject) {
            (GrantKind::JwtBearer, Some((token, _))) => Grant::JwtBearer { assertion: token },
            (GrantKind::OnBehalfOf, Some((token, _))) => Grant::OnBehalfOf { assertion: token },
            (GrantKind::TokenExchange(x), Some((token, token_type))) => Grant::TokenExchange(TokenExchange {
                subject_token: token,
                subject_token_type: token_type,
                requested_token_type: x.requested_token_type.as_deref(),
                audience: x.audience.as_deref(),
                actor: x.actor.as_ref().map(|(t, kind)| (t.expose(), kind.as_str())),
            }),
            _ => Grant::ClientCredentials,
        };
        let credentials = match (&config.client_auth, assertion) {
            (ClientAuth::SecretBasic(s), _) => {
                ClientCredentials::SecretBasic { client_id, secret: s.expose() }
            }
            (ClientAuth::SecretPost(s), _) => ClientCredentials::SecretPost { client_id, secret: s.expose() },
            (ClientAuth::PrivateKeyJwt(_), Some(a)) => {
                ClientCredentials::Assertion { client_id, assertion: a }
            }
            _ => ClientCredentials::None { client_id },
        };
        token_request(endpoint, grant, credentials, &target.scope, &target.resource, &target.extra_params)
    }

    /// One token request: retried once on a DPoP nonce challenge and once when a refusal's `Date`
    /// shows the JWTs' time was off, each time with a fresh assertion and proof; after network
    /// failures and 5xx/429 as the retry policy says.
    async fn request_token(
        &self,
        target: &Shape,
        attempts: &Cell<u32>,
        deadline: u64,
    ) -> Result<CachedToken> {
        let config = &self.config;
        let endpoint = &self.token_endpoint(deadline).await?;
        let mut may_retry_nonce = true;
        let mut may_retry_time = true;
        let mut retries = 0;
        self.token_requests.set(self.token_requests.get() + 1);
        loop {
            // The time this attempt's assertion and proof say.
            let claimed = self.now_ms_for(endpoint);
            let credential = self.credential(target, endpoint).await?;
            let request = self.token_request(endpoint, target, &credential);
            let mut headers = request.headers;
            let dpop = self.dpop().await?;
            // Whether the request carries a JWT with a time in it: then the endpoint's clock matters.
            let timed =
                dpop.is_some() || matches!(credential, Credential::Grant(_) | Credential::Client(Some(_)));
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
            // Its `Date` (errors included; not through a redirect, which is refused below).
            let clock_off = match &sent {
                Ok(r) if timed && !r.redirected => self
                    .learn_clock(endpoint, r.date.as_deref())
                    .is_some_and(|server| crate::skew::was_off(claimed, server)),
                _ => false,
            };
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
            let expect =
                Expectation { dpop: dpop.is_some(), may_retry_nonce, clock_off: clock_off && may_retry_time };
            let outcome =
                interpret(response.status, response.content_type.as_deref(), nonce, &response.body, expect)
                    .map_err(|e| with_endpoint(e, endpoint))?;
            match outcome {
                TokenOutcome::Issued(token) => return Ok(self.policy.admit(token, self.env.now_ms())),
                // Refused when our clock was off: once more with the endpoint's time, never again.
                TokenOutcome::RetryWithTime => may_retry_time = false,
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

/// What proves the client in one token request (RFC 7523): a self-signed grant assertion, the
/// only credential (Maskinporten's JWT bearer grant), or client authentication, with the client
/// assertion when it is `private_key_jwt`.
enum Credential {
    Grant(String),
    Client(Option<String>),
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
