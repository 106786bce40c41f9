//! Token cache policy: what a cache entry is, when it must be refreshed, the
//! single-flight state (one token request per key at a time; failures are not cached), and a
//! bound on the number of keys (least recently used first out; requests in flight stay).
//!
//! The waiter type `W` is the engine's (a shared future); this module only decides.

use crate::token::{TokenResponse, TokenType};

/// A token as the cache keeps it (`Debug` shows the access token as `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The access token.
    pub access_token: String,
    /// `Bearer` or `DPoP`; `N_A` for what a token exchange issued that is not an access token
    /// (never sent as `Authorization`).
    pub token_type: TokenType,
    /// When the authority says it expires (epoch ms).
    pub expires_at_ms: u64,
    /// When the cache stops serving it and asks for a new one (epoch ms).
    pub refresh_at_ms: u64,
    /// The granted scope, when the authority said.
    pub scope: Option<String>,
    /// What a token exchange issued (RFC 8693 §2.2.1), when the authority said.
    pub issued_token_type: Option<String>,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &"***")
            .field("token_type", &self.token_type)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("refresh_at_ms", &self.refresh_at_ms)
            .field("scope", &self.scope)
            .field("issued_token_type", &self.issued_token_type)
            .finish()
    }
}

/// When tokens expire and refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// Refresh this long before expiry (`refreshBeforeExpirySeconds`, default 60 s).
    pub refresh_before_ms: u64,
    /// Lifetime assumed when the response has no `expires_in`.
    pub default_lifetime_ms: u64,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy { refresh_before_ms: 60_000, default_lifetime_ms: 300_000 }
    }
}

impl CachePolicy {
    /// Turn a token response received at `now_ms` into a cache entry. The refresh buffer is
    /// clamped to half the lifetime, so a token shorter-lived than the buffer is still reused.
    pub fn admit(&self, response: TokenResponse, now_ms: u64) -> CachedToken {
        let lifetime_ms = response.expires_in.map_or(self.default_lifetime_ms, |s| s.saturating_mul(1000));
        let buffer = self.refresh_before_ms.min(lifetime_ms / 2);
        CachedToken {
            access_token: response.access_token,
            token_type: response.token_type,
            expires_at_ms: now_ms.saturating_add(lifetime_ms),
            refresh_at_ms: now_ms.saturating_add(lifetime_ms - buffer),
            scope: response.scope,
            issued_token_type: response.issued_token_type,
        }
    }
}

impl CachedToken {
    /// The `Authorization` value it is sent with: `<token type> <access token>`.
    pub fn authorization(&self) -> String {
        cat!(self.token_type.as_str(), " ", self.access_token)
    }

    /// Whether the cache may still serve this token at `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.refresh_at_ms
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup<W> {
    /// A fresh token: use it.
    Fresh(CachedToken),
    /// A token request for this key is in flight: wait for it.
    Join(W),
    /// Nothing usable and nobody asking: start a token request (and call [`TokenCache::begin`]).
    Miss,
}

#[derive(Debug)]
struct Slot<W> {
    token: Option<CachedToken>,
    pending: Option<W>,
    /// When it was last used (a counter): the least recently used key leaves first.
    used: u64,
}

/// Tokens and in-flight requests by cache key, at most `capacity` keys.
#[derive(Debug)]
pub struct TokenCache<W> {
    slots: Slots<W>,
    clock: u64,
    capacity: usize,
}

/// Slots by key, sorted: a lookup is a binary search (about ten string comparisons for the
/// default thousand keys), an insertion moves the tail. Against std's `HashMap`, the module is
/// smaller (no hashing, no SipHash keys, no raw table; see BENCHMARKS.md "Size"), and a cached
/// call's lookup stays well under a microsecond.
#[derive(Debug)]
struct Slots<W>(Vec<(String, Slot<W>)>);

impl<W> Slots<W> {
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
    fn get(&self, key: &str) -> Option<&Slot<W>> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }
    fn get_mut(&mut self, key: &str) -> Option<&mut Slot<W>> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }
    fn remove(&mut self, key: &str) {
        if let Ok(i) = self.find(key) {
            self.0.remove(i);
        }
    }
    /// The slot of `key`, inserted empty when missing.
    fn entry(&mut self, key: &str) -> &mut Slot<W> {
        let i = self.find(key).unwrap_or_else(|i| {
            self.0.insert(i, (key.to_owned(), Slot { token: None, pending: None, used: 0 }));
            i
        });
        &mut self.0[i].1
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn iter(&self) -> impl Iterator<Item = (&String, &Slot<W>)> {
        self.0.iter().map(|(k, s)| (k, s))
    }
}

