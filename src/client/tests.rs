//! Engine tests over a scripted transport and a manual clock: the orchestration decisions
//! (single-flight, retries, re-minting) without any network. Real servers are in tests/js.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::json::{json, Value};
use futures_executor::block_on;
use futures_util::future::join_all;

use super::*;
use crate::dpop::decode_unverified;
use crate::error::ErrorCode;
use crate::key::tests::rfc7515_jwk;
use crate::resource::{AfterResponse, ApiHeaders, ApiResponse, RetryBudget, SentRequest};
use crate::token::TokenType;
use crate::transport::{ApiCall, HttpRequest, HttpResponse};

/// Stays pending for this many polls, so concurrent callers all arrive while a request is in
/// flight, as with real I/O.
struct Latency(u32);
impl Future for Latency {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[derive(Clone, Default)]
struct Script {
    replies: Rc<RefCell<VecDeque<Result<HttpResponse>>>>,
    sent: Rc<RefCell<Vec<HttpRequest>>>,
}

impl Script {
    fn reply(&self, status: u16, body: Value, nonce: Option<&str>) {
        self.replies.borrow_mut().push_back(Ok(HttpResponse {
            status,
            content_type: Some("application/json".into()),
            dpop_nonce: nonce.map(str::to_owned),
            retry_after: None,
            date: None,
            redirected: false,
            body: body.to_string().into_bytes(),
        }));
    }
    fn status(&self, status: u16, retry_after: Option<&str>) {
        self.replies.borrow_mut().push_back(Ok(HttpResponse {
            status,
            content_type: Some("text/html".into()),
            dpop_nonce: None,
            retry_after: retry_after.map(str::to_owned),
            date: None,
            redirected: false,
            body: b"<html>busy</html>".to_vec(),
        }));
    }
    fn network_error(&self) {
        self.replies.borrow_mut().push_back(Err(TokenError::new(ErrorCode::Network, "connection refused")));
    }
    fn token(&self, token: &str, token_type: &str, expires_in: u64) {
        self.reply(
            200,
            json!({"access_token": token, "token_type": token_type, "expires_in": expires_in}),
            None,
        );
    }
    fn header(&self, i: usize, name: &str) -> Option<String> {
        self.sent.borrow()[i].headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }
    fn form(&self, i: usize, name: &str) -> Option<String> {
        let sent = self.sent.borrow();
        sent[i]
            .body
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }
}

impl Transport for Script {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        Latency(100).await;
        self.sent.borrow_mut().push(request);
        self.replies
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Err(TokenError::new(ErrorCode::Network, "script exhausted")))
    }
}

/// (key id, alg, had a private JWK) of one host signature.
type HostSignature = (String, &'static str, bool);

#[derive(Clone, Default)]
struct Clock {
    now: Rc<Cell<u64>>,
    counter: Rc<Cell<u8>>,
    /// Every event reported.
    events: Rc<RefCell<Vec<crate::event::Event>>>,
    /// Every sleep the engine asked for, in ms.
    slept: Rc<RefCell<Vec<u64>>>,
    /// (key id, alg, had private JWK) of each host signature.
    host_signed: Rc<RefCell<Vec<HostSignature>>>,
}

impl crate::providers::Clock for Clock {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    async fn sleep(&self, ms: u64) {
        self.slept.borrow_mut().push(ms);
        self.now.set(self.now.get() + ms);
    }
}

impl crate::providers::Random for Clock {
    fn fill_random(&self, buf: &mut [u8]) {
        for b in buf {
            self.counter.set(self.counter.get().wrapping_add(1));
            *b = self.counter.get();
        }
    }
}

impl crate::providers::Events for Clock {
    fn event(&self, event: crate::event::Event) {
        self.events.borrow_mut().push(event);
    }
}

impl crate::providers::Signer for Clock {
    async fn public_jwk(&self, key: crate::key::HostKey<'_>) -> Result<Value> {
        assert_eq!(key.id, "pair-1");
        let mut public = rfc7515_jwk();
        public.as_object_mut().unwrap().remove("d");
        Ok(public)
    }
    async fn sign(&self, key: crate::key::HostKey<'_>, _input: &[u8]) -> Result<Vec<u8>> {
        self.host_signed.borrow_mut().push((key.id.to_owned(), key.alg.as_str(), key.private_jwk.is_some()));
        Ok(vec![0xAB; 256])
    }
}

fn client(options: Value) -> (TokenClient<Script, Clock>, Script, Clock) {
    let script = Script::default();
    let clock = Clock::default();
    clock.now.set(1_700_000_000_000);
    let config = crate::config::parse(&options).unwrap();
    (TokenClient::new(config, script.clone(), clock.clone()).unwrap(), script, clock)
}

fn secret_client() -> (TokenClient<Script, Clock>, Script, Clock) {
    client(json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c",
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"}, "scope": "api"
    }))
}

fn dpop_client() -> (TokenClient<Script, Clock>, Script, Clock) {
    client(json!({
        "tokenEndpoint": "https://as.example/token", "issuer": "https://as.example", "clientId": "c",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk()}, "dpop": true
    }))
}

fn claims(jwt: &str) -> Value {
    decode_unverified(jwt).unwrap().1
}

#[test]
fn concurrent_cold_calls_share_one_token_request() {
    let (c, script, _) = secret_client();
    script.token("t1", "Bearer", 300);
    let options = RequestOptions::default();
    let results = block_on(join_all((0..50).map(|_| c.get_token(&options))));
    assert!(results.iter().all(|r| r.as_ref().unwrap().access_token == "t1"));
    assert_eq!(script.sent.borrow().len(), 1);
}

#[test]
fn a_failure_reaches_every_waiter_and_is_not_cached() {
    let (c, script, _) = secret_client();
    script.reply(401, json!({"error": "invalid_client"}), None);
    script.token("t2", "Bearer", 300);
    let options = RequestOptions::default();
    let results = block_on(join_all((0..5).map(|_| c.get_token(&options))));
    let outcomes: Vec<_> = results.iter().map(|r| r.as_ref().map_err(|e| e.error.clone())).collect();
    assert!(outcomes.iter().all(|o| o == &Err(Some("invalid_client".into()))), "{outcomes:?}");
    assert_eq!(block_on(c.get_token(&options)).unwrap().access_token, "t2");
    assert_eq!(script.sent.borrow().len(), 2);
}

#[test]
fn cached_token_is_reused_until_the_refresh_point() {
    let (c, script, clock) = secret_client();
    script.token("t1", "Bearer", 300);
    script.token("t2", "Bearer", 300);
    let options = RequestOptions::default();
    assert_eq!(block_on(c.get_token(&options)).unwrap().access_token, "t1");
    clock.now.set(clock.now.get() + 239_999);
    assert_eq!(block_on(c.get_token(&options)).unwrap().access_token, "t1");
    clock.now.set(clock.now.get() + 1);
    assert_eq!(block_on(c.get_token(&options)).unwrap().access_token, "t2");
}

