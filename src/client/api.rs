//! API calls: the host sends, the engine decides. Two decisions make a call: the headers a
//! request carries ([`TokenClient::headers_now`], [`TokenClient::headers`]) and what to do after
//! its response ([`TokenClient::after`]: hand it back, send again with new headers, or follow a
//! redirect within the origin). The JavaScript glue performs them with `fetch` in one place
//! (js/fetch.mjs); [`TokenClient::fetch`] performs them over a Rust host's [`ApiCall`].

use std::rc::Rc;

use super::{DpopState, Inner, RequestOptions, TokenClient};
use crate::cache::{CachedToken, Lookup};
use crate::error::{ErrorCode, Result, TokenError};
use crate::event::Event;
use crate::providers::Env;
use crate::resource::{AfterResponse, ApiDecision, ApiHeaders, ApiResponse, RetryBudget, SentRequest};
use crate::store::Store;
use crate::token::TokenType;
use crate::transport::{ApiCall, Transport};
use crate::url::Origin;

impl<T: Transport + 'static, E: Env + 'static, S: Store + 'static> TokenClient<T, E, S> {
    /// The headers for a `method` request to `url` now, without awaiting, when a fresh token is
    /// cached and the proof (with DPoP) signs at once: the cached call makes no future at all.
    /// `Ok(None)`: ask [`TokenClient::headers`]. A URL the token may not go to is an error
    /// ([`ErrorCode::UrlNotAllowed`]), before anything is sent.
    pub fn headers_now(
        &self,
        method: &str,
        url: &str,
        options: &RequestOptions,
    ) -> Result<Option<ApiHeaders>> {
        self.inner.check_api_url(url)?;
        let key = match &*self.inner.dpop.borrow() {
            DpopState::Off => None,
            DpopState::Ready(key) => Some(Rc::clone(key)),
            DpopState::Pending(_) => return Ok(None),
        };
        if options.force_refresh {
            return Ok(None);
        }
        let target = self.target(options)?;
        let now = self.inner.env.now_ms();
        let Lookup::Fresh(token) = self.inner.cache.borrow_mut().lookup(&target.key, now, false) else {
            return Ok(None);
        };
        access_token(&token)?;
        let dpop = match &key {
            None => None,
            Some(key) => {
                let nonce = self.inner.nonce_for(url);
                let input =
                    self.inner.proof_input(key, method, url, Some(&token.access_token), nonce.as_deref());
                match key.key().sign_now(&self.inner.env, input) {
                    Some(proof) => Some(proof?),
                    None => return Ok(None),
                }
            }
        };
        self.inner.env.event(Event::CacheHit { key: target.key.clone() });
        Ok(Some(ApiHeaders { authorization: token.authorization(), dpop }))
    }

    /// The headers for a `method` request to `url`, getting a token first when none is cached.
    pub async fn headers(&self, method: &str, url: &str, options: &RequestOptions) -> Result<ApiHeaders> {
        self.inner.check_api_url(url)?;
        self.inner.dpop().await?;
        let target = self.target(options)?;
        let token = self.token_for(&target, options.force_refresh, None).await?;
        self.inner.headers_with(&token, method, url).await
    }

    /// What to do after `response` to `request` (sent with headers from this client for
    /// `options`), as `budget` allows: remember a DPoP nonce and (with DPoP) the server's clock;
    /// follow a redirect within the origin; retry once with the server's nonce (RFC 9449 §9), once
    /// at the server's time after `invalid_dpop_proof` when its `Date` shows this host's clock, or
    /// the corrected time the proof said, was off ([`crate::skew`]), and once with a new token
    /// after `invalid_token` (RFC 6750 §3.1); else hand the response back.
    pub async fn after(
        &self,
        request: &SentRequest<'_>,
        response: &ApiResponse<'_>,
        budget: &mut RetryBudget,
        options: &RequestOptions,
    ) -> Result<AfterResponse> {
        let dpop = !matches!(*self.inner.dpop.borrow(), DpopState::Off);
        let nonce =
            response.dpop_nonce.filter(|n| dpop && self.inner.nonces.borrow_mut().remember(request.url, n));
        let seen = ApiResponse { dpop_nonce: nonce, ..*response };
        // Proofs are the only JWTs made for an API: its clock is learned, and matters, with DPoP only.
        // The proof said this host's time, corrected by the offset known when it was made: when
        // either is off from the API's, one retry (so a proof made before the offset was learned,
        // by a call in flight meanwhile, gets one too).
        let corrected = self.inner.now_ms_for(request.url);
        let now = self.inner.env.now_ms();
        let clock_off = dpop
            && self.inner.learn_clock(request.url, seen.date).is_some_and(|server| {
                crate::skew::was_off(corrected, server) || crate::skew::was_off(now, server)
            });
        if (300..400).contains(&seen.status) {
            let Some(to) = seen.location else {
                return Ok(AfterResponse::Done);
            };
            let Some(as_get) =
                budget.follow(seen.status, request.method, request.url, to, request.replayable)
            else {
                return Ok(AfterResponse::Done);
            };
            let method = if as_get { "GET" } else { request.method };
            self.inner.check_api_url(to)?;
            let token = self.token_sent(request, options).await?;
            let headers = self.inner.headers_with(&token, method, to).await?;
            return Ok(AfterResponse::Follow { url: to.to_owned(), as_get, headers });
        }
        let url = crate::dpop::htu(request.url);
        match budget.decide(&seen, dpop, request.replayable, clock_off) {
            ApiDecision::Done => Ok(AfterResponse::Done),
            decision @ (ApiDecision::RetryWithNonce | ApiDecision::RetryWithTime) => {
                if decision == ApiDecision::RetryWithNonce {
                    self.inner.env.event(Event::NonceRetry { at: "resource", url: url.to_owned() });
                }
                let token = self.token_sent(request, options).await?;
                Ok(AfterResponse::Send(self.inner.headers_with(&token, request.method, request.url).await?))
            }
            ApiDecision::RetryWithNewToken => {
                self.inner.env.event(Event::InvalidTokenRetry { url: url.to_owned() });
                let target = self.target(options)?;
                // The token sent, if still cached, goes; a newer one is kept. Never again from a store.
                self.inner.cache.borrow_mut().evict(&target.key, request.authorization);
                let token = self.token_for(&target, false, Some(request.authorization.to_owned())).await?;
                Ok(AfterResponse::Send(self.inner.headers_with(&token, request.method, request.url).await?))
            }
        }
    }

    /// The token `request` was sent with, to send again (a nonce retry, a redirect): the cached
    /// one when it is still that token, else whatever a token request for `options` gives now.
    async fn token_sent(&self, request: &SentRequest<'_>, options: &RequestOptions) -> Result<CachedToken> {
        let target = self.target(options)?;
        let cached = self.inner.cache.borrow().token(&target.key).cloned();
        match cached.filter(|t| t.authorization() == request.authorization) {
            Some(token) => Ok(token),
            None => self.token_for(&target, false, None).await,
        }
    }

    /// Make `call` with a token for `options`: the headers, then [`TokenClient::after`] each
    /// response until it is the caller's. For Rust hosts; JavaScript performs the same decisions
    /// with `fetch` (js/fetch.mjs).
    pub async fn fetch<C: ApiCall>(
        &self,
        call: &mut C,
        options: &RequestOptions,
    ) -> Result<C::Response, C::Error> {
        let mut headers = self.headers(call.method(), call.url(), options).await?;
        let mut budget = RetryBudget::default();
        loop {
            let response = call.send(&headers).await?;
            let status = call.status(&response);
            let www = if status == 401 { call.header(&response, "www-authenticate") } else { None };
            let nonce = call.header(&response, "dpop-nonce");
            let location = call.redirect_location(&response);
            let date = call.header(&response, "date");
            let seen = ApiResponse {
                status,
                www_authenticate: www.as_deref(),
                dpop_nonce: nonce.as_deref(),
                location: location.as_deref(),
                date: date.as_deref(),
            };
            let sent = SentRequest {
                method: call.method(),
                url: call.url(),
                authorization: &headers.authorization,
                replayable: call.replayable(),
            };
            headers = match self.after(&sent, &seen, &mut budget, options).await? {
                AfterResponse::Done => return Ok(response),
                AfterResponse::Send(next) => next,
                AfterResponse::Follow { url, as_get, headers } => {
                    if !call.redirect(&url, as_get)? {
                        return Ok(response);
                    }
                    headers
                }
            };
        }
    }
}

