//! What a client reports to an `onEvent` hook: typed, with durations, and never a token, secret,
//! key or subject in clear (cache keys carry only scope, resource, hashes and thumbprints).

/// One observable step of a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A fresh token came from the cache.
    CacheHit {
        /// The cache key.
        key: String,
    },
    /// A token request ended (retries after nonce challenges or failures included).
    TokenRequest {
        /// The cache key.
        key: String,
        /// Whether a cached token was being replaced (a refresh) rather than missing.
        refresh: bool,
        /// Time from the first attempt to the outcome.
        duration_ms: u64,
        /// HTTP attempts made.
        attempts: u32,
        /// The error code when it failed.
        error: Option<&'static str>,
    },
    /// A DPoP nonce challenge was answered with one retry.
    NonceRetry {
        /// `token_endpoint` or `resource`.
        at: &'static str,
        /// The URL without query (htu).
        url: String,
    },
    /// An API rejected the token (`invalid_token`); a new one was fetched and the call retried.
    InvalidTokenRetry {
        /// The URL without query (htu).
        url: String,
    },
    /// A fresh token came from the shared store (another instance asked for it).
    StoreHit {
        /// The cache key.
        key: String,
        /// Time spent waiting for another instance's token request (0 when it was there).
        waited_ms: u64,
    },
    /// The shared store failed; the client went on without it.
    StoreError {
        /// The cache key.
        key: String,
        /// `get`, `set`, `delete`, `lock` or `unlock`.
        op: &'static str,
        /// What the store said (no token or secret: values are sealed before they reach it).
        message: String,
    },
    /// A refresh failed and a token that has not expired yet was served (`staleIfErrorSeconds`).
    StaleIfError {
        /// The cache key.
        key: String,
        /// The refresh's error code.
        error: &'static str,
        /// How long the token stays valid (ms).
        expires_in_ms: u64,
    },
    /// A server's `Date` showed that its clock is off from this host's by more than a few
    /// seconds, or agrees again: JWTs for its origin carry its time from now on ([`crate::skew`]).
    ClockSkew {
        /// The origin (`scheme://host[:port]`).
        origin: String,
        /// How far its clock is ahead (negative: behind), in ms; 0 when the clocks agree again.
        offset_ms: i64,
    },
}

impl Event {
    /// The event's `type` string: `cache_hit`, `token_request`, `refresh`, `nonce_retry`,
    /// `invalid_token_retry`, `store_hit`, `store_error`, `stale_if_error`, `clock_skew`, or
    /// `error` for a failed token request.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::CacheHit { .. } => "cache_hit",
            Event::TokenRequest { error: Some(_), .. } => "error",
            Event::TokenRequest { refresh: true, .. } => "refresh",
            Event::TokenRequest { .. } => "token_request",
            Event::NonceRetry { .. } => "nonce_retry",
            Event::InvalidTokenRetry { .. } => "invalid_token_retry",
            Event::StoreHit { .. } => "store_hit",
            Event::StoreError { .. } => "store_error",
            Event::StaleIfError { .. } => "stale_if_error",
            Event::ClockSkew { .. } => "clock_skew",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_name_what_happened() {
        let request = |refresh, error| Event::TokenRequest {
            key: "k".into(),
            refresh,
            duration_ms: 1,
            attempts: 1,
            error,
        };
        assert_eq!(request(false, None).kind(), "token_request");
        assert_eq!(request(true, None).kind(), "refresh");
        assert_eq!(request(true, Some("timeout")).kind(), "error");
        assert_eq!(Event::CacheHit { key: "k".into() }.kind(), "cache_hit");
    }
}
