//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1): any header value parses without a panic into
//! well-formed challenges, and writing those challenges back out and parsing again gives the
//! same challenges (the params survive a round trip).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenfetch::resource::{ApiDecision, ApiResponse, RetryBudget};
use tokenfetch::www_authenticate::{find, parse, Challenge};

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The challenges as a header value, every param value as a quoted-string (RFC 9110 §5.6.4).
fn serialize(challenges: &[Challenge]) -> String {
    let one = |c: &Challenge| {
        let mut out = c.scheme.clone();
        if let Some(t) = &c.token68 {
            out.push(' ');
            out.push_str(t);
        }
        for (i, (name, value)) in c.params.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { ", " });
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            out.push_str(&format!("{name}=\"{escaped}\""));
        }
        out
    };
    challenges.iter().map(one).collect::<Vec<_>>().join(", ")
}

fuzz_target!(|data: &[u8]| {
    // Header values reach the parser as strings (fetch's Headers), so lossy UTF-8 covers them.
    let header = String::from_utf8_lossy(data);
    let challenges = parse(&header);
    // Lookups are linear in the challenges and params: check them on the first few only.
    for (i, c) in challenges.iter().enumerate() {
        assert!(is_token(&c.scheme), "scheme {:?} is not a token", c.scheme);
        assert!(c.token68.is_none() || c.params.is_empty(), "token68 and params in one challenge");
        if let Some(t) = &c.token68 {
            let body = t.trim_end_matches('=');
            assert!(!body.is_empty(), "token68 {t:?} has no body");
            assert!(body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)));
        }
        for (j, (name, _)) in c.params.iter().enumerate() {
            assert!(is_token(name), "param name {name:?} is not a token");
            if j < 8 {
                assert!(c.param(&name.to_ascii_uppercase()).is_some(), "param lookup is case-insensitive");
            }
        }
        if i < 8 {
            let first = find(&challenges, &c.scheme).expect("a parsed scheme is found");
            assert!(first.scheme.eq_ignore_ascii_case(&c.scheme));
        }
    }
    let again = parse(&serialize(&challenges));
    assert_eq!(again, challenges, "round trip of {header:?}");

    // The API retry decision reads the same header: the same answer is retried at most once per
    // kind (a nonce, the time), so the third time is the answer.
    for (dpop, clock_off) in [(false, false), (false, true), (true, false), (true, true)] {
        let mut budget = RetryBudget::default();
        let response = ApiResponse {
            status: 401,
            www_authenticate: Some(&header),
            dpop_nonce: Some("n"),
            ..ApiResponse::default()
        };
        let first = budget.decide(&response, dpop, true, clock_off);
        let second = budget.decide(&response, dpop, true, clock_off);
        assert!(second == ApiDecision::Done || second != first, "the same retry twice");
        assert_eq!(budget.decide(&response, dpop, true, clock_off), ApiDecision::Done, "retried thrice");
    }
});