#[test]
fn force_refresh_and_different_scopes_get_their_own_tokens() {
    let (c, script, _) = secret_client();
    for t in ["t1", "t2", "t3"] {
        script.token(t, "Bearer", 300);
    }
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    let forced = RequestOptions { force_refresh: true, ..Default::default() };
    assert_eq!(block_on(c.get_token(&forced)).unwrap().access_token, "t2");
    let other = RequestOptions { scope: Some(vec!["other".into()]), ..Default::default() };
    assert_eq!(block_on(c.get_token(&other)).unwrap().access_token, "t3");
    assert_eq!(script.form(2, "scope").as_deref(), Some("other"));
}

#[test]
fn nonce_challenge_at_token_endpoint_retries_once_with_fresh_jti() {
    let (c, script, _) = dpop_client();
    script.reply(400, json!({"error": "use_dpop_nonce"}), Some("n1"));
    script.token("t1", "DPoP", 300);
    let token = block_on(c.get_token(&RequestOptions::default())).unwrap();
    assert_eq!(token.token_type, TokenType::DPoP);
    assert_eq!(script.sent.borrow().len(), 2);
    let proof = |i| claims(&script.header(i, "dpop").unwrap());
    let assertion = |i| claims(&script.form(i, "client_assertion").unwrap());
    assert!(proof(0).get("nonce").is_none());
    assert_eq!(proof(1)["nonce"], "n1");
    assert_ne!(proof(0)["jti"], proof(1)["jti"]);
    assert_ne!(assertion(0)["jti"], assertion(1)["jti"]);
    assert_eq!(assertion(1)["aud"], "https://as.example");
    assert_eq!(proof(1)["htu"], "https://as.example/token");
}

#[test]
fn a_second_nonce_challenge_is_an_error_not_a_loop() {
    let (c, script, _) = dpop_client();
    script.reply(400, json!({"error": "use_dpop_nonce"}), Some("n1"));
    script.reply(400, json!({"error": "use_dpop_nonce"}), Some("n2"));
    let e = block_on(c.get_token(&RequestOptions::default())).unwrap_err();
    assert_eq!(e.error.as_deref(), Some("use_dpop_nonce"));
    assert_eq!(script.sent.borrow().len(), 2);
}

#[test]
fn a_nonce_that_is_not_rfc9449_nqchar_is_neither_kept_nor_retried_with() {
    let (c, script, _) = dpop_client();
    script.reply(400, json!({"error": "use_dpop_nonce"}), Some("n1\r\nX-Injected: 1"));
    let e = block_on(c.get_token(&RequestOptions::default())).unwrap_err();
    assert_eq!((e.code, e.error.as_deref()), (ErrorCode::OAuth, Some("use_dpop_nonce")));
    assert_eq!(script.sent.borrow().len(), 1, "no retry without a usable nonce");
    assert!(c.nonces().is_empty());
}

#[test]
fn bearer_answer_to_a_dpop_request_is_refused() {
    let (c, script, _) = dpop_client();
    script.token("t1", "Bearer", 300);
    let e = block_on(c.get_token(&RequestOptions::default())).unwrap_err();
    assert_eq!(e.code, ErrorCode::TokenTypeMismatch);
    assert!(c.cached_tokens().is_empty());
}

/// An API that answers from a script and records what it was sent.
struct Api {
    replies: VecDeque<(u16, Option<&'static str>, Option<&'static str>)>,
    seen: Vec<(String, Option<String>)>,
}

impl ApiCall for Api {
    type Response = (u16, Option<&'static str>, Option<&'static str>);
    type Error = TokenError;
    fn method(&self) -> &str {
        "POST"
    }
    fn url(&self) -> &str {
        "https://api.example/r?x=1"
    }
    fn replayable(&self) -> bool {
        true
    }
    async fn send(&mut self, headers: &ApiHeaders) -> Result<Self::Response> {
        self.seen.push((headers.authorization.clone(), headers.dpop.clone()));
        Ok(self.replies.pop_front().unwrap_or((200, None, None)))
    }
    fn status(&self, r: &Self::Response) -> u16 {
        r.0
    }
    fn header(&self, r: &Self::Response, name: &str) -> Option<String> {
        match name {
            "www-authenticate" => r.1.map(str::to_owned),
            "dpop-nonce" => r.2.map(str::to_owned),
            _ => None,
        }
    }
}

