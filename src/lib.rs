//! tokenfetch: a managed OAuth 2.0 machine-to-machine client — JWT client assertions
//! (RFC 7523), DPoP proofs (RFC 9449), token requests and a token cache that refreshes before
//! expiry and never stampedes the token endpoint — for every JavaScript runtime via WebAssembly
//! (the npm package, built from this crate with its `js` feature), and for Rust hosts directly.
//!
//! The protocol core has no networking code and reads no clock: every function takes the time,
//! the random bytes or the response it needs and returns data or a decision, so it is tested
//! natively with the RFCs' vectors. [`TokenClient`] is the engine: it orchestrates the core over
//! a [`Transport`] (token requests) and small [`providers`] (a clock, randomness, a signer, an
//! event sink), and decides what an API request carries and what to do after its response; the
//! host performs every request.
//!
//! Not here, on purpose: the authorization-code flow and anything with a browser redirect (this
//! is machine-to-machine), refresh tokens, and token validation (APIs validate their tokens; a
//! client treats them as opaque).
//!
//! # Map
//!
//! - **Protocol steps**, pure functions of their inputs: [`jose`] (JWS), [`jwk`] (thumbprints),
//!   [`key`] (signing keys), [`x509`] (`x5c` chains), [`assertion`] (client and grant
//!   assertions), [`dpop`] (proofs, nonces), [`grant`] (token requests), [`token`] (token
//!   responses and OAuth errors), [`discovery`] (metadata), [`www_authenticate`] (challenges),
//!   [`helseid`] (organization numbers), [`json`].
//! - **Policy**: [`config`] and [`profile`] (options, each authority's rules), [`cache`] (expiry,
//!   single flight, bounds), [`resource`] (what an API response calls for: retries, redirects),
//!   [`retry`] (backoff, `Retry-After`), [`skew`] (each origin's clock, from its `Date`
//!   headers), [`url`] (the normal form, where a token may go),
//!   [`store`] (records and keys in a shared store), [`event`].
//! - **Engine**: [`TokenClient`] with [`RequestOptions`]; what keys its cache and store is the
//!   request's shape (everything that shapes the token request, hashed under a secret).
//! - **Host boundary**: [`Transport`], [`ApiCall`], the [`providers`] ([`Clock`], [`Random`],
//!   [`Signer`], [`Events`]; [`Env`] is all four), [`Store`]. With the `js` feature (default),
//!   the JavaScript glue implements them over `fetch`, `Date.now()`, `crypto.getRandomValues`,
//!   node:crypto and WebCrypto; a Rust host implements them itself (depend with
//!   `default-features = false` in a wasm32 worker).
//!
//! # A Rust host
//!
//! A [`Transport`] sends token requests (here it answers them itself; a real one sends
//! `request` with its HTTP client and reads the response whole); the rest can be the defaults.
//!
//! ```
//! use tokenfetch::{
//!     ClientConfig, HttpRequest, HttpResponse, NoEvents, NoSigner, Providers, RequestOptions,
//!     SystemClock, TokenClient, Transport,
//! };
//!
//! struct Canned;
//!
//! impl Transport for Canned {
//!     async fn send(&self, request: HttpRequest) -> tokenfetch::Result<HttpResponse> {
//!         assert_eq!((request.method, request.url.as_str()), ("POST", "https://as.example/token"));
//!         let body = br#"{"access_token":"at-1","token_type":"Bearer","expires_in":300}"#;
//!         Ok(HttpResponse { status: 200, body: body.to_vec(), ..HttpResponse::default() })
//!     }
//! }
//!
//! // The options of the npm package, as JSON (here through serde_json).
//! let options = serde_json::json!({
//!     "tokenEndpoint": "https://as.example/token",
//!     "clientId": "worker",
//!     "clientAuth": { "method": "client_secret_post", "clientSecret": "s3cret" },
//!     "scope": "api.read",
//! });
//! let config = ClientConfig::from_json(&options.into())?;
//! let env = Providers { clock: SystemClock, random: SystemClock, signer: NoSigner, events: NoEvents };
//! let client = TokenClient::new(config, Canned, env)?;
//!
//! let token = futures_executor::block_on(client.get_token(&RequestOptions::default()))?;
//! assert_eq!(token.authorization(), "Bearer at-1");
//! // Cached: the next call asks nobody.
//! futures_executor::block_on(client.get_token(&RequestOptions::default()))?;
//! assert_eq!(client.token_requests(), 1);
//! # Ok::<(), tokenfetch::TokenError>(())
//! ```
//!
//! An API call: [`TokenClient::fetch`] over an [`ApiCall`], or the two decisions it is made of,
//! [`TokenClient::headers`] (`Authorization` and a DPoP proof) and [`TokenClient::after`] (what
//! the response calls for), for a host that sends requests its own way.
//!
//! A complete Rust host: `examples/rust-worker`, a Cloudflare Worker in Rust that hosts the engine
//! over the runtime's `fetch` without the `js` feature (`default-features = false`); its README
//! says how to build and run it.
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

#[macro_use]
mod text;

// Protocol steps.
pub mod assertion;
pub mod discovery;
pub mod dpop;
pub mod grant;
pub mod helseid;
pub mod jose;
pub mod json;
pub mod jwk;
pub mod key;
pub mod token;
pub mod www_authenticate;
pub mod x509;

// Policy.
pub mod cache;
pub mod config;
pub mod event;
pub mod profile;
pub mod resource;
pub mod retry;
pub mod skew;
pub mod store;
pub mod url;

// The engine.
mod client;
mod error;
mod shape;
mod shared;

// The host boundary.
pub mod providers;
mod transport;
#[cfg(all(target_arch = "wasm32", feature = "js"))]
mod wasm;

#[cfg(test)]
mod redaction_tests;

pub use cache::CachedToken;
pub use client::{RequestOptions, TokenClient};
pub use config::ClientConfig;
pub use error::{ErrorCode, ErrorDetails, Result, TokenError};
pub use event::Event;
#[cfg(not(target_arch = "wasm32"))]
pub use providers::SystemClock;
pub use providers::{Clock, Env, Events, NoEvents, NoSigner, Providers, Random, Signer};
pub use resource::{AfterResponse, ApiHeaders, ApiResponse, RetryBudget, SentRequest};
pub use store::{NoStore, Store};
pub use token::TokenType;
pub use transport::{ApiCall, HttpRequest, HttpResponse, Transport};
