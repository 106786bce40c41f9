//! What to do after a protected resource answers (RFC 6750 §3.1, RFC 9449 §7.1 and §9):
//! retry once with a server-supplied nonce, once with the time corrected after a proof refused
//! for it ([`crate::skew`]), once with a new token, follow a redirect that stays on the origin, or
//! hand the response back.

use crate::url::Origin;
use crate::www_authenticate;

/// The decision after one API response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiDecision {
    /// Return the response to the caller.
    Done,
    /// Send again with a fresh proof carrying the nonce the server just gave.
    RetryWithNonce,
    /// Send again with a fresh proof whose time is corrected by the server's clock.
    RetryWithTime,
    /// Drop the token, get a new one, send again.
    RetryWithNewToken,
}

/// Retries left for one `fetch`: at most one of each kind, and fetch's limit of redirects.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryBudget {
    nonce_spent: bool,
    token_spent: bool,
    time_spent: bool,
    redirects: u8,
}

/// Redirects followed for one `fetch`, at most (fetch's own limit).
pub const MAX_REDIRECTS: u8 = 20;

/// What an API's response said, as far as the decisions need.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiResponse<'a> {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate` header (needed for a 401 only).
    pub www_authenticate: Option<&'a str>,
    /// `DPoP-Nonce` header (needed when a DPoP proof was sent).
    pub dpop_nonce: Option<&'a str>,
    /// `Location` of a redirect, resolved against the request URL and in normal form; `None`
    /// when the host does not let the engine follow redirects (the caller chose a mode).
    pub location: Option<&'a str>,
    /// `Date` header (the server's clock, learned when a DPoP proof was sent: [`crate::skew`]).
    pub date: Option<&'a str>,
}

/// The headers one API request carries: `Authorization`, and with a DPoP-bound token a proof
/// for its method and URL (RFC 9449 §7.1).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiHeaders {
    /// `<token type> <access token>`.
    pub authorization: String,
    /// The `DPoP` proof.
    pub dpop: Option<String>,
}

/// Never the token or the proof.
impl std::fmt::Debug for ApiHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiHeaders").field("dpop", &self.dpop.as_ref().map(|_| "***")).finish_non_exhaustive()
    }
}

/// One request as the engine needs to know it after its response.
#[derive(Clone, Copy, Debug)]
pub struct SentRequest<'a> {
    /// The method (as given; normalized where it matters).
    pub method: &'a str,
    /// The URL, in normal form.
    pub url: &'a str,
    /// The `Authorization` value it was sent with (never parsed: compared with the cached token's).
    pub authorization: &'a str,
    /// Whether it can be sent again (its body too).
    pub replayable: bool,
}

/// What to do after an API's response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterResponse {
    /// Hand the response to the caller.
    Done,
    /// Send the request again with these headers (a nonce retry, or a new token).
    Send(ApiHeaders),
    /// Follow the redirect to `url` (same origin) with these headers; as a `GET` without body
    /// when `as_get` (fetch's rules).
    Follow {
        /// Where to.
        url: String,
        /// As a `GET` without body.
        as_get: bool,
        /// The headers, with a proof for the new URL.
        headers: ApiHeaders,
    },
}

impl RetryBudget {
    /// Decide, spending the retry it returns. `dpop`: the request used the DPoP scheme;
    /// `replayable`: the request can be sent again; `clock_off`: the response's `Date` shows that
    /// the time the proof said may have been off ([`crate::skew::was_off`]).
    pub fn decide(
        &mut self,
        response: &ApiResponse<'_>,
        dpop: bool,
        replayable: bool,
        clock_off: bool,
    ) -> ApiDecision {
        if response.status != 401 || !replayable {
            return ApiDecision::Done;
        }
        let challenges = www_authenticate::parse(response.www_authenticate.unwrap_or(""));
        let scheme = if dpop { "DPoP" } else { "Bearer" };
        let error = www_authenticate::find(&challenges, scheme).and_then(|c| c.param("error"));
        match error {
            Some("use_dpop_nonce") | Some("invalid_dpop_proof")
                if dpop && response.dpop_nonce.is_some() && !self.nonce_spent =>
            {
                self.nonce_spent = true;
                ApiDecision::RetryWithNonce
            }
            Some("invalid_dpop_proof") if dpop && clock_off && !self.time_spent => {
                self.time_spent = true;
                ApiDecision::RetryWithTime
            }
            Some("invalid_token") if !self.token_spent => {
                self.token_spent = true;
                ApiDecision::RetryWithNewToken
            }
            _ => ApiDecision::Done,
        }
    }
}