#[test]
fn api_nonce_challenge_retries_with_the_nonce_and_a_new_proof() {
    let (c, script, _) = dpop_client();
    script.token("t1", "DPoP", 300);
    let mut api = Api {
        replies: VecDeque::from([(401, Some(r#"DPoP error="use_dpop_nonce""#), Some("api-n"))]),
        seen: vec![],
    };
    let response = block_on(c.fetch(&mut api, &RequestOptions::default())).unwrap();
    assert_eq!(response.0, 200);
    assert_eq!(api.seen.len(), 2);
    assert_eq!(api.seen[1].0, "DPoP t1");
    let (first, second) = (claims(api.seen[0].1.as_ref().unwrap()), claims(api.seen[1].1.as_ref().unwrap()));
    assert!(first.get("nonce").is_none());
    assert_eq!(second["nonce"], "api-n");
    assert_eq!(second["ath"], crate::dpop::ath("t1"));
    assert_eq!(second["htu"], "https://api.example/r");
    assert_ne!(first["jti"], second["jti"]);
    assert_eq!(c.nonces().len(), 1);
}

#[test]
fn api_invalid_token_drops_the_token_and_retries_once_with_a_new_one() {
    let (c, script, _) = secret_client();
    script.token("t1", "Bearer", 300);
    script.token("t2", "Bearer", 300);
    let www = Some(r#"Bearer error="invalid_token""#);
    let mut api = Api { replies: VecDeque::from([(401, www, None), (401, www, None)]), seen: vec![] };
    let response = block_on(c.fetch(&mut api, &RequestOptions::default())).unwrap();
    assert_eq!(response.0, 401, "a second invalid_token is handed back");
    let auth: Vec<&str> = api.seen.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(auth, ["Bearer t1", "Bearer t2"]);
    assert_eq!(script.sent.borrow().len(), 2);
}

#[test]
fn create_dpop_proof_needs_dpop_and_uses_remembered_nonces() {
    let (c, _, _) = secret_client();
    assert_eq!(
        block_on(c.create_dpop_proof("GET", "https://x/", None, None)).unwrap_err().code,
        ErrorCode::InvalidConfig
    );
    let (c, _, _) = dpop_client();
    c.inner.nonces.borrow_mut().remember("https://api.example/", "n9");
    let proof = block_on(c.create_dpop_proof("GET", "https://api.example/a", Some("tok"), None)).unwrap();
    assert_eq!(claims(&proof)["nonce"], "n9");
    assert_eq!(claims(&proof)["ath"], crate::dpop::ath("tok"));
}

#[test]
fn discovery_finds_the_token_endpoint_once_and_checks_the_issuer() {
    let (c, script, _) = client(json!({
        "issuer": "https://as.example", "clientId": "c",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk()}
    }));
    script.reply(404, json!({}), None);
    script.reply(
        200,
        json!({"issuer": "https://as.example", "token_endpoint": "https://as.example/connect/token",
               "token_endpoint_auth_signing_alg_values_supported": ["ES256"]}),
        None,
    );
    script.token("t1", "Bearer", 300);
    script.token("t2", "Bearer", 300);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    let forced = RequestOptions { force_refresh: true, ..Default::default() };
    block_on(c.get_token(&forced)).unwrap();
    let sent: Vec<(&str, String)> = script.sent.borrow().iter().map(|r| (r.method, r.url.clone())).collect();
    assert_eq!(
        sent,
        [
            ("GET", "https://as.example/.well-known/openid-configuration".to_owned()),
            ("GET", "https://as.example/.well-known/oauth-authorization-server".to_owned()),
            ("POST", "https://as.example/connect/token".to_owned()),
            ("POST", "https://as.example/connect/token".to_owned()),
        ]
    );
    assert_eq!(claims(&script.form(2, "client_assertion").unwrap())["aud"], "https://as.example");
}

#[test]
fn discovery_refuses_a_server_that_cannot_verify_our_algorithm() {
    let (c, script, _) = client(json!({
        "issuer": "https://as.example", "clientId": "c", "dpop": true,
        "clientAuth": {"method": "client_secret_basic", "clientSecret": "s"}
    }));
    script.reply(
        200,
        json!({"issuer": "https://as.example", "token_endpoint": "https://as.example/token",
               "dpop_signing_alg_values_supported": ["PS256"]}),
        None,
    );
    let e = block_on(c.get_token(&RequestOptions::default())).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    assert!(e.message.starts_with("dpop: \"ES256\" is not in"), "{}", e.message);
    assert_eq!(script.sent.borrow().len(), 1, "no token request after a failed check");
}

#[test]
fn rsa_client_assertions_are_signed_by_the_host() {
    let (c, script, clock) = client(json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": crate::key::tests::rsa_jwk(), "alg": "RS384"}
    }));
    script.token("t1", "Bearer", 300);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    let signed = clock.host_signed.borrow();
    assert_eq!(signed.len(), 1);
    let config = c.config();
    let crate::config::ClientAuth::PrivateKeyJwt(signer) = &config.client_auth else { unreachable!() };
    assert_eq!(signed[0].0, signer.key().host_key().id, "the host signs by the key's handle");
    assert_eq!((signed[0].1, signed[0].2), ("RS384", true));
    let assertion = script.form(0, "client_assertion").unwrap();
    let (header, _) = decode_unverified(&assertion).unwrap();
    assert_eq!(header["alg"], "RS384");
    assert_eq!(assertion.rsplit('.').next().unwrap(), crate::jose::b64url([0xAB; 256]));
}

fn with_subject(subject: &str) -> RequestOptions {
    RequestOptions { subject_token: Some(Secret::new(subject.to_owned())), ..Default::default() }
}

#[test]
fn maskinporten_jwt_bearer_grant_is_the_only_credential() {
    let (c, script, clock) = client(json!({
        "issuer": "https://maskinporten.example/", "tokenEndpoint": "https://maskinporten.example/token",
        "clientId": "my-client", "grant": "jwt_bearer", "scope": ["nav:a", "nav:b"],
        "resource": "https://api.example/",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": crate::key::tests::rsa_jwk(), "alg": "RS256",
                       "kid": "mp-key", "claims": {"consumer_org": "0192:910753614"}}
    }));
    script.token("t1", "Bearer", 120);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    assert_eq!(
        script.form(0, "grant_type").as_deref(),
        Some("urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
    );
    assert_eq!(script.form(0, "client_assertion"), None);
    assert_eq!(script.form(0, "client_id"), None);
    let (header, claims) = decode_unverified(&script.form(0, "assertion").unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "mp-key");
    let now = clock.now.get() / 1000;
    let mut keys: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["aud", "consumer_org", "exp", "iat", "iss", "jti", "resource", "scope"]);
    assert_eq!(claims["aud"], "https://maskinporten.example/");
    assert_eq!(claims["iss"], "my-client");
    assert_eq!(claims["scope"], "nav:a nav:b");
    assert_eq!(claims["iat"], now);
    assert!(claims["exp"].as_u64().unwrap() - now <= 120);
}

#[test]
fn jwt_bearer_lifetime_over_120_seconds_is_refused() {
    let e = crate::config::parse(&json!({
        "tokenEndpoint": "https://mp.example/token", "clientId": "c", "grant": "jwt_bearer",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk(), "lifetimeSeconds": 300}
    }))
    .unwrap_err();
    assert!(e.message.starts_with("clientAuth.lifetimeSeconds: must be at most 120"), "{}", e.message);
}

#[test]
fn on_behalf_of_caches_per_user_under_a_hash() {
    let (c, script, _) = client(json!({
        "tokenEndpoint": "https://login.example/token", "clientId": "api", "grant": "on_behalf_of",
        "scope": "https://graph.example/.default",
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"}
    }));
    for t in ["alice-token", "bob-token"] {
        script.token(t, "Bearer", 300);
    }
    let alice = with_subject("alice.user.jwt");
    let bob = with_subject("bob.user.jwt");
    assert_eq!(block_on(c.get_token(&alice)).unwrap().access_token, "alice-token");
    assert_eq!(block_on(c.get_token(&bob)).unwrap().access_token, "bob-token");
    assert_eq!(block_on(c.get_token(&alice)).unwrap().access_token, "alice-token");
    assert_eq!(script.sent.borrow().len(), 2);
    assert_eq!(script.form(0, "assertion").as_deref(), Some("alice.user.jwt"));
    assert_eq!(script.form(0, "requested_token_use").as_deref(), Some("on_behalf_of"));
    assert_eq!(script.form(0, "client_secret").as_deref(), Some("s"));
    let keys: Vec<String> = c.cached_tokens().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| !k.contains("alice") && !k.contains("bob")), "{keys:?}");
}

#[test]
fn per_user_cache_is_bounded() {
    let (c, script, _) = client(json!({
        "tokenEndpoint": "https://login.example/token", "clientId": "api", "grant": "on_behalf_of",
        "cacheSize": 2, "clientAuth": {"method": "client_secret_basic", "clientSecret": "s"}
    }));
    for i in 0..4 {
        script.token(&format!("t{i}"), "Bearer", 300);
    }
    for user in ["u1", "u2", "u3"] {
        block_on(c.get_token(&with_subject(user))).unwrap();
    }
    assert_eq!(c.cached_tokens().len(), 2);
    assert_eq!(block_on(c.get_token(&with_subject("u1"))).unwrap().access_token, "t3", "u1 was evicted");
}

#[test]
fn token_exchange_sends_subject_and_configured_parameters() {
    let (c, script, _) = client(json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c", "grant": "token_exchange",
        "tokenExchange": {"requestedTokenType": "urn:ietf:params:oauth:token-type:access_token", "audience": "backend"},
        "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk()}, "dpop": true
    }));
    script.token("x1", "DPoP", 300);
    let req = RequestOptions {
        subject_token_type: Some("urn:ietf:params:oauth:token-type:jwt".into()),
        ..with_subject("incoming.jwt")
    };
    block_on(c.get_token(&req)).unwrap();
    assert_eq!(script.form(0, "subject_token").as_deref(), Some("incoming.jwt"));
    assert_eq!(
        script.form(0, "subject_token_type").as_deref(),
        Some("urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt")
    );
    assert_eq!(script.form(0, "audience").as_deref(), Some("backend"));
    assert!(script.form(0, "client_assertion").is_some());
    assert!(script.header(0, "dpop").is_some());
}

