//! The small, named providers the engine runs over besides its [`crate::Transport`]: a
//! [`Clock`], [`Random`]ness, a [`Signer`] for keys the host holds, and an [`Events`] sink. The
//! engine is generic over one [`Env`], anything that is all four; [`Providers`] makes one from
//! four separate parts. Each trait has defaults where a host may have nothing to add ([`NoSigner`]:
//! the crate's own ES256 signer only; [`NoEvents`]: events dropped).
#![allow(async_fn_in_trait)] // the engine is single-threaded (wasm); futures need not be Send

use crate::error::Result;
use crate::event::Event;
use crate::jose::Alg;
use crate::key::HostKey;

/// The time.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Wait `ms` milliseconds (before retrying a failed token request). The default does not
    /// wait; hosts with a timer should.
    async fn sleep(&self, ms: u64) {
        let _ = ms;
    }
}

/// Cryptographically secure randomness.
pub trait Random {
    /// Fill `buf` with cryptographically secure random bytes.
    fn fill_random(&self, buf: &mut [u8]);
    /// Fill `buf` with random bytes that must never repeat but are not secret once used: JWT IDs
    /// (`jti`) of proofs and assertions. A host may serve them from a buffer it fills in larger
    /// batches. The default is [`Random::fill_random`].
    fn fill_unique(&self, buf: &mut [u8]) {
        self.fill_random(buf);
    }
    /// A fresh JWT ID (`jti`): 16 bytes from [`Random::fill_unique`], base64url.
    fn jti(&self) -> String {
        let mut bytes = [0u8; 16];
        self.fill_unique(&mut bytes);
        let mut jti = String::with_capacity(22);
        crate::jose::push_b64url_public(&mut jti, &bytes);
        jti
    }
}

/// Signs with keys the host holds, or signs faster than the crate: RSA and EC P-384/P-521 keys,
/// a caller's `CryptoKey` (WebCrypto), node:crypto.
///
/// Implementers must treat [`HostKey::id`] as the key's handle: keep an imported key under that
/// id only (never under a thumbprint or anything else derived from the JWK, which another key's
/// JWK can repeat), run the pairwise consistency test of [`HostKey::check_against`] on every
/// import before a signature made with it is returned, and free the key in the hook of
/// [`crate::key::set_release_hook`].
pub trait Signer {
    /// Whether the host signs `alg` faster than the crate's own ES256 signer (p256 in wasm is
    /// portable but slower than WebCrypto or node:crypto). Default: no.
    fn prefers_host(&self, alg: Alg) -> bool {
        let _ = alg;
        false
    }

    /// Sign now, without awaiting, when the host can (a synchronous native signer); `None` when
    /// signing needs [`Signer::sign`]. Lets a cached-token request go out without a future.
    fn sign_now(&self, key: HostKey<'_>, signing_input: &[u8]) -> Option<Result<Vec<u8>>> {
        let _ = (key, signing_input);
        None
    }

    /// Sign a JWS signing input with a key the host signs with: the JWS signature bytes (for
    /// ECDSA, `R || S`). ES256 keys from a JWK sign in the crate unless [`Signer::prefers_host`]
    /// says otherwise. The default has no signer.
    async fn sign(&self, key: HostKey<'_>, signing_input: &[u8]) -> Result<Vec<u8>> {
        let _ = signing_input;
        Err(crate::TokenError::key(
            "key",
            cat!(key.alg.as_str(), " needs a host signer, and this host has none"),
        ))
    }

    /// The public JWK of a key the host holds (a caller's `CryptoKeyPair` for DPoP). The default
    /// has none.
    async fn public_jwk(&self, key: HostKey<'_>) -> Result<crate::json::Value> {
        Err(crate::TokenError::key(
            "key",
            cat!("the public key of \"", key.id, "\" is not available on this host"),
        ))
    }
}

/// Where a client's [`Event`]s go (`onEvent`).
pub trait Events {
    /// Report `event`. Must not fail: a broken sink never breaks the client.
    fn event(&self, event: Event);
}

/// What the engine runs over: a clock, randomness, a signer and an event sink in one. Anything
/// that is all four is one; [`Providers`] makes one from separate parts.
pub trait Env: Clock + Random + Signer + Events {}

impl<T: Clock + Random + Signer + Events> Env for T {}

/// An [`Env`] made of four parts.
#[derive(Clone, Debug, Default)]
pub struct Providers<C, R, S, E> {
    /// The time.
    pub clock: C,
    /// Randomness.
    pub random: R,
    /// The host's signer.
    pub signer: S,
    /// The event sink.
    pub events: E,
}

impl<C: Clock, R, S, E> Clock for Providers<C, R, S, E> {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
    async fn sleep(&self, ms: u64) {
        self.clock.sleep(ms).await;
    }
}

impl<C, R: Random, S, E> Random for Providers<C, R, S, E> {
    fn fill_random(&self, buf: &mut [u8]) {
        self.random.fill_random(buf);
    }
    fn fill_unique(&self, buf: &mut [u8]) {
        self.random.fill_unique(buf);
    }
}

impl<C, R, S: Signer, E> Signer for Providers<C, R, S, E> {
    fn prefers_host(&self, alg: Alg) -> bool {
        self.signer.prefers_host(alg)
    }
    fn sign_now(&self, key: HostKey<'_>, signing_input: &[u8]) -> Option<Result<Vec<u8>>> {
        self.signer.sign_now(key, signing_input)
    }
    async fn sign(&self, key: HostKey<'_>, signing_input: &[u8]) -> Result<Vec<u8>> {
        self.signer.sign(key, signing_input).await
    }
    async fn public_jwk(&self, key: HostKey<'_>) -> Result<crate::json::Value> {
        self.signer.public_jwk(key).await
    }
}

impl<C, R, S, E: Events> Events for Providers<C, R, S, E> {
    fn event(&self, event: Event) {
        self.events.event(event);
    }
}

/// No host signer: ES256 keys from JWKs sign in the crate (p256); other keys cannot sign.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSigner;

impl Signer for NoSigner {}

/// Events dropped.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEvents;

impl Events for NoEvents {
    fn event(&self, event: Event) {
        let _ = event;
    }
}

/// The system's clock and randomness, for native Rust hosts (`std::time`, the OS's random
/// source through `getrandom`). It does not wait in [`Clock::sleep`]: a host with an async
/// runtime should wrap it to wait with the runtime's timer.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.map_or(0, |d| d.as_millis() as u64)
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Random for SystemClock {
    fn fill_random(&self, buf: &mut [u8]) {
        // No secure randomness means no safe way on: fail closed.
        getrandom::getrandom(buf).unwrap_or_else(|e| panic!("getrandom failed: {e}"));
    }
}