impl RetryBudget {
    /// The budget as a number, for a host that keeps it between calls (JavaScript).
    pub fn to_bits(self) -> u32 {
        u32::from(self.nonce_spent)
            | u32::from(self.token_spent) << 1
            | u32::from(self.time_spent) << 2
            | u32::from(self.redirects) << 3
    }

    /// A budget kept as a number by [`RetryBudget::to_bits`] (anything else reads as spent).
    pub fn from_bits(bits: u32) -> Self {
        let redirects = u8::try_from(bits >> 3).unwrap_or(MAX_REDIRECTS).min(MAX_REDIRECTS);
        RetryBudget {
            nonce_spent: bits & 1 != 0,
            token_spent: bits & 2 != 0,
            time_spent: bits & 4 != 0,
            redirects,
        }
    }

    /// Whether to follow a `status` redirect of a `method` request from `from` to `location`
    /// (absolute, in normal form): only within the origin — the token and proofs never travel
    /// to another — and at most [`MAX_REDIRECTS`] times. `Some(as_get)`: follow, as a GET without
    /// body when fetch's rules say so (303 except after GET/HEAD, 301/302 after POST); a body
    /// that cannot be sent again (`replayable` false) is not followed otherwise.
    pub fn follow(
        &mut self,
        status: u16,
        method: &str,
        from: &str,
        location: &str,
        replayable: bool,
    ) -> Option<bool> {
        if !matches!(status, 301 | 302 | 303 | 307 | 308) || self.redirects >= MAX_REDIRECTS {
            return None;
        }
        let same_origin = Origin::of(from).zip(Origin::of(location)).is_some_and(|(a, b)| a.text == b.text);
        let method = crate::dpop::htm(method);
        let as_get = (status == 303 && method != "GET" && method != "HEAD")
            || (matches!(status, 301 | 302) && method == "POST");
        if !same_origin || !(as_get || replayable) {
            return None;
        }
        self.redirects += 1;
        Some(as_get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, www: &str, nonce: bool) -> ApiResponse<'_> {
        ApiResponse {
            status,
            www_authenticate: Some(www),
            dpop_nonce: nonce.then_some("n"),
            ..Default::default()
        }
    }

    const NONCE: &str =
        r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;

    #[test]
    fn nonce_challenge_at_api_retries_once() {
        let mut b = RetryBudget::default();
        assert_eq!(b.decide(&resp(401, NONCE, true), true, true, false), ApiDecision::RetryWithNonce);
        assert_eq!(b.decide(&resp(401, NONCE, true), true, true, false), ApiDecision::Done);
    }

    #[test]
    fn nonce_challenge_without_nonce_header_or_for_bearer_is_returned() {
        assert_eq!(
            RetryBudget::default().decide(&resp(401, NONCE, false), true, true, false),
            ApiDecision::Done
        );
        assert_eq!(
            RetryBudget::default().decide(&resp(401, NONCE, true), false, true, false),
            ApiDecision::Done
        );
    }

    #[test]
    fn invalid_token_renews_once_and_only_when_replayable() {
        let www = r#"Bearer realm="api", error="invalid_token""#;
        let mut b = RetryBudget::default();
        assert_eq!(b.decide(&resp(401, www, false), false, false, false), ApiDecision::Done);
        assert_eq!(b.decide(&resp(401, www, false), false, true, false), ApiDecision::RetryWithNewToken);
        assert_eq!(b.decide(&resp(401, www, false), false, true, false), ApiDecision::Done);
    }

    #[test]
    fn challenges_are_read_per_scheme() {
        let www = r#"Bearer error="invalid_token", DPoP algs="ES256", error="use_dpop_nonce""#;
        assert_eq!(
            RetryBudget::default().decide(&resp(401, www, true), true, true, false),
            ApiDecision::RetryWithNonce
        );
        assert_eq!(
            RetryBudget::default().decide(&resp(401, www, true), false, true, false),
            ApiDecision::RetryWithNewToken
        );
    }

