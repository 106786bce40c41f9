//! What to do after a protected resource answers (RFC 6750 §3.1, RFC 9449 §7.1 and §9):
//! retry once with a server-supplied nonce, retry once with a new token, follow a redirect that
//! stays on the origin, or hand the response back.

use crate::url::Origin;
use crate::www_authenticate;

/// The decision after one API response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiDecision {
    /// Return the response to the caller.
    Done,
    /// Send again with a fresh proof carrying the nonce the server just gave.
    RetryWithNonce,
    /// Drop the token, get a new one, send again.
    RetryWithNewToken,
}

/// Retries left for one `fetch`: at most one of each kind, and fetch's limit of redirects.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryBudget {
    nonce_spent: bool,
    token_spent: bool,
    redirects: u8,
}

/// Redirects followed for one `fetch`, at most (fetch's own limit).
pub const MAX_REDIRECTS: u8 = 20;

/// What the response said, as far as the decision needs.
#[derive(Clone, Copy, Debug)]
pub struct ApiResponse<'a> {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate` header, if any.
    pub www_authenticate: Option<&'a str>,
    /// Whether a `DPoP-Nonce` header came with it.
    pub has_dpop_nonce: bool,
}

impl RetryBudget {
    /// Decide, spending the retry it returns. `dpop`: the request used the DPoP scheme;
    /// `replayable`: the request can be sent again.
    pub fn decide(&mut self, response: ApiResponse<'_>, dpop: bool, replayable: bool) -> ApiDecision {
        if response.status != 401 || !replayable {
            return ApiDecision::Done;
        }
        let challenges = www_authenticate::parse(response.www_authenticate.unwrap_or(""));
        let scheme = if dpop { "DPoP" } else { "Bearer" };
        let error = www_authenticate::find(&challenges, scheme).and_then(|c| c.param("error"));
        match error {
            Some("use_dpop_nonce") | Some("invalid_dpop_proof")
                if dpop && response.has_dpop_nonce && !self.nonce_spent =>
            {
                self.nonce_spent = true;
                ApiDecision::RetryWithNonce
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
        ApiResponse { status, www_authenticate: Some(www), has_dpop_nonce: nonce }
    }

    const NONCE: &str =
        r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;

    #[test]
    fn nonce_challenge_at_api_retries_once() {
        let mut b = RetryBudget::default();
        assert_eq!(b.decide(resp(401, NONCE, true), true, true), ApiDecision::RetryWithNonce);
        assert_eq!(b.decide(resp(401, NONCE, true), true, true), ApiDecision::Done);
    }

    #[test]
    fn nonce_challenge_without_nonce_header_or_for_bearer_is_returned() {
        assert_eq!(RetryBudget::default().decide(resp(401, NONCE, false), true, true), ApiDecision::Done);
        assert_eq!(RetryBudget::default().decide(resp(401, NONCE, true), false, true), ApiDecision::Done);
    }

    #[test]
    fn invalid_token_renews_once_and_only_when_replayable() {
        let www = r#"Bearer realm="api", error="invalid_token""#;
        let mut b = RetryBudget::default();
        assert_eq!(b.decide(resp(401, www, false), false, false), ApiDecision::Done);
        assert_eq!(b.decide(resp(401, www, false), false, true), ApiDecision::RetryWithNewToken);
        assert_eq!(b.decide(resp(401, www, false), false, true), ApiDecision::Done);
    }

    #[test]
    fn challenges_are_read_per_scheme() {
        let www = r#"Bearer error="invalid_token", DPoP algs="ES256", error="use_dpop_nonce""#;
        assert_eq!(
            RetryBudget::default().decide(resp(401, www, true), true, true),
            ApiDecision::RetryWithNonce
        );
        assert_eq!(
            RetryBudget::default().decide(resp(401, www, true), false, true),
            ApiDecision::RetryWithNewToken
        );
    }

    #[test]
    fn other_statuses_are_returned() {
        assert_eq!(RetryBudget::default().decide(resp(403, NONCE, true), true, true), ApiDecision::Done);
        assert_eq!(RetryBudget::default().decide(resp(200, "", true), true, true), ApiDecision::Done);
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
}