#[test]
fn subject_tokens_are_required_where_needed_and_refused_elsewhere() {
    let (obo, _, _) = client(json!({
        "tokenEndpoint": "https://login.example/token", "clientId": "api", "grant": "on_behalf_of",
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"}
    }));
    let e = block_on(obo.get_token(&RequestOptions::default())).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::InvalidArgument, "req.subjectToken: is required for grant \"on_behalf_of\"")
    );
    let (cc, script, _) = secret_client();
    let e = block_on(cc.get_token(&with_subject("x"))).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
    assert!(script.sent.borrow().is_empty());
}

#[test]
fn a_host_dpop_key_pair_gets_its_public_key_on_first_use() {
    let script = Script::default();
    let clock = Clock::default();
    let key = SigningKey::external("pair-1", crate::jose::Alg::Es256, None, None).unwrap();
    let options = json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c",
        "clientAuth": {"method": "client_secret_basic", "clientSecret": "s"}, "dpop": {"keyPair": {}}
    });
    let host_keys = crate::config::HostKeys { dpop: Some(key), ..Default::default() };
    let config = crate::config::parse_with(&options, host_keys).unwrap();
    let c = TokenClient::new(config, script.clone(), clock.clone()).unwrap();
    assert_eq!(c.dpop_thumbprint(), None, "not known before first use");
    script.token("t1", "DPoP", 300);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    let expected = crate::jwk::thumbprint("j", &rfc7515_jwk()).unwrap();
    assert_eq!(c.dpop_thumbprint(), Some(expected.clone()));
    let (header, _) = decode_unverified(&script.header(0, "dpop").unwrap()).unwrap();
    assert_eq!(crate::jwk::thumbprint("j", &header["jwk"]).unwrap(), expected);
    assert!(header["jwk"].get("d").is_none());
    assert_eq!(clock.host_signed.borrow()[0].0, "pair-1", "the host signs with its own key");
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    assert_eq!(
        script.sent.borrow().len(),
        1,
        "the cache key did not change when the thumbprint became known"
    );
}

#[test]
fn server_errors_and_network_failures_are_retried_with_backoff() {
    let (c, script, clock) = secret_client();
    script.status(503, None);
    script.network_error();
    script.token("t1", "Bearer", 300);
    assert_eq!(block_on(c.get_token(&RequestOptions::default())).unwrap().access_token, "t1");
    assert_eq!(script.sent.borrow().len(), 3);
    let slept = clock.slept.borrow();
    assert_eq!(slept.len(), 2);
    assert!(slept[0] <= 200 && slept[1] <= 400, "{slept:?}");
    assert_eq!(c.token_requests(), 1, "one token, however many attempts");
}

#[test]
fn retries_are_bounded_and_the_last_failure_is_reported() {
    let (c, script, _) = secret_client();
    for _ in 0..3 {
        script.status(502, None);
    }
    script.token("never", "Bearer", 300);
    let e = block_on(c.get_token(&RequestOptions::default())).unwrap_err();
    assert_eq!((e.code, e.status), (ErrorCode::HttpError, Some(502)));
    assert_eq!(script.sent.borrow().len(), 3, "first attempt + 2 retries");
}

#[test]
fn too_many_requests_honours_retry_after_within_the_timeout() {
    let (c, script, clock) = secret_client();
    script.status(429, Some("3"));
    script.token("t1", "Bearer", 300);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    assert_eq!(*clock.slept.borrow(), [3_000]);
    let (c, script, clock) = client(json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c", "timeoutMs": 2000,
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"}
    }));
    script.status(429, Some("3"));
    let e = block_on(c.get_token(&RequestOptions::default())).unwrap_err();
    assert_eq!(e.status, Some(429));
    assert!(clock.slept.borrow().is_empty(), "a wait past timeoutMs is not started");
}

#[test]
fn client_errors_are_not_retried_and_retries_can_be_disabled() {
    let (c, script, _) = secret_client();
    script.reply(400, json!({"error": "invalid_scope"}), None);
    assert!(block_on(c.get_token(&RequestOptions::default())).is_err());
    assert_eq!(script.sent.borrow().len(), 1);
    let (c, script, _) = client(json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c", "retries": 0,
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"}
    }));
    script.status(503, None);
    assert!(block_on(c.get_token(&RequestOptions::default())).is_err());
    assert_eq!(script.sent.borrow().len(), 1);
}

#[test]
fn events_report_requests_hits_refreshes_and_retries_without_secrets() {
    let (c, script, clock) = dpop_client();
    script.reply(400, json!({"error": "use_dpop_nonce"}), Some("n1"));
    script.token("secret-token-1", "DPoP", 120);
    script.token("secret-token-2", "DPoP", 120);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    clock.now.set(clock.now.get() + 61_000);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    let events = clock.events.borrow();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["nonce_retry", "token_request", "cache_hit", "refresh"]);
    assert!(matches!(events[1], crate::event::Event::TokenRequest { attempts: 2, .. }));
    assert!(!format!("{events:?}").contains("secret-token"));
}

/// A shared store in memory: values, locks by owner, an operation log, and a switch to fail.
#[derive(Clone, Default)]
struct MemStore {
    values: Rc<RefCell<std::collections::HashMap<String, String>>>,
    locks: Rc<RefCell<std::collections::HashMap<String, String>>>,
    ops: Rc<RefCell<Vec<String>>>,
    without_locks: bool,
    failing: Rc<Cell<bool>>,
}

impl MemStore {
    async fn op(&self, op: &str) -> Result<()> {
        Latency(1).await; // store I/O yields, as real stores do
        self.ops.borrow_mut().push(op.to_owned());
        if self.failing.get() {
            return Err(TokenError::new(ErrorCode::Network, format!("store {op}: connection refused")));
        }
        Ok(())
    }
}

impl Store for MemStore {
    async fn naming_secret(&self) -> Result<[u8; 32]> {
        Ok([42; 32])
    }
    async fn get(&self, key: &str) -> Result<Option<String>> {
        self.op("get").await?;
        Ok(self.values.borrow().get(key).cloned())
    }
    async fn set(&self, key: &str, value: &str, ttl_secs: u64) -> Result<()> {
        self.op(&format!("set {ttl_secs}")).await?;
        self.values.borrow_mut().insert(key.to_owned(), value.to_owned());
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.op("delete").await?;
        self.values.borrow_mut().remove(key);
        Ok(())
    }
    async fn lock(&self, key: &str, owner: &str, _ttl_ms: u64) -> Result<Option<bool>> {
        if self.without_locks {
            return Ok(None);
        }
        self.op("lock").await?;
        let mut locks = self.locks.borrow_mut();
        if locks.contains_key(key) {
            return Ok(Some(false));
        }
        locks.insert(key.to_owned(), owner.to_owned());
        Ok(Some(true))
    }
    async fn unlock(&self, key: &str, owner: &str) -> Result<()> {
        self.op("unlock").await?;
        let mut locks = self.locks.borrow_mut();
        if locks.get(key).map(String::as_str) == Some(owner) {
            locks.remove(key);
        }
        Ok(())
    }
}

