//! tokenfetch: a managed OAuth 2.0 machine-to-machine client — JWT client assertions
//! (RFC 7523), DPoP proofs (RFC 9449), token requests and a token cache that refreshes before
//! expiry and never stampedes the token endpoint — for every JavaScript runtime via WebAssembly,
//! and for Rust hosts directly.
//!
//! The protocol core has no networking code and reads no clock: every function takes the time,
//! the random bytes or the response it needs and returns data or a decision, so it is tested
//! natively with the RFCs' vectors. [`TokenClient`] orchestrates it over a small [`Transport`],
//! [`Env`] and [`ApiCall`]; the `wasm` module implements those over `fetch` for JavaScript.
#![deny(missing_docs)]

#[macro_use]
mod text;

pub mod assertion;
pub mod cache;
mod client;
pub mod config;
pub mod discovery;
pub mod dpop;
mod error;
pub mod event;
pub mod grant;
pub mod helseid;
pub mod jose;
pub mod json;
pub mod jwk;
pub mod key;
pub mod profile;
pub mod providers;
pub mod resource;
pub mod retry;
mod shape;
mod shared;
pub mod skew;
pub mod store;
pub mod token;
mod transport;
pub mod url;
pub mod www_authenticate;
pub mod x509;

#[cfg(all(target_arch = "wasm32", feature = "js"))]
mod wasm;

#[cfg(test)]
mod redaction_tests;

pub use client::{RequestOptions, TokenClient};
pub use error::{ErrorCode, ErrorDetails, Result, TokenError};
pub use providers::{Clock, Env, Events, NoEvents, NoSigner, Providers, Random, Signer};
pub use store::{NoStore, Store};
pub use transport::{ApiCall, HttpRequest, HttpResponse, Transport};