    #[test]
    fn a_proof_refused_when_the_clock_was_off_is_retried_once_with_the_time_corrected() {
        let www = r#"DPoP error="invalid_dpop_proof", error_description="iat not recent""#;
        let mut b = RetryBudget::default();
        assert_eq!(
            b.decide(&resp(401, www, false), true, true, false),
            ApiDecision::Done,
            "the clock was right"
        );
        assert_eq!(
            b.decide(&resp(401, www, false), false, true, true),
            ApiDecision::Done,
            "no proof was sent"
        );
        assert_eq!(b.decide(&resp(401, www, false), true, false, true), ApiDecision::Done, "not replayable");
        assert_eq!(b.decide(&resp(401, www, false), true, true, true), ApiDecision::RetryWithTime);
        assert_eq!(b.decide(&resp(401, www, false), true, true, true), ApiDecision::Done, "once");
        // With a nonce, the nonce retry comes first (its fresh proof has the corrected time too).
        let mut b = RetryBudget::default();
        assert_eq!(b.decide(&resp(401, www, true), true, true, true), ApiDecision::RetryWithNonce);
        assert_eq!(b.decide(&resp(401, www, true), true, true, true), ApiDecision::RetryWithTime);
        let other = r#"DPoP error="invalid_token""#;
        assert_eq!(
            RetryBudget::default().decide(&resp(401, other, false), true, true, true),
            ApiDecision::RetryWithNewToken
        );
    }

    #[test]
    fn other_statuses_are_returned() {
        assert_eq!(
            RetryBudget::default().decide(&resp(403, NONCE, true), true, true, false),
            ApiDecision::Done
        );
        assert_eq!(RetryBudget::default().decide(&resp(200, "", true), true, true, false), ApiDecision::Done);
    }

    #[test]
    fn redirects_are_followed_within_the_origin_only() {
        let mut b = RetryBudget::default();
        let from = "https://api.example/a";
        assert_eq!(b.follow(302, "GET", from, "https://api.example/b", true), Some(false));
        assert_eq!(b.follow(307, "POST", from, "https://api.example/b", true), Some(false));
        assert_eq!(b.follow(307, "POST", from, "https://api.example/b", false), None, "the body is gone");
        assert_eq!(b.follow(303, "post", from, "https://api.example/b", false), Some(true));
        assert_eq!(b.follow(301, "POST", from, "https://api.example/b", false), Some(true));
        assert_eq!(b.follow(303, "HEAD", from, "https://api.example/b", true), Some(false));
        for other in ["https://evil.example/b", "http://api.example/b", "https://api.example:8443/b"] {
            assert_eq!(b.follow(302, "GET", from, other, true), None, "{other}");
        }
        assert_eq!(b.follow(304, "GET", from, "https://api.example/b", true), None);
        assert_eq!(b.follow(300, "GET", from, "https://api.example/b", true), None);
    }

    #[test]
    fn redirects_stop_at_fetchs_limit() {
        let mut b = RetryBudget::default();
        let follow = |b: &mut RetryBudget| b.follow(302, "GET", "https://a/x", "https://a/y", true);
        let followed = std::iter::from_fn(|| follow(&mut b)).take(100).count();
        assert_eq!(followed, usize::from(MAX_REDIRECTS));
    }

    #[test]
    fn budgets_survive_a_round_trip_as_numbers() {
        let mut b = RetryBudget::default();
        assert_eq!(RetryBudget::from_bits(b.to_bits()).to_bits(), 0);
        b.decide(&resp(401, NONCE, true), true, true, false);
        b.follow(302, "GET", "https://a/x", "https://a/y", true);
        let kept = RetryBudget::from_bits(b.to_bits());
        assert_eq!(kept.to_bits(), b.to_bits());
        assert_eq!(
            RetryBudget::from_bits(b.to_bits()).decide(&resp(401, NONCE, true), true, true, false),
            ApiDecision::Done
        );
        assert_eq!(RetryBudget::from_bits(u32::MAX).to_bits() >> 3, u32::from(MAX_REDIRECTS));
        let www = r#"DPoP error="invalid_dpop_proof""#;
        let mut b = RetryBudget::default();
        b.decide(&resp(401, www, false), true, true, true);
        let kept = RetryBudget::from_bits(b.to_bits());
        assert_eq!(kept.to_bits(), 4, "the time retry is spent");
        assert_eq!(
            RetryBudget::from_bits(4).decide(&resp(401, www, false), true, true, true),
            ApiDecision::Done
        );
    }
}