/// The default bound on cache keys (`cacheSize`).
pub const DEFAULT_CAPACITY: usize = 1000;

impl<W> Default for TokenCache<W> {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl<W> TokenCache<W> {
    /// An empty cache holding at most `capacity` keys (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        TokenCache { slots: Slots(Vec::new()), clock: 0, capacity: capacity.max(1) }
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.slots.len() == 0
    }

    fn touch(&mut self, key: &str) {
        if let Some(slot) = self.slots.get_mut(key) {
            self.clock += 1;
            slot.used = self.clock;
        }
    }

    fn remove(&mut self, key: &str) {
        self.slots.remove(key);
    }

    /// Drop least recently used keys with no request in flight until within capacity. A scan
    /// per dropped key: it runs only when a new key arrives (a token request) and the cache is
    /// full, and it keeps lookups free of any recency bookkeeping beyond a counter.
    fn shrink(&mut self) {
        while self.slots.len() > self.capacity {
            let oldest = self
                .slots
                .iter()
                .filter(|(_, s)| s.pending.is_none())
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => self.remove(&key),
                None => break,
            }
        }
    }
}

impl<W: Clone> TokenCache<W> {
    /// Look `key` up at `now_ms`; `force` skips a fresh token (but still joins a request in flight).
    pub fn lookup(&mut self, key: &str, now_ms: u64, force: bool) -> Lookup<W> {
        let found = match self.slots.get(key) {
            None => return Lookup::Miss,
            Some(Slot { pending: Some(pending), .. }) => Lookup::Join(pending.clone()),
            Some(Slot { token: Some(token), .. }) if !force && token.is_fresh(now_ms) => {
                Lookup::Fresh(token.clone())
            }
            Some(_) => Lookup::Miss,
        };
        self.touch(key);
        found
    }

    /// Whether `key` holds a token (fresh or not): a new request for it is a refresh.
    pub fn has_token(&self, key: &str) -> bool {
        self.slots.get(key).is_some_and(|s| s.token.is_some())
    }

    /// Record that a token request for `key` is in flight; later lookups join `waiter`.
    pub fn begin(&mut self, key: &str, waiter: W) {
        self.slots.entry(key).pending = Some(waiter);
        self.touch(key);
        self.shrink();
    }

    /// The request for `key` ended: store the token, or on failure (`None`) keep nothing new.
    pub fn complete(&mut self, key: &str, token: Option<CachedToken>) {
        if let Some(slot) = self.slots.get_mut(key) {
            slot.pending = None;
            if token.is_some() {
                slot.token = token;
            }
            if slot.token.is_none() {
                self.remove(key);
            }
        }
    }

    /// Drop the token under `key` if it is still the one sent as `authorization` (a newer one is
    /// kept).
    pub fn evict(&mut self, key: &str, authorization: &str) {
        if let Some(slot) = self.slots.get_mut(key) {
            if slot.token.as_ref().is_some_and(|t| t.authorization() == authorization) {
                slot.token = None;
            }
        }
    }

    /// Drop the token under `key`, whatever it is.
    pub fn clear(&mut self, key: &str) {
        if let Some(slot) = self.slots.get_mut(key) {
            slot.token = None;
        }
    }

    /// The token under `key`, fresh or not.
    pub fn token(&self, key: &str) -> Option<&CachedToken> {
        self.slots.get(key).and_then(|s| s.token.as_ref())
    }

