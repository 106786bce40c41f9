//! What shapes a token request, and the keys tokens are cached and stored under.
//!
//! A [`Shape`] holds every per-request input of a token request — scope and resource sets, the
//! subject token, the assertion claims and the extra parameters, each already merged with the
//! client's defaults — and the engine builds the request from it and the client's configuration
//! alone. Its [`description`](describe) is canonical bytes of *all* of those inputs, with every
//! secret reduced to a hash; the cache key and the store key are keyed hashes of it. So:
//!
//! - two requests that could be answered differently never share a key (tenants that share a
//!   client id and a store — other claims, other `extraParams`, another org number — never see
//!   each other's tokens), and a new option cannot reopen the hole: [`describe`] destructures the
//!   configuration and the shape exhaustively, so a new field does not compile until it is
//!   described or stated not to shape the request;
//! - keys are HMAC-SHA-256 under a secret (per client in memory, derived from
//!   `storeEncryptionKey` in a store): whoever reads events, `inspect()` or the store cannot test
//!   guesses of a secret, a subject or an organization number against them.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::assertion::AssertionParams;
use crate::config::{ClientAuth, ClientConfig, GrantKind, Secret, TokenEndpoint, TokenExchangeConfig};
use crate::error::{Result, TokenError};
use crate::json::{Map, Value};
use crate::RequestOptions;

/// The token to act for (`on_behalf_of`, `token_exchange`, `jwt_bearer`), with its RFC 8693 type.
#[derive(Clone, Debug)]
pub struct Subject {
    /// The token (a secret: cached only under a hash).
    pub token: Secret,
    /// Its `subject_token_type`.
    pub token_type: String,
}

/// One token request's inputs, merged with the client's defaults, and the cache key derived
/// from them.
#[derive(Clone)]
pub struct Shape {
    /// The in-memory cache key: a keyed hash of the description.
    pub key: String,
    /// SHA-256 of the description; the store key is a keyed hash of it.
    pub digest: [u8; 32],
    /// Scopes, in the order given (the description uses the set).
    pub scope: Vec<String>,
    /// RFC 8707 resources, in the order given (the description uses the set).
    pub resource: Vec<String>,
    /// The subject token, for grants that act for one.
    pub subject: Option<Subject>,
    /// Claims of the client assertion (or of a self-signed grant assertion): `clientAuth.claims`
    /// with the call's `claims` over them.
    pub claims: Map<String, Value>,
    /// Extra token request parameters: `extraParams` with the call's over them, by name.
    pub extra_params: Vec<(String, String)>,
}

/// Never prints the digest, the subject token, claims or parameter values.
impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shape")
            .field("key", &self.key)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .field("subject", &self.subject.as_ref().map(|_| "***"))
            .field("claims", &self.claims.keys().collect::<Vec<_>>())
            .field("extra_params", &self.extra_params.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

/// What identifies a client's keys in the description: the DPoP key's thumbprint (or, while
/// its public part is unknown, the host's handle for it).
pub struct Keys<'a> {
    /// The DPoP key, when DPoP is on.
    pub dpop: Option<&'a str>,
    /// The secret the in-memory key is hashed under (random per client).
    pub salt: &'a [u8; 32],
}

impl Shape {
    /// The shape of a request of `config` with the call's `options`; errors name `req.<field>`.
    pub fn resolve(config: &ClientConfig, options: &RequestOptions, keys: Keys<'_>) -> Result<Shape> {
        let grant = &config.grant;
        let subject = match (&options.subject_token, grant) {
            (Some(_), GrantKind::ClientCredentials) => {
                return Err(TokenError::argument(
                    "req.subjectToken",
                    "is only for grant \"jwt_bearer\", \"on_behalf_of\" or \"token_exchange\"",
                ))
            }
            (Some(token), _) => {
                let token_type = match (&options.subject_token_type, grant) {
                    (Some(t), _) => t.clone(),
                    (None, GrantKind::TokenExchange(x)) => x.subject_token_type.clone(),
                    (None, _) => crate::grant::ACCESS_TOKEN_TYPE.to_owned(),
                };
                Some(Subject { token: token.clone(), token_type })
            }
            (None, g) if g.needs_subject() => {
                return Err(TokenError::argument(
                    "req.subjectToken",
                    cat!("is required for grant \"", g.name(), "\""),
                ))
            }
            (None, _) => None,
        };
        let mut claims = match &config.client_auth {
            ClientAuth::PrivateKeyJwt(signer) => signer.claims().clone(),
            _ if options.claims.as_ref().is_some_and(|c| !c.is_empty()) => {
                return Err(TokenError::argument(
                    "req.claims",
                    "is only for clientAuth \"private_key_jwt\" (the claims go into the signed assertion)",
                ))
            }
            _ => Map::new(),
        };
        for (name, value) in options.claims.iter().flat_map(Map::iter) {
            claims.insert(name.clone(), value.clone());
        }
        let mut extra_params = config.extra_params.clone();
        for (name, value) in options.extra_params.iter().flatten() {
            match extra_params.iter_mut().find(|(n, _)| n == name) {
                Some((_, current)) => value.clone_into(current),
                None => extra_params.push((name.clone(), value.clone())),
            }
        }
        let mut shape = Shape {
            key: String::new(),
            digest: [0; 32],
            scope: options.scope.clone().unwrap_or_else(|| config.scope.clone()),
            resource: options.resource.clone().unwrap_or_else(|| config.resource.clone()),
            subject,
            claims,
            extra_params,
        };
        shape.digest = Sha256::digest(describe(config, keys.dpop, &shape)).into();
        shape.key = crate::jose::b64url(keyed(keys.salt, &shape.digest));
        Ok(shape)
    }
}