type StoreClient = TokenClient<Script, Clock, MemStore>;

/// An instance (its own cache, clock and randomness) on `store`; `seed` keeps lock owners apart.
fn instance(options: &Value, store: &MemStore, seed: u8) -> (StoreClient, Script, Clock) {
    let script = Script::default();
    let clock = Clock::default();
    clock.now.set(1_700_000_000_000);
    clock.counter.set(seed.wrapping_mul(100));
    let config = crate::config::parse(options).unwrap();
    let client = TokenClient::with_store(config, script.clone(), clock.clone(), Some(store.clone())).unwrap();
    (client, script, clock)
}

/// Instance A has put "t1" in `store`; returns instance B (nothing cached yet) and its script.
fn after_a_stored_t1(store: &MemStore) -> (StoreClient, Script) {
    let (a, script_a, _) = instance(&secret_options(), store, 1);
    script_a.token("t1", "Bearer", 3600);
    block_on(a.get_token(&RequestOptions::default())).unwrap();
    let (b, script_b, _) = instance(&secret_options(), store, 2);
    (b, script_b)
}

fn secret_options() -> Value {
    json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c",
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"}, "scope": "api"
    })
}

fn kinds(clock: &Clock) -> Vec<&'static str> {
    clock.events.borrow().iter().map(|e| e.kind()).collect()
}

#[test]
fn a_second_instance_takes_the_token_from_the_store() {
    let store = MemStore::default();
    let (a, script_a, _) = instance(&secret_options(), &store, 1);
    let (b, script_b, clock_b) = instance(&secret_options(), &store, 2);
    script_a.token("t1", "Bearer", 3600);
    let options = RequestOptions::default();
    assert_eq!(block_on(a.get_token(&options)).unwrap().access_token, "t1");
    let from_store = block_on(b.get_token(&options)).unwrap();
    assert_eq!(from_store.access_token, "t1");
    // B applies its own refresh policy to A's token.
    assert_eq!(from_store.refresh_at_ms, from_store.expires_at_ms - 60_000);
    assert_eq!((script_a.sent.borrow().len(), script_b.sent.borrow().len()), (1, 0));
    assert_eq!(kinds(&clock_b), ["store_hit"]);
    // Then B serves it from its own cache.
    block_on(b.get_token(&options)).unwrap();
    assert_eq!(kinds(&clock_b), ["store_hit", "cache_hit"]);
    // Stored under a hash, for as long as the token lives.
    let values = store.values.borrow();
    let (key, _) = values.iter().next().unwrap();
    assert!(key.starts_with("tokenfetch/v2/") && !key.contains("api"), "{key}");
    assert!(store.ops.borrow().contains(&"set 3600".to_owned()));
}

#[test]
fn concurrent_cold_instances_make_one_token_request_through_the_lock() {
    let store = MemStore::default();
    // The scripted authority answers after 100 polls; waiting instances' clocks run 400 ms a poll.
    let mut options = secret_options();
    options["timeoutMs"] = json!(120_000);
    let instances: Vec<_> = (1..=5).map(|i| instance(&options, &store, i)).collect();
    for (_, script, _) in &instances {
        script.token("t1", "Bearer", 3600);
    }
    let options = RequestOptions::default();
    let results = block_on(join_all(instances.iter().map(|(c, _, _)| c.get_token(&options))));
    assert!(results.iter().all(|r| r.as_ref().unwrap().access_token == "t1"));
    let requests: usize = instances.iter().map(|(_, s, _)| s.sent.borrow().len()).sum();
    assert_eq!(requests, 1);
    let waited: Vec<u64> = instances
        .iter()
        .flat_map(|(_, _, clock)| clock.events.borrow().clone())
        .filter_map(|e| match e {
            crate::event::Event::StoreHit { waited_ms, .. } => Some(waited_ms),
            _ => None,
        })
        .collect();
    assert_eq!(waited.len(), 4);
    assert!(waited.iter().all(|w| *w > 0), "{waited:?}");
    assert!(store.locks.borrow().is_empty(), "the holder lets go");
}

#[test]
fn a_lock_nobody_releases_delays_by_at_most_half_the_timeout() {
    let store = MemStore::default();
    let options = json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c", "timeoutMs": 2000,
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"}
    });
    let (b, script, clock) = instance(&options, &store, 2);
    // A holder that died: its lock stays (until its TTL, which this store never enforces).
    let key = block_on(b.inner.store_key(&b.target(&RequestOptions::default()).unwrap())).unwrap();
    store.locks.borrow_mut().insert(crate::store::lock_key(&key), "dead".into());
    script.token("t1", "Bearer", 3600);
    assert_eq!(block_on(b.get_token(&RequestOptions::default())).unwrap().access_token, "t1");
    let slept: u64 = clock.slept.borrow().iter().sum();
    assert_eq!(slept, 1000, "waited half the timeout, then asked itself");
    assert_eq!(script.sent.borrow().len(), 1);
    assert_eq!(store.locks.borrow().get(&crate::store::lock_key(&key)).map(String::as_str), Some("dead"));
}

#[test]
fn a_failing_store_is_reported_and_bypassed() {
    let store = MemStore::default();
    store.failing.set(true);
    let (a, script, clock) = instance(&secret_options(), &store, 1);
    script.token("t1", "Bearer", 3600);
    assert_eq!(block_on(a.get_token(&RequestOptions::default())).unwrap().access_token, "t1");
    let errors: Vec<_> = clock
        .events
        .borrow()
        .iter()
        .filter_map(|e| match e {
            crate::event::Event::StoreError { op, message, .. } => Some(format!("{op}: {message}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors,
        [
            "get: store get: connection refused",
            "lock: store lock: connection refused",
            "set: store set 3600: connection refused"
        ]
    );
    assert!(kinds(&clock).contains(&"token_request"));
}

#[test]
fn a_store_without_locks_still_shares_tokens() {
    let store = MemStore { without_locks: true, ..Default::default() };
    let (b, script_b) = after_a_stored_t1(&store);
    assert_eq!(block_on(b.get_token(&RequestOptions::default())).unwrap().access_token, "t1");
    assert_eq!(script_b.sent.borrow().len(), 0);
    assert!(!store.ops.borrow().iter().any(|op| op == "lock" || op == "unlock"));
}

#[test]
fn forcing_a_refresh_skips_the_stored_token() {
    let store = MemStore::default();
    let (b, script_b) = after_a_stored_t1(&store);
    script_b.token("t2", "Bearer", 3600);
    let forced = RequestOptions { force_refresh: true, ..Default::default() };
    assert_eq!(block_on(b.get_token(&forced)).unwrap().access_token, "t2");
    // The new token replaced the old one for everybody.
    let (c, _, _) = instance(&secret_options(), &store, 3);
    assert_eq!(block_on(c.get_token(&RequestOptions::default())).unwrap().access_token, "t2");
}

#[test]
fn stores_need_a_shared_dpop_key_and_key_tokens_by_its_thumbprint() {
    let generated = json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c",
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"}, "dpop": true
    });
    let config = crate::config::parse(&generated).unwrap();
    let e = TokenClient::with_store(config, Script::default(), Clock::default(), Some(MemStore::default()))
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    assert!(e.message.starts_with("dpop: "), "{}", e.message);
    assert!(e.message.contains("shared by every instance"), "{}", e.message);

    let store = MemStore::default();
    let shared = json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c",
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"},
        "dpop": {"privateJwk": rfc7515_jwk()}
    });
    let (a, script_a, _) = instance(&shared, &store, 1);
    let (b, script_b, _) = instance(&shared, &store, 2);
    script_a.token("d1", "DPoP", 3600);
    block_on(a.get_token(&RequestOptions::default())).unwrap();
    let token = block_on(b.get_token(&RequestOptions::default())).unwrap();
    assert_eq!((token.access_token.as_str(), token.token_type), ("d1", TokenType::DPoP));
    assert_eq!(script_b.sent.borrow().len(), 0);
    // A Bearer client of the same authority never sees the DPoP-bound token.
    let (bearer, script_c, _) = instance(&secret_options(), &store, 3);
    script_c.token("b1", "Bearer", 3600);
    assert_eq!(block_on(bearer.get_token(&RequestOptions::default())).unwrap().access_token, "b1");
}

