//! Clock skew: what the engine learns from servers' `Date` headers, where it puts the corrected
//! time, and the one retry a refusal gets when the `Date` shows our clock was off.

use super::*;
use crate::event::Event;

/// The test clock's `now` (1_700_000_000_000 ms) and HTTP-dates around it.
const NOW_SECS: u64 = 1_700_000_000;
const DATE_NOW: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
const DATE_5_MIN_AHEAD: &str = "Tue, 14 Nov 2023 22:18:20 GMT";
const DATE_2_MIN_BEHIND: &str = "Tue, 14 Nov 2023 22:11:20 GMT";
const DATE_3_HOURS_AHEAD: &str = "Wed, 15 Nov 2023 01:13:20 GMT";

/// A `Date` names a whole second: the server's time is taken as its middle.
const AHEAD_MS: i64 = 300_500;
const BEHIND_MS: i64 = -119_500;

fn dated(script: &Script, status: u16, body: Value, date: Option<&str>, nonce: Option<&str>) {
    script.replies.borrow_mut().push_back(Ok(HttpResponse {
        status,
        content_type: Some("application/json".into()),
        dpop_nonce: nonce.map(str::to_owned),
        date: date.map(str::to_owned),
        body: body.to_string().into_bytes(),
        ..HttpResponse::default()
    }));
}

fn refused(script: &Script, error: &str, date: Option<&str>) {
    let status = if error == "invalid_client" { 401 } else { 400 };
    dated(script, status, json!({"error": error}), date, None);
}

fn assertion_client() -> (TokenClient<Script, Clock>, Script, Clock) {
    client(json!({
        "tokenEndpoint": "https://as.example/token", "issuer": "https://as.example", "clientId": "c",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk()}
    }))
}

fn skew_events(clock: &Clock) -> Vec<(String, i64)> {
    let events = clock.events.borrow();
    let skew = events.iter().filter_map(|e| match e {
        Event::ClockSkew { origin, offset_ms } => Some((origin.clone(), *offset_ms)),
        _ => None,
    });
    skew.collect()
}

#[test]
fn an_assertion_refused_when_the_clock_was_off_is_retried_once_with_the_endpoints_time() {
    let (c, script, clock) = assertion_client();
    refused(&script, "invalid_client", Some(DATE_5_MIN_AHEAD));
    script.token("t1", "Bearer", 300);
    let token = block_on(c.get_token(&RequestOptions::default())).unwrap();
    assert_eq!(script.sent.borrow().len(), 2);
    let first = claims(&script.form(0, "client_assertion").unwrap());
    let second = claims(&script.form(1, "client_assertion").unwrap());
    assert_eq!(first["iat"], NOW_SECS);
    let corrected = (1_700_000_000_000 + AHEAD_MS as u64) / 1000;
    assert_eq!((&second["iat"], &second["nbf"]), (&corrected.into(), &corrected.into()));
    let lifetime = first["exp"].as_u64().unwrap() - NOW_SECS;
    assert_eq!(second["exp"], corrected + lifetime, "exp follows the endpoint's clock too");
    assert_ne!(first["jti"], second["jti"]);
    assert_eq!(skew_events(&clock), [("https://as.example".to_owned(), AHEAD_MS)]);
    assert_eq!(c.clock_skew().entries().collect::<Vec<_>>(), [("https://as.example", AHEAD_MS)]);
    // The cache stays on this host's clock.
    assert_eq!(token.expires_at_ms, 1_700_000_000_000 + 300_000);
    let request = clock.events.borrow().iter().find(|e| e.kind() == "token_request").cloned();
    assert!(matches!(request, Some(Event::TokenRequest { attempts: 2, .. })), "{request:?}");
}

#[test]
fn a_grant_assertion_and_a_dpop_proof_are_corrected_the_same_way() {
    let (c, script, _) = client(json!({
        "tokenEndpoint": "https://as.example/token", "issuer": "https://as.example/", "clientId": "mp",
        "grant": "jwt_bearer", "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk()},
        "scope": "s", "dpop": true
    }));
    refused(&script, "invalid_grant", Some(DATE_2_MIN_BEHIND));
    script.token("t1", "DPoP", 300);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    let corrected = (1_700_000_000_000 - BEHIND_MS.unsigned_abs()) / 1000;
    assert_eq!(claims(&script.form(0, "assertion").unwrap())["iat"], NOW_SECS);
    assert_eq!(claims(&script.form(1, "assertion").unwrap())["iat"], corrected);
    assert_eq!(claims(&script.header(0, "dpop").unwrap())["iat"], NOW_SECS);
    assert_eq!(claims(&script.header(1, "dpop").unwrap())["iat"], corrected);
}

