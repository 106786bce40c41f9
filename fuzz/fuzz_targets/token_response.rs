//! Token endpoint responses: `token::interpret` (token response, OAuth error, DPoP nonce
//! challenge) and `token::parse_oauth_error`.
//!
//! Input: a first line `STATUS FLAGS CONTENT-TYPE` (FLAGS: any of `dpop`, `nonce`, `retry`
//! joined by commas, or `-`; CONTENT-TYPE `-` for none), then the body. The outcome must agree
//! with the status, an issued token is never empty and fits the request, and no message depends
//! on (or shows) the access token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokenfetch::token::{
    interpret, parse_oauth_error, Expectation, TokenOutcome, TokenType, MAX_LIFETIME_SECS,
};
use tokenfetch::{ErrorCode, TokenError};

const SENTINEL: &str = "at-SENTINEL-7f3a9c";

struct Input<'a> {
    status: u16,
    nonce_header: bool,
    expect: Expectation,
    content_type: Option<&'a str>,
    body: &'a [u8],
}

fn split(data: &[u8]) -> Option<Input<'_>> {
    let newline = data.iter().position(|&b| b == b'\n')?;
    let (head, body) = (std::str::from_utf8(&data[..newline]).ok()?, &data[newline + 1..]);
    let mut parts = head.splitn(3, ' ');
    let status = parts.next()?.parse().ok()?;
    let flags = parts.next().unwrap_or("-");
    let content_type = parts.next().filter(|c| *c != "-");
    let has = |f: &str| flags.split(',').any(|x| x == f);
    let expect = Expectation { dpop: has("dpop"), may_retry_nonce: has("retry"), clock_off: has("clock") };
    Some(Input { status, nonce_header: has("nonce"), expect, content_type, body })
}

/// Control characters, line separators and bidi formatting characters: never in error text.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` is safe to print and at most `cap` characters.
fn check_text(what: &str, text: &str, cap: usize) {
    assert!(!text.chars().any(unsafe_char), "control or bidi character in {what} {text:?}");
    assert!(text.chars().count() <= cap, "{what} of {} chars", text.chars().count());
}

fn check_message(e: &TokenError) {
    // Fixed text, the status, `error` (100 chars), `error_description` (200 chars), `got "..."`.
    check_text("message", &e.message, 400);
    // The server's fields, cleaned like the message: `error` 100 chars, `error_description` 500
    // (each plus the `…` that marks a cut).
    check_text("error", e.error.as_deref().unwrap_or_default(), 101);
    check_text("error_description", e.error_description.as_deref().unwrap_or_default(), 501);
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split(data) else {
        return;
    };
    let Input { status, nonce_header, expect, content_type, body } = input;
    let oauth = parse_oauth_error(body);
    if let Some(o) = &oauth {
        assert!(!o.error.is_empty());
    }
    let outcome = interpret(status, content_type, nonce_header, body, expect);
    let success = (200..=299).contains(&status);
    match &outcome {
        Ok(TokenOutcome::Issued(t)) => {
            assert!(success, "token issued on HTTP {status}");
            assert!(tokenfetch::token::is_b64token(&t.access_token), "access token not a b64token");
            if t.token_type == TokenType::NotApplicable {
                // RFC 8693 §2.2.1: not an access token, and it says what it is.
                assert!(t.issued_token_type.is_some(), "N_A with an issued_token_type");
            } else {
                assert_eq!(t.token_type == TokenType::DPoP, expect.dpop, "token type fits the request");
            }
            assert!(t.expires_in.is_none_or(|s| s <= MAX_LIFETIME_SECS));
            let doc: Value = serde_json::from_slice(body).expect("an issued token came from JSON");
            assert_eq!(doc["access_token"].as_str(), Some(t.access_token.as_str()));
        }
        Ok(TokenOutcome::RetryWithNonce) => {
            assert!((400..=499).contains(&status), "nonce retry on HTTP {status}");
            assert!(nonce_header && expect.dpop && expect.may_retry_nonce);
            let error = oauth.as_ref().map(|o| o.error.as_str());
            assert!(matches!(error, Some("use_dpop_nonce" | "invalid_dpop_proof")));
        }
        Ok(TokenOutcome::RetryWithTime) => {
            assert!((400..=499).contains(&status), "time retry on HTTP {status}");
            assert!(expect.clock_off, "time retry without a clock that was off");
            let error = oauth.as_ref().map(|o| o.error.as_str());
            assert!(matches!(error, Some("invalid_client" | "invalid_grant" | "invalid_dpop_proof")));
        }
        Err(e) => {
            check_message(e);
            assert_eq!(e.status, (status != 0).then_some(status), "error carries the status");
            let want = if status == 0 || (300..=399).contains(&status) {
                vec![ErrorCode::Redirect]
            } else if success {
                vec![ErrorCode::InvalidTokenResponse, ErrorCode::TokenTypeMismatch]
            } else if oauth.is_some() {
                vec![ErrorCode::OAuth]
            } else {
                vec![ErrorCode::HttpError]
            };
            assert!(want.contains(&e.code), "{:?} on HTTP {status}", e.code);
            if e.code == ErrorCode::OAuth {
                let o = oauth.as_ref().expect("parsed");
                assert!(e.error.is_some(), "an oauth_error names the server's error");
                assert_eq!(e.error_description.is_some(), o.error_description.is_some());
            }
        }
    }

    // The access token never shapes an error: with another non-empty token in its place, the
    // outcome is the same and no message shows it.
    let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if doc.get("access_token").and_then(Value::as_str).is_none_or(str::is_empty)
        || data.windows(SENTINEL.len()).any(|w| w == SENTINEL.as_bytes())
    {
        return;
    }
    let mut run = |token: &str| {
        doc.insert("access_token".into(), token.into());
        let body = serde_json::to_vec(&doc).expect("serializes");
        interpret(status, content_type, nonce_header, &body, expect)
    };
    let (mine, other) = (run(SENTINEL), run("x"));
    match (&mine, &other) {
        (Ok(TokenOutcome::Issued(a)), Ok(TokenOutcome::Issued(b))) => {
            assert_eq!((a.access_token.as_str(), b.access_token.as_str()), (SENTINEL, "x"));
            assert_eq!((a.token_type, a.expires_in, &a.scope), (b.token_type, b.expires_in, &b.scope));
            assert_eq!(a.issued_token_type, b.issued_token_type);
        }
        (Err(a), _) => {
            assert!(!a.message.contains(SENTINEL), "access token in message {:?}", a.message);
            assert_eq!(Err(a), other.as_ref(), "the access token changed the error");
        }
        _ => assert_eq!(mine, other),
    }
});