#[test]
fn stale_if_error_serves_an_unexpired_token_when_a_refresh_fails() {
    let options = |stale: u64| {
        json!({
            "tokenEndpoint": "https://as.example/token", "clientId": "c", "retries": 0,
            "clientAuth": {"method": "client_secret_post", "clientSecret": "s"},
            "staleIfErrorSeconds": stale
        })
    };
    let (c, script, clock) = client(options(30));
    script.token("t1", "Bearer", 300);
    script.status(503, None);
    script.status(503, None);
    script.status(503, None);
    let req = RequestOptions::default();
    block_on(c.get_token(&req)).unwrap();
    // Refresh is due at 240 s; within the 30 s window the old token is served...
    clock.now.set(clock.now.get() + 260_000);
    assert_eq!(block_on(c.get_token(&req)).unwrap().access_token, "t1");
    match clock.events.borrow().last().unwrap() {
        crate::event::Event::StaleIfError { error, expires_in_ms, .. } => {
            assert_eq!((*error, *expires_in_ms), ("http_error", 40_000));
        }
        e => panic!("{e:?}"),
    }
    // ...past it, the failure is the answer.
    clock.now.set(clock.now.get() + 15_000);
    assert_eq!(block_on(c.get_token(&req)).unwrap_err().code, ErrorCode::HttpError);
    // Off by default.
    let (c, script, clock) = client(options(0));
    script.token("t1", "Bearer", 300);
    script.status(503, None);
    block_on(c.get_token(&req)).unwrap();
    clock.now.set(clock.now.get() + 260_000);
    assert!(block_on(c.get_token(&req)).is_err());
}

#[test]
fn a_token_an_api_rejected_is_not_taken_from_the_store_again() {
    let store = MemStore::default();
    let (b, script_b) = after_a_stored_t1(&store);
    script_b.token("t2", "Bearer", 3600);
    let www = Some(r#"Bearer error="invalid_token""#);
    let mut api = Api { replies: VecDeque::from([(401, www, None), (200, None, None)]), seen: vec![] };
    assert_eq!(block_on(b.fetch(&mut api, &RequestOptions::default())).unwrap().0, 200);
    let auth: Vec<&str> = api.seen.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(auth, ["Bearer t1", "Bearer t2"], "t1 came from the store, t2 from the authority");
    // The fresh token replaced the rejected one in the store.
    let (c, _, _) = instance(&secret_options(), &store, 3);
    assert_eq!(block_on(c.get_token(&RequestOptions::default())).unwrap().access_token, "t2");
}

/// What [`TokenClient::after`] says of `response` to a `POST` of `url` sent as `authorization`.
fn after(
    c: &TokenClient<Script, Clock>,
    url: &str,
    authorization: &str,
    response: ApiResponse<'_>,
    budget: &mut RetryBudget,
) -> AfterResponse {
    let sent = SentRequest { method: "POST", url, authorization, replayable: true };
    block_on(c.after(&sent, &response, budget, &RequestOptions::default())).unwrap()
}

fn status(status: u16, www: Option<&'static str>, nonce: Option<&'static str>) -> ApiResponse<'static> {
    ApiResponse { status, www_authenticate: www, dpop_nonce: nonce, ..ApiResponse::default() }
}

