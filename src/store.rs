//! The shared token store: a cache many isolates or processes read before asking the authority
//! (Workers KV, Deno KV, Redis). This module decides; the host does the I/O through [`Store`].
//!
//! - What goes in: a small JSON record of the token and when it was issued ([`record`]); the
//!   reader applies its own refresh policy to it ([`open`]) and refuses anything odd.
//! - Under which key: an HMAC-SHA-256, under a secret derived from the encryption key, of the
//!   description of everything that shapes the token request (the request's shape, [`store_key`]).
//!   Store keys reveal nothing, and whoever reads the store (without the secret) cannot test
//!   guesses of a secret, a subject or an organization number against them.
//! - Cross-instance single-flight: an optional lock with an owner and a lifetime, taken before a
//!   token request; the others poll the store with growing pauses ([`poll_delay_ms`]) until the
//!   token appears, the lock frees up, or their time is spent.
//!
//! Values are secrets. A [`Store`] implementation must encrypt them (the JavaScript glue seals
//! each value with AES-GCM, bound to its key, with the caller's `storeEncryptionKey`).
#![allow(async_fn_in_trait)] // single-threaded engine; futures need not be Send

use crate::json::{Map, Value};

use crate::cache::{CachePolicy, CachedToken};
use crate::error::Result;
use crate::jose::b64url;
use crate::token::TokenType;

/// Key/value storage shared between client instances. Errors are reported as events and the
/// client goes on without the store: the authority stays the source of truth.
pub trait Store {
    /// The secret store keys are hashed under: the same in every instance that shares the store,
    /// and derived from the key values are encrypted with, so that whoever reads the store
    /// cannot tell what a key stands for. Asked once per client. (The JavaScript glue derives it
    /// as SHA-256 of the AES-GCM encryption, under `storeEncryptionKey`, of a fixed label with a
    /// fixed IV: the same for the key given as text or as a `CryptoKey`.)
    async fn naming_secret(&self) -> Result<[u8; 32]>;
    /// The value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<String>>;
    /// Store `value` under `key` for `ttl_secs` seconds.
    async fn set(&self, key: &str, value: &str, ttl_secs: u64) -> Result<()>;
    /// Remove `key`.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Take the lock `key` for `owner` for `ttl_ms` unless someone holds it: `Some(true)` when
    /// taken, `Some(false)` when held by another, `None` when this store has no locks.
    async fn lock(&self, key: &str, owner: &str, ttl_ms: u64) -> Result<Option<bool>>;
    /// Release the lock `key` if `owner` still holds it.
    async fn unlock(&self, key: &str, owner: &str) -> Result<()>;
}

/// No store: the client's own cache only.
pub enum NoStore {}

impl Store for NoStore {
    async fn naming_secret(&self) -> Result<[u8; 32]> {
        match *self {}
    }
    async fn get(&self, _: &str) -> Result<Option<String>> {
        match *self {}
    }
    async fn set(&self, _: &str, _: &str, _: u64) -> Result<()> {
        match *self {}
    }
    async fn delete(&self, _: &str) -> Result<()> {
        match *self {}
    }
    async fn lock(&self, _: &str, _: &str, _: u64) -> Result<Option<bool>> {
        match *self {}
    }
    async fn unlock(&self, _: &str, _: &str) -> Result<()> {
        match *self {}
    }
}

/// Record and key format version, part of every key: a new format never reads an old one.
const VERSION: &str = "tokenfetch/v2/";

/// The most a stored token may claim to live (matches the token response bound).
const MAX_LIFETIME_MS: u64 = 366 * 24 * 3600 * 1000;

/// The store key for tokens of the request whose description hashes to `digest`
/// (SHA-256 of the request's description): `tokenfetch/v2/` and its HMAC-SHA-256 under `secret`
/// ([`Store::naming_secret`]), base64url.
pub fn store_key(secret: &[u8; 32], digest: &[u8; 32]) -> String {
    cat!(VERSION, b64url(crate::shape::keyed(secret, digest)))
}

/// The lock guarding token requests for `store_key`.
pub fn lock_key(store_key: &str) -> String {
    cat!(store_key, "/lock")
}

/// The stored form of `token`, received at `issued_at_ms`:
/// `{"v":1,"a":..,"t":..,"i":..,"e":..,"s"?:..,"y"?:..}` (`y`: the RFC 8693 issued token type).
pub fn record(token: &CachedToken, issued_at_ms: u64) -> String {
    let mut record = Map::new();
    record.insert("v".into(), Value::from(1));
    record.insert("a".into(), Value::from(token.access_token.as_str()));
    record.insert("t".into(), Value::from(token.token_type.as_str()));
    record.insert("i".into(), Value::from(issued_at_ms));
    record.insert("e".into(), Value::from(token.expires_at_ms));
    if let Some(scope) = &token.scope {
        record.insert("s".into(), Value::from(scope.as_str()));
    }
    if let Some(issued) = &token.issued_token_type {
        record.insert("y".into(), Value::from(issued.as_str()));
    }
    crate::json::text(&Value::Object(record))
}