#[test]
fn a_second_refusal_is_the_answer() {
    for error in ["invalid_client", "invalid_grant", "invalid_dpop_proof"] {
        let (c, script, _) = assertion_client();
        refused(&script, error, Some(DATE_5_MIN_AHEAD));
        refused(&script, error, Some(DATE_5_MIN_AHEAD));
        script.token("never", "Bearer", 300);
        let e = block_on(c.get_token(&RequestOptions::default())).unwrap_err();
        assert_eq!(e.error.as_deref(), Some(error));
        assert_eq!(script.sent.borrow().len(), 2, "{error}: retried once, never more");
    }
}

#[test]
fn a_refusal_with_a_right_clock_or_another_error_is_the_answer() {
    let cases = [
        ("invalid_client", Some(DATE_NOW)),
        ("invalid_client", Some("Tue, 14 Nov 2023 22:13:24 GMT")), // 4.5 s: within the threshold
        ("invalid_client", None),
        ("invalid_scope", Some(DATE_5_MIN_AHEAD)),
        ("unauthorized_client", Some(DATE_5_MIN_AHEAD)),
    ];
    for (error, date) in cases {
        let (c, script, _) = assertion_client();
        refused(&script, error, date);
        script.token("never", "Bearer", 300);
        let e = block_on(c.get_token(&RequestOptions::default())).unwrap_err();
        assert_eq!((e.error.as_deref(), script.sent.borrow().len()), (Some(error), 1), "{date:?}");
    }
    // Once corrected, a refusal at the endpoint's time is the answer too.
    let (c, script, _) = assertion_client();
    refused(&script, "invalid_client", Some(DATE_5_MIN_AHEAD));
    script.token("t1", "Bearer", 300);
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    refused(&script, "invalid_client", Some(DATE_5_MIN_AHEAD));
    script.token("never", "Bearer", 300);
    let forced = RequestOptions { force_refresh: true, ..RequestOptions::default() };
    assert!(block_on(c.get_token(&forced)).is_err());
    assert_eq!(script.sent.borrow().len(), 3);
}

#[test]
fn an_absurd_or_unparseable_date_is_ignored_not_trusted() {
    for date in [DATE_3_HOURS_AHEAD, "soon", "1700000300", ""] {
        let (c, script, clock) = assertion_client();
        refused(&script, "invalid_client", Some(date));
        script.token("never", "Bearer", 300);
        assert!(block_on(c.get_token(&RequestOptions::default())).is_err());
        assert_eq!(script.sent.borrow().len(), 1, "{date}");
        assert!(skew_events(&clock).is_empty() && c.clock_skew().entries().next().is_none(), "{date}");
    }
}

#[test]
fn a_request_without_a_jwt_learns_nothing_and_is_never_retried_for_time() {
    let (c, script, clock) = secret_client();
    refused(&script, "invalid_client", Some(DATE_5_MIN_AHEAD));
    script.token("never", "Bearer", 300);
    assert!(block_on(c.get_token(&RequestOptions::default())).is_err());
    assert_eq!(script.sent.borrow().len(), 1);
    assert!(skew_events(&clock).is_empty() && c.clock_skew().entries().next().is_none());
}

#[test]
fn a_nonce_challenge_with_a_skewed_date_is_answered_once_with_nonce_and_time() {
    let (c, script, clock) = dpop_client();
    let challenge = json!({"error": "use_dpop_nonce"});
    dated(&script, 400, challenge, Some(DATE_5_MIN_AHEAD), Some("n1"));
    dated(
        &script,
        200,
        json!({"access_token": "d1", "token_type": "DPoP", "expires_in": 300}),
        Some(DATE_5_MIN_AHEAD),
        None,
    );
    block_on(c.get_token(&RequestOptions::default())).unwrap();
    assert_eq!(script.sent.borrow().len(), 2);
    let proof = claims(&script.header(1, "dpop").unwrap());
    let corrected = (1_700_000_000_000 + AHEAD_MS as u64) / 1000;
    assert_eq!((&proof["iat"], &proof["nonce"]), (&corrected.into(), &"n1".into()));
    assert_eq!(claims(&script.form(1, "client_assertion").unwrap())["iat"], corrected);
    assert_eq!(skew_events(&clock).len(), 1, "reported when learned, not again for the same skew");
}