#[test]
fn cached_headers_come_without_a_future_and_a_401_gets_one_new_token() {
    let (c, script, clock) = secret_client();
    script.token("t1", "Bearer", 300);
    script.token("t2", "Bearer", 300);
    let (url, none) = ("https://api.example/r?x=1", RequestOptions::default());
    assert_eq!(c.headers_now("POST", url, &none).unwrap(), None, "nothing cached yet");
    block_on(c.get_token(&none)).unwrap();
    let sent = c.headers_now("POST", url, &none).unwrap().unwrap();
    assert_eq!((sent.authorization.as_str(), sent.dpop.as_deref()), ("Bearer t1", None));
    assert_eq!(kinds(&clock).last(), Some(&"cache_hit"));
    let www = Some(r#"Bearer error="invalid_token""#);
    // The first caller's 401: a new token, one retry.
    let mut budget = RetryBudget::default();
    let next = after(&c, url, &sent.authorization, status(401, www, None), &mut budget);
    assert!(matches!(&next, AfterResponse::Send(h) if h.authorization == "Bearer t2"), "{next:?}");
    // ...and only one: a second 401 on that call is the answer.
    assert_eq!(after(&c, url, "Bearer t2", status(401, www, None), &mut budget), AfterResponse::Done);
    // Another caller's 401 for the same old token: t2 stays, no new request.
    let next = after(&c, url, &sent.authorization, status(401, www, None), &mut RetryBudget::default());
    assert!(matches!(&next, AfterResponse::Send(h) if h.authorization == "Bearer t2"), "{next:?}");
    assert_eq!(script.sent.borrow().len(), 2);
    // Anything but invalid_token is the answer as it is.
    assert_eq!(
        after(&c, url, "Bearer t2", status(401, None, None), &mut RetryBudget::default()),
        AfterResponse::Done
    );
    assert_eq!(
        after(&c, url, "Bearer t2", status(200, None, None), &mut RetryBudget::default()),
        AfterResponse::Done
    );
    // A URL the token may not go to is refused, cached token or not.
    let e = c.headers_now("GET", "http://api.example/x", &none).unwrap_err();
    assert_eq!(e.code, ErrorCode::UrlNotAllowed);
}

#[test]
fn dpop_headers_sign_now_and_a_nonce_challenge_is_answered_with_the_token_sent() {
    let (d, script, clock) = dpop_client();
    script.token("d1", "DPoP", 300);
    let none = RequestOptions::default();
    block_on(d.get_token(&none)).unwrap();
    let url = "https://api.example/r?x=1";
    let sent = d.headers_now("POST", url, &none).unwrap().unwrap();
    assert_eq!(sent.authorization, "DPoP d1");
    let proof = claims(sent.dpop.as_deref().unwrap());
    assert_eq!((proof["htm"].as_str(), proof["htu"].as_str()), (Some("POST"), Some("https://api.example/r")));
    assert_eq!(proof["ath"], crate::dpop::ath("d1"));
    assert!(proof.get("nonce").is_none());
    assert_eq!(kinds(&clock).last(), Some(&"cache_hit"));
    // The API asks for a nonce: remembered, one retry with a proof that carries it.
    let www = Some(r#"DPoP error="use_dpop_nonce""#);
    let mut budget = RetryBudget::default();
    let AfterResponse::Send(retry) =
        after(&d, url, &sent.authorization, status(401, www, Some("n-1")), &mut budget)
    else {
        panic!("a nonce retry");
    };
    assert_eq!(retry.authorization, "DPoP d1");
    assert_eq!(claims(retry.dpop.as_deref().unwrap())["nonce"], "n-1");
    assert_eq!(kinds(&clock).last(), Some(&"nonce_retry"), "the retry is no cache hit");
    assert_eq!(after(&d, url, "DPoP d1", status(401, www, Some("n-2")), &mut budget), AfterResponse::Done);
    // The next proof carries the remembered nonce (n-2, from the last answer).
    let next = d.headers_now("GET", url, &none).unwrap().unwrap();
    assert_eq!(claims(next.dpop.as_deref().unwrap())["nonce"], "n-2");
    // A nonce on a 200 is remembered too, and the response is the caller's.
    assert_eq!(
        after(&d, url, "DPoP d1", status(200, None, Some("n-3")), &mut RetryBudget::default()),
        AfterResponse::Done
    );
    assert_eq!(d.nonces(), [("https://api.example".to_owned(), "n-3".to_owned())]);
    assert_eq!(script.sent.borrow().len(), 1);
}

#[test]
fn a_redirect_is_followed_within_the_origin_with_headers_for_the_new_url() {
    let (d, script, _) = dpop_client();
    script.token("d1", "DPoP", 300);
    let none = RequestOptions::default();
    block_on(d.get_token(&none)).unwrap();
    let url = "https://api.example/a";
    let moved = |location| ApiResponse { status: 303, location: Some(location), ..ApiResponse::default() };
    let next = after(&d, url, "DPoP d1", moved("https://api.example/b"), &mut RetryBudget::default());
    let AfterResponse::Follow { url: to, as_get, headers } = next else { panic!("{next:?}") };
    assert_eq!((to.as_str(), as_get), ("https://api.example/b", true));
    let proof = claims(headers.dpop.as_deref().unwrap());
    assert_eq!((proof["htm"].as_str(), proof["htu"].as_str()), (Some("GET"), Some("https://api.example/b")));
    let away = after(&d, url, "DPoP d1", moved("https://other.example/b"), &mut RetryBudget::default());
    assert_eq!(away, AfterResponse::Done, "another origin: the redirect is the caller's");
}

fn tenant(org: &str) -> RequestOptions {
    crate::config::parse_request(&json!({
        "claims": {"assertion_details": [{"type": "helseid_authorization", "org": org}]},
        "extraParams": {"tenant": org}
    }))
    .unwrap()
}

#[test]
fn per_call_tenants_get_their_own_tokens_with_their_claims_and_params() {
    let (c, script, _) = dpop_client();
    script.token("t-a", "DPoP", 300);
    script.token("t-b", "DPoP", 300);
    let (a, b) = (tenant("111111111"), tenant("222222222"));
    let results = block_on(join_all([c.get_token(&a), c.get_token(&b), c.get_token(&a)]));
    let tokens: Vec<String> = results.into_iter().map(|t| t.unwrap().access_token).collect();
    assert_eq!(tokens, ["t-a", "t-b", "t-a"], "one request per tenant, shared by its callers");
    assert_eq!(script.sent.borrow().len(), 2);
    for (i, org) in [(0, "111111111"), (1, "222222222")] {
        let assertion = claims(&script.form(i, "client_assertion").unwrap());
        assert_eq!(assertion["assertion_details"][0]["org"], org);
        assert_eq!(assertion["iss"], "c", "registered claims stay");
        assert_eq!(script.form(i, "tenant").as_deref(), Some(org));
    }
    // Cached per tenant from then on.
    assert_eq!(block_on(c.get_token(&b)).unwrap().access_token, "t-b");
    assert_eq!(script.sent.borrow().len(), 2);
}

#[test]
fn tenants_sharing_a_client_id_and_a_store_never_share_a_token() {
    let store = MemStore::default();
    let with_claims = |org: &str| {
        json!({
            "tokenEndpoint": "https://as.example/token", "issuer": "https://as.example", "clientId": "c",
            "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk(), "claims": {"org": org}},
        })
    };
    let (a, script_a, _) = instance(&with_claims("1"), &store, 1);
    let (b, script_b, _) = instance(&with_claims("2"), &store, 2);
    script_a.token("t-a", "Bearer", 3600);
    script_b.token("t-b", "Bearer", 3600);
    assert_eq!(block_on(a.get_token(&RequestOptions::default())).unwrap().access_token, "t-a");
    assert_eq!(block_on(b.get_token(&RequestOptions::default())).unwrap().access_token, "t-b");
    assert_eq!(script_b.sent.borrow().len(), 1, "tenant B asked for its own token");
    // A third instance of tenant A takes A's token from the store; per-call tenants key alike.
    let (a2, script_a2, _) = instance(&with_claims("1"), &store, 3);
    assert_eq!(block_on(a2.get_token(&RequestOptions::default())).unwrap().access_token, "t-a");
    assert_eq!(script_a2.sent.borrow().len(), 0);
    // The same clients with other extra parameters: another token again.
    let (p, script_p, _) = instance(&with_claims("1"), &store, 4);
    script_p.token("t-p", "Bearer", 3600);
    let other = crate::config::parse_request(&json!({"extraParams": {"tenant": "x"}})).unwrap();
    assert_eq!(block_on(p.get_token(&other)).unwrap().access_token, "t-p");
    assert_eq!(store.values.borrow().len(), 3);
}

#[test]
fn stale_if_error_never_covers_a_refusal() {
    let (c, script, clock) = client(json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c", "retries": 0,
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"}, "staleIfErrorSeconds": 60
    }));
    script.token("t1", "Bearer", 300);
    script.reply(401, json!({"error": "invalid_client"}), None);
    script.reply(400, json!({"error": "invalid_grant"}), None);
    script.reply(429, json!({"error": "slow_down"}), None);
    let req = RequestOptions::default();
    block_on(c.get_token(&req)).unwrap();
    clock.now.set(clock.now.get() + 250_000);
    let e = block_on(c.get_token(&req)).unwrap_err();
    assert_eq!(e.error.as_deref(), Some("invalid_client"), "a revoked client is told so");
    let e = block_on(c.get_token(&req)).unwrap_err();
    assert_eq!(e.error.as_deref(), Some("invalid_grant"));
    assert_eq!(block_on(c.get_token(&req)).unwrap().access_token, "t1", "429 is transient");
}