/// HMAC-SHA-256 of `digest` under `secret`.
pub fn keyed(secret: &[u8], digest: &[u8; 32]) -> [u8; 32] {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(digest);
    mac.finalize().into_bytes().into()
}

/// The canonical description of a token request of `config` for `shape`, with the DPoP key
/// `dpop`: every input that can change what is sent or what comes back, each as a tagged,
/// length-prefixed field; secrets and subject tokens as SHA-256 hashes, never in clear.
///
/// Both structs are destructured field by field: a field added to either does not compile here
/// until it is described, or stated not to shape the request.
pub fn describe(config: &ClientConfig, dpop: Option<&str>, shape: &Shape) -> Vec<u8> {
    let ClientConfig {
        token_endpoint,
        issuer,
        client_id,
        client_auth,
        grant,
        dpop: _, // described by the key's thumbprint, `dpop`
        // Defaults merged into the shape, described there.
        scope: _,
        resource: _,
        extra_params: _,
        // How tokens are cached, sent and retried; not what is requested.
        cache_size: _,
        refresh_before_secs: _,
        base_url: _,
        allowed_origins: _,
        timeout_ms: _,
        retry: _,
        stale_if_error_secs: _,
    } = config;
    let Shape { key: _, digest: _, scope, resource, subject, claims, extra_params } = shape;
    let mut d = Description::default();
    d.text("v", "tokenfetch/shape/1");
    match token_endpoint {
        TokenEndpoint::Configured(url) => d.text("endpoint", url),
        TokenEndpoint::Discover(issuer) => d.text("discover", issuer),
    }
    d.text("issuer", issuer.as_deref().unwrap_or(""));
    d.text("client_id", client_id);
    d.text("auth", client_auth.method());
    match client_auth {
        ClientAuth::SecretBasic(secret) | ClientAuth::SecretPost(secret) => {
            d.bytes("secret", &hash(&[secret.expose()]));
        }
        ClientAuth::PrivateKeyJwt(signer) => {
            let key = signer.key();
            // The thumbprint, or the host's handle of a key whose public part is unknown (a
            // caller's CryptoKey): unique to that key, never shared by another.
            d.text("key", key.thumbprint().unwrap_or(key.host_key().id));
            d.text("alg", key.alg().as_str());
            d.text("kid", key.kid().unwrap_or(""));
            let AssertionParams { client_id: _, audience, lifetime_secs, typ, claims: _, x5c } =
                signer.params();
            // (client_id is described above; claims are merged into the shape, described below.)
            d.text("aud", audience);
            d.text("typ", typ);
            d.text("lifetime", &crate::text::decimal(*lifetime_secs));
            for certificate in x5c.iter().flatten() {
                d.text("x5c", certificate);
            }
        }
        ClientAuth::None => {}
    }
    d.text("grant", grant.name());
    if let GrantKind::TokenExchange(x) = grant {
        let TokenExchangeConfig { subject_token_type, requested_token_type, audience, actor } = x;
        d.text("subject_token_type", subject_token_type);
        d.text("requested_token_type", requested_token_type.as_deref().unwrap_or(""));
        d.text("audience", audience.as_deref().unwrap_or(""));
        if let Some((token, token_type)) = actor {
            d.bytes("actor", &hash(&[token_type, token.expose()]));
        }
    }
    d.bytes("scope", &set(scope));
    d.bytes("resource", &set(resource));
    if let Some(Subject { token, token_type }) = subject {
        d.bytes("subject", &hash(&[token_type, token.expose()]));
    }
    d.text("claims", &crate::json::text(&Value::Object(claims.clone())));
    // By name (names are unique), sorted by binary-search insertion: the module needs no sort.
    let mut params: Vec<&(String, String)> = Vec::with_capacity(extra_params.len());
    for param in extra_params {
        let at = params.binary_search(&param).unwrap_or_else(|at| at);
        params.insert(at, param);
    }
    for (name, value) in params {
        d.text("param", name);
        d.text("value", value);
    }
    d.text("dpop", dpop.unwrap_or(""));
    d.0
}

/// Tagged, length-prefixed fields: no two different sequences of fields give the same bytes.
#[derive(Default)]
struct Description(Vec<u8>);

impl Description {
    fn text(&mut self, tag: &str, value: &str) {
        self.bytes(tag, value.as_bytes());
    }

    fn bytes(&mut self, tag: &str, value: &[u8]) {
        for part in [tag.as_bytes(), value] {
            self.0.extend_from_slice(&(part.len() as u64).to_be_bytes());
            self.0.extend_from_slice(part);
        }
    }
}

/// SHA-256 of length-prefixed parts.
fn hash(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// A list as a set: sorted, duplicates dropped, each item length-prefixed.
fn set(items: &[String]) -> Vec<u8> {
    // Binary-search insertion: lists are a few items, and the module then needs no sort.
    let mut sorted: Vec<&str> = Vec::with_capacity(items.len());
    for item in items {
        if let Err(at) = sorted.binary_search(&item.as_str()) {
            sorted.insert(at, item);
        }
    }
    let mut out = Vec::new();
    for item in sorted {
        out.extend_from_slice(&(item.len() as u64).to_be_bytes());
        out.extend_from_slice(item.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests;