/// A stored record as a cache entry under this client's `policy`, when it is well-formed, of the
/// expected token type (or `N_A` with its issued token type: never sent as `Authorization`), and
/// still fresh at `now_ms`. Anything else reads as a miss.
pub fn open(value: &str, policy: &CachePolicy, expect: TokenType, now_ms: u64) -> Option<CachedToken> {
    let parsed = crate::json::parse(value.as_bytes())?;
    let record = parsed.as_object()?;
    let text = |k: &str| record.get(k).and_then(Value::as_str);
    let number = |k: &str| record.get(k).and_then(Value::as_u64);
    let issued_token_type = match record.get("y") {
        None => None,
        Some(y) => Some(y.as_str()?.to_owned()),
    };
    let token_type = match text("t")? {
        "Bearer" => TokenType::Bearer,
        "DPoP" => TokenType::DPoP,
        "N_A" if issued_token_type.is_some() => TokenType::NotApplicable,
        _ => return None,
    };
    let (access_token, issued_at_ms, expires_at_ms) = (text("a")?, number("i")?, number("e")?);
    let scope = match record.get("s") {
        None => None,
        Some(s) => Some(s.as_str()?.to_owned()),
    };
    let lifetime = expires_at_ms.checked_sub(issued_at_ms)?;
    let sane = number("v") == Some(1)
        && (token_type == expect || token_type == TokenType::NotApplicable)
        && crate::token::is_b64token(access_token)
        && lifetime > 0
        && lifetime <= MAX_LIFETIME_MS
        && issued_at_ms <= now_ms.saturating_add(60_000); // tolerate clock skew between hosts
    if !sane {
        return None;
    }
    let buffer = policy.refresh_before_ms.min(lifetime / 2);
    let token = CachedToken {
        access_token: access_token.to_owned(),
        token_type,
        expires_at_ms,
        refresh_at_ms: expires_at_ms - buffer,
        scope,
        issued_token_type,
    };
    token.is_fresh(now_ms).then_some(token)
}

/// How long the store should keep a record: until the token expires, in whole seconds (at least 1).
pub fn ttl_secs(token: &CachedToken, now_ms: u64) -> u64 {
    token.expires_at_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
}

/// How long a lock holder may take: the token request's bound plus a margin; a holder that dies
/// frees the lock by then.
pub fn lock_ttl_ms(timeout_ms: u32) -> u64 {
    u64::from(timeout_ms) + 1000
}