impl<T: Transport, E: Env, S: Store> Inner<T, E, S> {
    /// Whether this client's token (and proofs) may go to `url`: https, or plain http to
    /// loopback; with `baseUrl` or `allowedOrigins`, only to those origins.
    pub(super) fn check_api_url(&self, url: &str) -> Result<()> {
        let refused = |problem: &str| {
            let shown = Origin::of(url).map_or("the URL", |o| o.text);
            Err(TokenError::new(ErrorCode::UrlNotAllowed, cat!("input: ", problem, " (", shown, ")")))
        };
        let Some(origin) = Origin::of(url) else {
            return refused("is not an absolute http(s) URL");
        };
        if !origin.may_carry_token() {
            return refused("a token is sent over https only (plain http only to loopback hosts)");
        }
        let config = &self.config;
        let base = config.base_url.as_deref().and_then(Origin::of).map(|o| o.text);
        let limited = base.is_some() || !config.allowed_origins.is_empty();
        if limited && base != Some(origin.text) && !config.allowed_origins.iter().any(|o| o == origin.text) {
            return refused(
                "is not the baseUrl's origin nor in allowedOrigins; the token stays with its API",
            );
        }
        Ok(())
    }

    /// `token`'s headers for a `method` request to `url`: a fresh proof with DPoP.
    async fn headers_with(&self, token: &CachedToken, method: &str, url: &str) -> Result<ApiHeaders> {
        access_token(token)?;
        let dpop = match self.dpop().await? {
            None => None,
            Some(key) => {
                let nonce = self.nonce_for(url);
                Some(self.proof(&key, method, url, Some(&token.access_token), nonce.as_deref()).await?)
            }
        };
        Ok(ApiHeaders { authorization: token.authorization(), dpop })
    }
}

/// Only an access token goes into `Authorization`: what a token exchange issued as `N_A` (an ID
/// token, a SAML assertion: RFC 8693 §2.2.1) is [`ErrorCode::TokenTypeMismatch`], before anything
/// is sent.
fn access_token(token: &CachedToken) -> Result<()> {
    if token.token_type != TokenType::NotApplicable {
        return Ok(());
    }
    Err(TokenError::new(
        ErrorCode::TokenTypeMismatch,
        "token_type \"N_A\" is not an access token: never sent (getToken returns it)",
    ))
}