/// An API call at `url` that the engine may redirect; replies carry a `Location`.
struct Routed {
    url: String,
    method: &'static str,
    replies: VecDeque<(u16, Option<&'static str>)>,
    /// (url, authorization, proof) of each attempt.
    seen: Vec<(String, String, Option<String>)>,
}

impl Routed {
    fn new(url: &str, replies: &[(u16, Option<&'static str>)]) -> Self {
        Routed {
            url: url.to_owned(),
            method: "GET",
            replies: replies.iter().copied().collect(),
            seen: vec![],
        }
    }
}

impl ApiCall for Routed {
    type Response = (u16, Option<&'static str>);
    type Error = TokenError;
    fn method(&self) -> &str {
        self.method
    }
    fn url(&self) -> &str {
        &self.url
    }
    fn replayable(&self) -> bool {
        true
    }
    async fn send(&mut self, headers: &ApiHeaders) -> Result<Self::Response> {
        self.seen.push((self.url.clone(), headers.authorization.clone(), headers.dpop.clone()));
        Ok(self.replies.pop_front().unwrap_or((200, None)))
    }
    fn status(&self, r: &Self::Response) -> u16 {
        r.0
    }
    fn header(&self, _: &Self::Response, _: &str) -> Option<String> {
        None
    }
    fn redirect_location(&self, r: &Self::Response) -> Option<String> {
        r.1.map(str::to_owned)
    }
    fn redirect(&mut self, url: &str, as_get: bool) -> Result<bool> {
        self.url = url.to_owned();
        if as_get {
            self.method = "GET";
        }
        Ok(true)
    }
}

#[test]
fn a_token_goes_over_https_or_to_loopback_and_only_to_allowed_origins() {
    let (c, script, _) = secret_client();
    script.token("t1", "Bearer", 300);
    for refused in ["http://api.example/x", "http://127.attacker.example/x", "ftp://api.example/x"] {
        let e = block_on(c.fetch(&mut Routed::new(refused, &[]), &RequestOptions::default())).unwrap_err();
        assert_eq!(e.code, ErrorCode::UrlNotAllowed, "{refused}");
    }
    assert_eq!(script.sent.borrow().len(), 0, "refused before a token was even requested");
    for allowed in ["https://anywhere.example/x", "http://127.0.0.1:8080/x", "http://localhost:1/x"] {
        let mut call = Routed::new(allowed, &[]);
        assert_eq!(block_on(c.fetch(&mut call, &RequestOptions::default())).unwrap().0, 200, "{allowed}");
    }
    let (c, script, _) = client(json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c",
        "clientAuth": {"method": "client_secret_post", "clientSecret": "s"},
        "baseUrl": "https://api.example/v1/", "allowedOrigins": ["https://api2.example"]
    }));
    script.token("t1", "Bearer", 300);
    let fetch = |url: &str| block_on(c.fetch(&mut Routed::new(url, &[]), &RequestOptions::default()));
    assert_eq!(fetch("https://api.example/other").unwrap().0, 200);
    assert_eq!(fetch("https://api2.example/x").unwrap().0, 200);
    for refused in ["https://evil.example/x", "https://api.example:8443/x", "http://api.example/x"] {
        let e = fetch(refused).unwrap_err();
        assert_eq!(e.code, ErrorCode::UrlNotAllowed, "{refused}");
        assert!(e.message.contains("allowedOrigins") || e.message.contains("https"), "{}", e.message);
    }
    // The headers of a cached token too: refused before anything is sent.
    let none = RequestOptions::default();
    assert!(c.headers_now("GET", "https://api.example/x", &none).unwrap().is_some());
    assert_eq!(
        c.headers_now("GET", "https://evil.example/x", &none).unwrap_err().code,
        ErrorCode::UrlNotAllowed
    );
}

#[test]
fn redirects_are_followed_within_the_origin_with_fresh_proofs_never_beyond() {
    let (c, script, _) = dpop_client();
    script.token("t1", "DPoP", 300);
    let mut call =
        Routed::new("https://api.example/a", &[(302, Some("https://api.example/b?q=1")), (200, None)]);
    assert_eq!(block_on(c.fetch(&mut call, &RequestOptions::default())).unwrap().0, 200);
    let htu: Vec<Value> =
        call.seen.iter().map(|(_, _, p)| claims(p.as_ref().unwrap())["htu"].clone()).collect();
    assert_eq!(htu, [json!("https://api.example/a"), json!("https://api.example/b")]);
    // To another origin (or down to http): the redirect comes back; nothing was sent there.
    for elsewhere in ["https://evil.example/b", "http://api.example/b"] {
        let leaked: &'static str = Box::leak(elsewhere.to_owned().into_boxed_str());
        let mut call = Routed::new("https://api.example/a", &[(307, Some(leaked))]);
        assert_eq!(block_on(c.fetch(&mut call, &RequestOptions::default())).unwrap().0, 307);
        assert_eq!(call.seen.len(), 1, "{elsewhere}");
    }
    // A loop ends at fetch's limit and hands the last redirect back.
    let replies = vec![(302, Some("https://api.example/a")); 30];
    let mut call = Routed::new("https://api.example/a", &replies);
    assert_eq!(block_on(c.fetch(&mut call, &RequestOptions::default())).unwrap().0, 302);
    assert_eq!(call.seen.len(), 21);
}

#[test]
fn a_token_response_got_through_a_followed_redirect_is_refused() {
    let (c, script, _) = secret_client();
    script.token("t1", "Bearer", 300);
    if let Some(Ok(response)) = script.replies.borrow_mut().front_mut() {
        response.redirected = true;
    }
    let e = block_on(c.get_token(&RequestOptions::default())).unwrap_err();
    assert_eq!(e.code, ErrorCode::Redirect);
    assert!(c.cached_tokens().is_empty());
}

#[test]
fn proofs_sign_the_method_fetch_sends() {
    let (c, _, _) = dpop_client();
    let htm = |method: &str| {
        let proof = block_on(c.create_dpop_proof(method, "https://api.example/a", None, None)).unwrap();
        claims(&proof)["htm"].clone()
    };
    assert_eq!(htm("get"), "GET");
    assert_eq!(htm("Post"), "POST");
    assert_eq!(htm("patch"), "patch", "fetch upper-cases only the six standard methods");
}

#[test]
fn configured_urls_are_normalized_for_requests_proofs_and_nonces() {
    let (c, script, _) = client(json!({
        "tokenEndpoint": "https://AS.example:443/token", "issuer": "https://AS.example", "clientId": "c",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk()}, "dpop": true
    }));
    script.reply(400, json!({"error": "use_dpop_nonce"}), Some("n1"));
    script.token("t1", "DPoP", 300);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    assert_eq!(script.sent.borrow()[0].url, "https://as.example/token");
    let proof = claims(&script.header(1, "dpop").unwrap());
    assert_eq!(
        (proof["htu"].as_str(), proof["nonce"].as_str()),
        (Some("https://as.example/token"), Some("n1"))
    );
    assert_eq!(c.nonces(), [("https://as.example".to_owned(), "n1".to_owned())]);
    // The assertion audience is the issuer, an identifier: exactly as configured.
    assert_eq!(claims(&script.form(1, "client_assertion").unwrap())["aud"], "https://AS.example");
}

mod skew;
mod token_types;