/// The pause before the `attempt`-th look at the store while another instance holds the lock:
/// 25 ms doubling to at most 400 ms, never past `remaining_ms`. `None` when time is spent.
pub fn poll_delay_ms(attempt: u32, remaining_ms: u64) -> Option<u64> {
    if remaining_ms == 0 {
        return None;
    }
    let delay = 25u64.saturating_mul(1 << attempt.min(4)).min(400);
    Some(delay.min(remaining_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_at_ms: u64) -> CachedToken {
        CachedToken {
            access_token: "at-1".into(),
            token_type: TokenType::DPoP,
            expires_at_ms,
            refresh_at_ms: expires_at_ms - 60_000,
            scope: Some("read".into()),
            issued_token_type: None,
        }
    }

    #[test]
    fn keys_are_keyed_hashes_of_the_description() {
        let (secret, digest) = ([7u8; 32], [9u8; 32]);
        let a = store_key(&secret, &digest);
        assert!(a.starts_with("tokenfetch/v2/"));
        assert_eq!(a.len(), "tokenfetch/v2/".len() + 43);
        assert_eq!(a, store_key(&secret, &digest));
        assert_ne!(a, store_key(&[8u8; 32], &digest), "another secret, another key");
        assert_ne!(a, store_key(&secret, &[10u8; 32]));
        // Not the digest itself, nor its unkeyed hash: only the secret's holder can compute it.
        assert_ne!(&a["tokenfetch/v2/".len()..], b64url(digest));
        assert_eq!(lock_key(&a), format!("{a}/lock"));
    }

    #[test]
    fn records_round_trip_under_the_readers_policy() {
        let policy = CachePolicy::default();
        let issued = 1_000_000;
        let stored = record(&token(issued + 3_600_000), issued);
        assert!(!stored.contains("refresh"), "the reader decides when to refresh");
        let read = open(&stored, &policy, TokenType::DPoP, issued + 10).unwrap();
        assert_eq!(read.access_token, "at-1");
        assert_eq!(read.expires_at_ms, issued + 3_600_000);
        assert_eq!(read.refresh_at_ms, issued + 3_600_000 - 60_000);
        assert_eq!(read.scope.as_deref(), Some("read"));
        // A reader with a longer refresh buffer refreshes earlier.
        let eager = CachePolicy { refresh_before_ms: 600_000, ..policy };
        assert_eq!(open(&stored, &eager, TokenType::DPoP, issued).unwrap().refresh_at_ms, issued + 3_000_000);
        // In the refresh window or expired: a miss.
        assert!(open(&stored, &policy, TokenType::DPoP, issued + 3_540_000).is_none());
        assert!(open(&stored, &policy, TokenType::DPoP, issued + 4_000_000).is_none());
    }

    #[test]
    fn an_n_a_record_keeps_its_type_and_what_was_issued() {
        let (policy, now) = (CachePolicy::default(), 5_000_000);
        let id_token = "urn:ietf:params:oauth:token-type:id_token";
        let na = CachedToken {
            token_type: TokenType::NotApplicable,
            issued_token_type: Some(id_token.into()),
            ..token(now + 600_000)
        };
        let stored = record(&na, now);
        for expect in [TokenType::Bearer, TokenType::DPoP] {
            let read = open(&stored, &policy, expect, now).unwrap();
            assert_eq!((read.token_type, read.issued_token_type.as_deref()), (na.token_type, Some(id_token)));
        }
        // N_A only with what was issued; the others carry it along when there is one.
        let bare = r#"{"v":1,"a":"x","t":"N_A","i":5000000,"e":5600000}"#;
        assert!(open(bare, &policy, TokenType::Bearer, now).is_none());
        let odd = r#"{"v":1,"a":"x","t":"N_A","i":5000000,"e":5600000,"y":7}"#;
        assert!(open(odd, &policy, TokenType::Bearer, now).is_none());
        let access = CachedToken {
            issued_token_type: Some("urn:ietf:params:oauth:token-type:access_token".into()),
            ..token(now + 600_000)
        };
        let read = open(&record(&access, now), &policy, TokenType::DPoP, now).unwrap();
        assert_eq!(read, access);
    }

    #[test]
    fn odd_records_read_as_misses() {
        let policy = CachePolicy::default();
        let now = 5_000_000;
        let good = record(&token(now + 600_000), now);
        assert!(open(&good, &policy, TokenType::DPoP, now).is_some());
        // A Bearer client never takes a DPoP token (nor the reverse).
        assert!(open(&good, &policy, TokenType::Bearer, now).is_none());
        for bad in [
            "",
            "not json",
            "{}",
            r#"{"v":2,"a":"x","t":"DPoP","i":5000000,"e":5600000}"#,
            r#"{"v":1,"a":"","t":"DPoP","i":5000000,"e":5600000}"#,
            r#"{"v":1,"a":"x y","t":"DPoP","i":5000000,"e":5600000}"#,
            r#"{"v":1,"a":"x\u0000","t":"DPoP","i":5000000,"e":5600000}"#,
            r#"{"v":1,"a":"x","t":"MAC","i":5000000,"e":5600000}"#,
            r#"{"v":1,"a":"x","t":"DPoP","i":5600000,"e":5000000}"#,
            r#"{"v":1,"a":"x","t":"DPoP","i":5000000,"e":5000000}"#,
            r#"{"v":1,"a":"x","t":"DPoP","i":-1,"e":5600000}"#,
            r#"{"v":1,"a":"x","t":"DPoP","i":5000000,"e":99999999999999999}"#,
            // Issued an hour in the future: a wrong clock or a forged record.
            r#"{"v":1,"a":"x","t":"DPoP","i":8600000,"e":9600000}"#,
        ] {
            assert!(open(bad, &policy, TokenType::DPoP, now).is_none(), "{bad}");
        }
    }

    #[test]
    fn ttl_and_polling_are_bounded() {
        assert_eq!(ttl_secs(&token(100_500), 99_000), 2);
        assert_eq!(ttl_secs(&token(99_000), 100_000), 1);
        assert_eq!(lock_ttl_ms(30_000), 31_000);
        let delays: Vec<_> = (0..7).map(|n| poll_delay_ms(n, 10_000).unwrap()).collect();
        assert_eq!(delays, [25, 50, 100, 200, 400, 400, 400]);
        assert_eq!(poll_delay_ms(3, 30), Some(30));
        assert_eq!(poll_delay_ms(0, 0), None);
    }
}