#[test]
fn a_learned_offset_is_used_for_its_origin_only_and_forgotten_when_the_clocks_agree() {
    let (c, script, clock) = dpop_client();
    dated(
        &script,
        200,
        json!({"access_token": "d1", "token_type": "DPoP", "expires_in": 300}),
        Some(DATE_5_MIN_AHEAD),
        None,
    );
    let none = RequestOptions::default();
    block_on(c.get_token(&none)).unwrap();
    let corrected = (1_700_000_000_000 + AHEAD_MS as u64) / 1000;
    let for_endpoint = block_on(c.create_dpop_proof("POST", "https://as.example/token", None, None)).unwrap();
    assert_eq!(claims(&for_endpoint)["iat"], corrected, "learned from a success too");
    let api = c.headers_now("GET", "https://api.example/r", &none).unwrap().unwrap();
    assert_eq!(claims(api.dpop.as_deref().unwrap())["iat"], NOW_SECS, "another origin: our clock");
    // The endpoint's clock was fixed: the offset goes, and that is reported.
    dated(
        &script,
        200,
        json!({"access_token": "d2", "token_type": "DPoP", "expires_in": 300}),
        Some(DATE_NOW),
        None,
    );
    let forced = RequestOptions { force_refresh: true, ..RequestOptions::default() };
    block_on(c.get_token(&forced)).unwrap();
    assert!(c.clock_skew().entries().next().is_none());
    let origin = "https://as.example".to_owned();
    assert_eq!(skew_events(&clock), [(origin.clone(), AHEAD_MS), (origin, 0)]);
}