    /// The cached tokens, for inspection.
    pub fn tokens(&self) -> impl Iterator<Item = (&str, &CachedToken)> {
        self.slots.iter().filter_map(|(k, s)| s.token.as_ref().map(|t| (k.as_str(), t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(expires_in: Option<u64>) -> TokenResponse {
        TokenResponse {
            access_token: "at".into(),
            token_type: TokenType::Bearer,
            expires_in,
            scope: None,
            issued_token_type: None,
        }
    }

    #[test]
    fn refresh_happens_buffer_before_expiry() {
        let t = CachePolicy::default().admit(response(Some(3600)), 1_000);
        assert_eq!(t.expires_at_ms, 3_601_000);
        assert_eq!(t.refresh_at_ms, 3_541_000);
        assert!(t.is_fresh(3_540_999));
        assert!(!t.is_fresh(3_541_000));
    }

    #[test]
    fn short_lived_tokens_clamp_the_buffer_to_half_their_life() {
        let t = CachePolicy::default().admit(response(Some(10)), 0);
        assert_eq!(t.refresh_at_ms, 5_000);
        assert_eq!(t.expires_at_ms, 10_000);
    }

    #[test]
    fn missing_expires_in_uses_the_default_lifetime() {
        let t = CachePolicy::default().admit(response(None), 0);
        assert_eq!(t.expires_at_ms, 300_000);
    }

    #[test]
    fn single_flight_joins_then_serves_then_refreshes() {
        let policy = CachePolicy::default();
        let mut cache: TokenCache<u32> = TokenCache::default();
        assert!(matches!(cache.lookup("k", 0, false), Lookup::Miss));
        cache.begin("k", 7);
        assert!(matches!(cache.lookup("k", 0, false), Lookup::Join(7)));
        cache.complete("k", Some(policy.admit(response(Some(120)), 0)));
        assert!(matches!(cache.lookup("k", 59_999, false), Lookup::Fresh(_)));
        assert!(matches!(cache.lookup("k", 60_000, false), Lookup::Miss));
        assert!(matches!(cache.lookup("k", 1, true), Lookup::Miss));
    }

    #[test]
    fn failures_are_not_cached_and_old_tokens_survive_a_failed_refresh() {
        let mut cache: TokenCache<u32> = TokenCache::default();
        cache.begin("k", 1);
        cache.complete("k", None);
        assert!(matches!(cache.lookup("k", 0, false), Lookup::Miss));
        assert_eq!(cache.tokens().count(), 0);
        cache.begin("k", 2);
        cache.complete("k", Some(CachePolicy::default().admit(response(Some(600)), 0)));
        cache.begin("k", 3);
        cache.complete("k", None);
        assert_eq!(cache.tokens().count(), 1);
    }

    #[test]
    fn evict_only_drops_the_named_token() {
        let mut cache: TokenCache<u32> = TokenCache::default();
        cache.begin("k", 1);
        cache.complete("k", Some(CachePolicy::default().admit(response(Some(600)), 0)));
        cache.evict("k", "Bearer other");
        assert!(matches!(cache.lookup("k", 0, false), Lookup::Fresh(_)));
        cache.evict("k", "Bearer at");
        assert!(matches!(cache.lookup("k", 0, false), Lookup::Miss));
    }

    fn fill(cache: &mut TokenCache<u32>, key: &str) {
        cache.begin(key, 0);
        cache.complete(key, Some(CachePolicy::default().admit(response(Some(600)), 0)));
    }

    #[test]
    fn least_recently_used_keys_leave_first() {
        let mut cache: TokenCache<u32> = TokenCache::with_capacity(2);
        fill(&mut cache, "a");
        fill(&mut cache, "b");
        assert!(matches!(cache.lookup("a", 0, false), Lookup::Fresh(_)));
        fill(&mut cache, "c");
        assert_eq!(cache.len(), 2);
        assert!(matches!(cache.lookup("b", 0, false), Lookup::Miss), "b was least recently used");
        assert!(matches!(cache.lookup("a", 0, false), Lookup::Fresh(_)));
        assert!(matches!(cache.lookup("c", 0, false), Lookup::Fresh(_)));
    }

    #[test]
    fn requests_in_flight_are_never_evicted() {
        let mut cache: TokenCache<u32> = TokenCache::with_capacity(1);
        cache.begin("a", 1);
        cache.begin("b", 2);
        assert!(matches!(cache.lookup("a", 0, false), Lookup::Join(1)));
        assert!(matches!(cache.lookup("b", 0, false), Lookup::Join(2)));
        cache.complete("a", Some(CachePolicy::default().admit(response(Some(600)), 0)));
        cache.complete("b", Some(CachePolicy::default().admit(response(Some(600)), 0)));
        fill(&mut cache, "c");
        assert_eq!(cache.len(), 1);
    }
}
