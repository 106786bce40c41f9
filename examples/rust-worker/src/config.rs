//! The two APIs' clients, configured from the Worker's bindings (`[vars]` in wrangler.toml, and
//! the secrets `HELSEID_PRIVATE_JWK` and `API2_CLIENT_SECRET`). The options are the npm package's
//! `TokenClientOptions`, as JSON: [`tokenfetch::config::parse`] validates them, and its errors
//! name the field at fault and never quote a secret.

use serde_json::json;
use tokenfetch::{TokenClient, TokenError};
use wasm_bindgen::JsValue;

use crate::host::FetchTransport;
use crate::providers::{worker_env, WorkerEnv};

/// A client as this Worker runs it.
pub type Client = TokenClient<FetchTransport, WorkerEnv>;

/// One protected API: its client and the URL this Worker calls on it.
pub struct Api {
    /// `api1` or `api2`.
    pub name: &'static str,
    /// Gets, caches and refreshes this API's tokens.
    pub client: Client,
    /// `<API_URL><API_PATH>`, absolute and in normal form.
    pub url: String,
}

/// API 1, behind a HelseID-style authority: `private_key_jwt` (the client's ES256 private JWK)
/// and DPoP with an ephemeral key, server nonces answered.
pub fn api1(env: &JsValue) -> Result<Api, TokenError> {
    let jwk = private_jwk(env, "HELSEID_PRIVATE_JWK")?;
    let mut options = json!({
        "profile": "helseid", // assertion typ client-authentication+jwt, aud = issuer, DPoP on
        "issuer": required(env, "HELSEID_ISSUER")?,
        "clientId": required(env, "HELSEID_CLIENT_ID")?,
        "clientAuth": { "method": "private_key_jwt", "privateJwk": jwk },
        "dpop": true,
        "scope": required(env, "API1_SCOPE")?,
        "baseUrl": required(env, "API1_URL")?,
    });
    optional(&mut options, env, "tokenEndpoint", "HELSEID_TOKEN_ENDPOINT"); // else discovered
    optional(&mut options, env, "resource", "API1_RESOURCE");
    build(env, "api1", options, "API1")
}

/// API 2, behind a Duende IdentityServer-style authority: `client_secret_basic`, Bearer tokens.
pub fn api2(env: &JsValue) -> Result<Api, TokenError> {
    let mut options = json!({
        "profile": "duende",
        "tokenEndpoint": required(env, "API2_TOKEN_ENDPOINT")?,
        "clientId": required(env, "API2_CLIENT_ID")?,
        "clientAuth": { "method": "client_secret_basic", "clientSecret": required(env, "API2_CLIENT_SECRET")? },
        "scope": required(env, "API2_SCOPE")?,
        "baseUrl": required(env, "API2_URL")?,
    });
    optional(&mut options, env, "issuer", "API2_ISSUER");
    optional(&mut options, env, "resource", "API2_RESOURCE");
    build(env, "api2", options, "API2")
}

/// Validate `options` and make the client; the URL called is `<prefix>_URL` + `<prefix>_PATH`.
fn build(
    env: &JsValue,
    name: &'static str,
    options: serde_json::Value,
    prefix: &str,
) -> Result<Api, TokenError> {
    let config = tokenfetch::config::parse(&options.into())?;
    let client = TokenClient::new(config, FetchTransport, worker_env(name))?;
    let base = required(env, &format!("{prefix}_URL"))?;
    let path = var(env, &format!("{prefix}_PATH")).unwrap_or_else(|| "/".to_owned());
    let joined = format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'));
    let url = tokenfetch::url::normalize(&format!("{prefix}_URL + {prefix}_PATH"), &joined)?;
    Ok(Api { name, client, url })
}

/// A binding's string value; unset or empty is `None`.
fn var(env: &JsValue, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?.as_string()?;
    (!value.is_empty()).then_some(value)
}

fn required(env: &JsValue, name: &str) -> Result<String, TokenError> {
    var(env, name).ok_or_else(|| {
        TokenError::config(
            name,
            "is not set (a [vars] entry in wrangler.toml, or `wrangler secret put` for a secret)",
        )
    })
}

/// Set `options[field]` from the binding `name` when it is set.
fn optional(options: &mut serde_json::Value, env: &JsValue, field: &str, name: &str) {
    if let Some(value) = var(env, name) {
        options[field] = value.into();
    }
}

/// A JWK held as JSON in a secret. Parse errors say where, never what: the text is a private key.
fn private_jwk(env: &JsValue, name: &str) -> Result<serde_json::Value, TokenError> {
    let text = required(env, name)?;
    serde_json::from_str::<serde_json::Value>(&text).ok().filter(serde_json::Value::is_object).ok_or_else(
        || {
            TokenError::config(
                name,
                "is not a JSON object (a private JWK; set it with `wrangler secret put`)",
            )
        },
    )
}