/// What [`TokenClient::after`] says of a 401 `invalid_dpop_proof` with `date` to a GET sent with
/// `headers`.
fn after_refusal(
    c: &TokenClient<Script, Clock>,
    headers: &ApiHeaders,
    date: Option<&str>,
    budget: &mut RetryBudget,
) -> AfterResponse {
    let url = "https://api.example/r";
    let sent = SentRequest { method: "GET", url, authorization: &headers.authorization, replayable: true };
    let response = ApiResponse {
        status: 401,
        www_authenticate: Some(r#"DPoP error="invalid_dpop_proof", error_description="iat""#),
        date,
        ..ApiResponse::default()
    };
    block_on(c.after(&sent, &response, budget, &RequestOptions::default())).unwrap()
}

#[test]
fn an_api_refusing_a_proof_for_its_time_gets_one_retry_with_its_time() {
    let (c, script, clock) = dpop_client();
    script.token("d1", "DPoP", 300);
    let none = RequestOptions::default();
    block_on(c.get_token(&none)).unwrap();
    let first = c.headers_now("GET", "https://api.example/r", &none).unwrap().unwrap();
    let other_caller = c.headers_now("GET", "https://api.example/r", &none).unwrap().unwrap();
    assert_eq!(claims(first.dpop.as_deref().unwrap())["iat"], NOW_SECS);
    let mut budget = RetryBudget::default();
    let AfterResponse::Send(retry) = after_refusal(&c, &first, Some(DATE_2_MIN_BEHIND), &mut budget) else {
        panic!("a retry with the API's time");
    };
    let corrected = (1_700_000_000_000 - BEHIND_MS.unsigned_abs()) / 1000;
    let proof = claims(retry.dpop.as_deref().unwrap());
    assert_eq!((proof["iat"].as_u64(), retry.authorization.as_str()), (Some(corrected), "DPoP d1"));
    assert_eq!(c.clock_skew().entries().collect::<Vec<_>>(), [("https://api.example", BEHIND_MS)]);
    assert_eq!(kinds(&clock).last(), Some(&"clock_skew"), "no nonce_retry event");
    // Refused again with the API's own time: the answer.
    assert_eq!(after_refusal(&c, &retry, Some(DATE_2_MIN_BEHIND), &mut budget), AfterResponse::Done);
    // A call in flight meanwhile, whose proof was made before the offset was learned, gets its
    // retry too: while this host's clock is off from the API's, every call may retry once.
    let next = after_refusal(&c, &other_caller, Some(DATE_2_MIN_BEHIND), &mut RetryBudget::default());
    assert!(
        matches!(&next, AfterResponse::Send(h) if claims(h.dpop.as_deref().unwrap())["iat"] == corrected)
    );
    let now = c.headers_now("GET", "https://api.example/r", &none).unwrap().unwrap();
    assert_eq!(claims(now.dpop.as_deref().unwrap())["iat"], corrected, "proofs have the API's time now");
    // The API's clock was fixed: the corrected proof was off, our own clock is right: one retry,
    // at our time.
    let mut fixed = RetryBudget::default();
    let AfterResponse::Send(again) = after_refusal(&c, &now, Some(DATE_NOW), &mut fixed) else {
        panic!("a retry at the fixed clock's time");
    };
    assert_eq!(claims(again.dpop.as_deref().unwrap())["iat"], NOW_SECS);
    assert_eq!(after_refusal(&c, &again, Some(DATE_NOW), &mut fixed), AfterResponse::Done);
    assert!(c.clock_skew().entries().next().is_none());
    // A right clock, an absurd Date, none: the answer.
    let (c, script, _) = dpop_client();
    script.token("d1", "DPoP", 300);
    block_on(c.get_token(&none)).unwrap();
    for date in [Some(DATE_NOW), Some(DATE_3_HOURS_AHEAD), Some("soon"), None] {
        let sent = c.headers_now("GET", "https://api.example/r", &none).unwrap().unwrap();
        let next = after_refusal(&c, &sent, date, &mut RetryBudget::default());
        assert_eq!(next, AfterResponse::Done, "{date:?}");
    }
    assert!(c.clock_skew().entries().next().is_none());
}

#[test]
fn a_bearer_client_learns_nothing_from_apis() {
    let (c, script, _) = secret_client();
    script.token("t1", "Bearer", 300);
    let none = RequestOptions::default();
    block_on(c.get_token(&none)).unwrap();
    let sent = c.headers_now("GET", "https://api.example/r", &none).unwrap().unwrap();
    assert_eq!(
        after_refusal(&c, &sent, Some(DATE_5_MIN_AHEAD), &mut RetryBudget::default()),
        AfterResponse::Done
    );
    assert!(c.clock_skew().entries().next().is_none());
}

/// An API call over [`ApiCall`] whose responses carry a `Date`.
struct DatedApi {
    replies: VecDeque<(u16, &'static str)>,
    proofs: Vec<Value>,
}

impl ApiCall for DatedApi {
    type Response = (u16, &'static str);
    type Error = TokenError;
    fn method(&self) -> &str {
        "GET"
    }
    fn url(&self) -> &str {
        "https://api.example/r"
    }
    fn replayable(&self) -> bool {
        true
    }
    async fn send(&mut self, headers: &ApiHeaders) -> Result<Self::Response> {
        self.proofs.push(claims(headers.dpop.as_deref().unwrap()));
        Ok(self.replies.pop_front().unwrap_or((200, DATE_5_MIN_AHEAD)))
    }
    fn status(&self, r: &Self::Response) -> u16 {
        r.0
    }
    fn header(&self, r: &Self::Response, name: &str) -> Option<String> {
        match name {
            "www-authenticate" if r.0 == 401 => Some(r#"DPoP error="invalid_dpop_proof""#.to_owned()),
            "date" => Some(r.1.to_owned()),
            _ => None,
        }
    }
}

#[test]
fn a_rust_hosts_fetch_reads_the_date_and_retries_once() {
    let (c, script, _) = dpop_client();
    script.token("d1", "DPoP", 300);
    let replies = [(401, DATE_5_MIN_AHEAD), (401, DATE_5_MIN_AHEAD)].into();
    let mut api = DatedApi { replies, proofs: Vec::new() };
    let response = block_on(c.fetch(&mut api, &RequestOptions::default())).unwrap();
    assert_eq!(response.0, 401, "the second refusal is the caller's");
    let iats: Vec<_> = api.proofs.iter().map(|p| p["iat"].as_u64().unwrap()).collect();
    assert_eq!(iats, [NOW_SECS, (1_700_000_000_000 + AHEAD_MS as u64) / 1000]);
}
