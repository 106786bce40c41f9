//! Client options: validated once, at construction, into types that cannot hold a wrong state.
//! Every error is [`ErrorCode::InvalidConfig`](crate::ErrorCode) and names the option path.

use crate::json::{Map, Value};

use crate::assertion::{AssertionParams, AssertionSigner};
use crate::error::{ErrorCode, Result, TokenError};
use crate::key::SigningKey;
use crate::profile::{self, Audience, Profile};
use crate::text::decimal;

/// A validated client configuration (`Debug`, at the end of this file, shows `extraParams` names
/// only).
#[derive(Clone)]
pub struct ClientConfig {
    /// Where token requests go.
    pub token_endpoint: TokenEndpoint,
    /// The issuer, when configured.
    pub issuer: Option<String>,
    /// `client_id`.
    pub client_id: String,
    /// How the client authenticates.
    pub client_auth: ClientAuth,
    /// The grant requested.
    pub grant: GrantKind,
    /// `cacheSize`: the most cache keys kept (default 1000; least recently used leave first).
    pub cache_size: usize,
    /// Default scopes.
    pub scope: Vec<String>,
    /// Default RFC 8707 resources.
    pub resource: Vec<String>,
    /// Extra token request parameters.
    pub extra_params: Vec<(String, String)>,
    /// DPoP key source.
    pub dpop: DpopSetting,
    /// `refreshBeforeExpirySeconds` (default 60).
    pub refresh_before_secs: u64,
    /// `baseUrl` for relative `fetch` inputs.
    pub base_url: Option<String>,
    /// `allowedOrigins`: with `baseUrl`, the other origins `fetch` may send a token to.
    pub allowed_origins: Vec<String>,
    /// `timeoutMs`: bound on getting a token, retries included (default 30 000).
    pub timeout_ms: u32,
    /// When token requests are retried (`retries`: how many times, default 2).
    pub retry: crate::retry::RetryPolicy,
    /// `staleIfErrorSeconds`: after a failed refresh, keep serving a cached token that has not
    /// expired for up to this long past its refresh time (default 0: off).
    pub stale_if_error_secs: u64,
}

/// The token endpoint: configured, or discovered from the issuer's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenEndpoint {
    /// `tokenEndpoint` as configured.
    Configured(String),
    /// Discover it from this issuer (`issuer` without `tokenEndpoint`).
    Discover(String),
}

/// The grant a client requests (`grant`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantKind {
    /// `client_credentials` (RFC 6749 §4.4), the default.
    ClientCredentials,
    /// `jwt_bearer` (RFC 7523 §2.1): without a per-request `subjectToken`, the grant assertion is
    /// signed with `clientAuth`'s key (Maskinporten); with one, that token is the assertion.
    JwtBearer,
    /// `on_behalf_of` (Microsoft Entra): a per-request `subjectToken` (the user's token) is the
    /// assertion, with `requested_token_use=on_behalf_of`.
    OnBehalfOf,
    /// `token_exchange` (RFC 8693): a per-request `subjectToken`.
    TokenExchange(TokenExchangeConfig),
}

impl GrantKind {
    /// The option value naming this grant.
    pub fn name(&self) -> &'static str {
        match self {
            GrantKind::ClientCredentials => "client_credentials",
            GrantKind::JwtBearer => "jwt_bearer",
            GrantKind::OnBehalfOf => "on_behalf_of",
            GrantKind::TokenExchange(_) => "token_exchange",
        }
    }

    /// Whether requests carry a caller's subject token (always for OBO and token exchange).
    pub fn needs_subject(&self) -> bool {
        matches!(self, GrantKind::OnBehalfOf | GrantKind::TokenExchange(_))
    }
}

/// `tokenExchange` options (RFC 8693 §2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenExchangeConfig {
    /// Default `subject_token_type` (default: access token).
    pub subject_token_type: String,
    /// `requested_token_type`.
    pub requested_token_type: Option<String>,
    /// `audience`.
    pub audience: Option<String>,
    /// `actor_token` and its type.
    pub actor: Option<(Secret, String)>,
}

/// Client authentication at the token endpoint.
#[derive(Clone)]
pub enum ClientAuth {
    /// `client_secret_basic`.
    SecretBasic(Secret),
    /// `client_secret_post`.
    SecretPost(Secret),
    /// `private_key_jwt`.
    PrivateKeyJwt(Box<AssertionSigner>),
    /// `none` (public client).
    None,
}

impl ClientAuth {
    /// The `token_endpoint_auth_method` name.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::SecretBasic(_) => "client_secret_basic",
            ClientAuth::SecretPost(_) => "client_secret_post",
            ClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
            ClientAuth::None => "none",
        }
    }
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.method())
    }
}

/// A client secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(secret: String) -> Self {
        Secret(secret)
    }
    /// The secret, for building the request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the DPoP key comes from.
#[derive(Clone, Debug)]
pub enum DpopSetting {
    /// No DPoP: Bearer tokens.
    Off,
    /// Generate an ephemeral ES256 key when the client is built.
    Generate,
    /// Use this key.
    Key(Box<SigningKey>),
}

const KNOWN: &[&str] = &[
    "onEvent",
    "retries",
    "tokenExchange",
    "cacheSize",
    "issuer",
    "tokenEndpoint",
    "clientId",
    "clientAuth",
    "profile",
    "grant",
    "scope",
    "resource",
    "extraParams",
    "dpop",
    "refreshBeforeExpirySeconds",
    "store",
    "storeEncryptionKey",
    "staleIfErrorSeconds",
    "fetch",
    "baseUrl",
    "allowedOrigins",
    "timeoutMs",
];

/// Keys the host holds, given in options as objects JSON cannot carry (a `CryptoKey`).
#[derive(Clone, Debug, Default)]
pub struct HostKeys {
    /// `clientAuth.key`, registered with the host.
    pub client_auth: Option<SigningKey>,
    /// `dpop.keyPair`, registered with the host (its public JWK is fetched on first use).
    pub dpop: Option<SigningKey>,
}

impl ClientConfig {
    /// Validate `TokenClientOptions` given as JSON (the npm package's options; see [`parse`]).
    pub fn from_json(options: &Value) -> Result<ClientConfig> {
        parse(options)
    }
}

/// Validate `TokenClientOptions` (as JSON; `fetch`, `onEvent`, `store` and `storeEncryptionKey`
/// are the host's business).
pub fn parse(options: &Value) -> Result<ClientConfig> {
    parse_with(options, HostKeys::default())
}

/// [`parse`], with keys the host holds.
pub fn parse_with(options: &Value, host_keys: HostKeys) -> Result<ClientConfig> {
    let obj = options.as_object().ok_or_else(|| TokenError::config("options", "must be an object"))?;
    known_keys(obj, "options", KNOWN).map_err(as_config)?;
    let profile = profile::by_name(opt_str(obj, "profile")?.unwrap_or("generic"))?;
    let mut with_defaults = obj.clone();
    profile.apply_defaults(&mut with_defaults);
    let obj = &with_defaults;
    let grant = grant(obj)?;
    // The issuer is an identifier: checked to be an https URL, then kept exactly as given.
    let issuer = opt_str(obj, "issuer")?.map(str::to_owned);
    if let Some(issuer) = &issuer {
        crate::url::normalize("issuer", issuer)?;
        if issuer.contains(['?', '#']) {
            return Err(TokenError::config("issuer", "must not have a query or fragment (RFC 8414 §2)"));
        }
    }
    let configured_endpoint = opt_str(obj, "tokenEndpoint")?;
    let token_endpoint = match (configured_endpoint, &issuer) {
        (Some(url), _) => TokenEndpoint::Configured(endpoint_url("tokenEndpoint", url)?),
        (None, Some(issuer)) => TokenEndpoint::Discover(issuer.clone()),
        (None, None) => return Err(TokenError::config("tokenEndpoint", "is required (or \"issuer\")")),
    };
    let client_id = req_str(obj, "clientId")?.to_owned();
    if profile.needs_issuer && issuer.is_none() {
        return Err(TokenError::config(
            "issuer",
            cat!("is required by profile \"", profile.name, "\" (it is the client assertion audience)"),
        ));
    }
    // An audience is an identifier too: the issuer or the token endpoint exactly as configured.
    let audience_default = match (profile.audience, &issuer, configured_endpoint) {
        (Audience::TokenEndpoint, _, endpoint) => endpoint.map(str::to_owned),
        (Audience::Issuer, Some(issuer), _) => Some(issuer.clone()),
        (Audience::Issuer, None, endpoint) => endpoint.map(str::to_owned),
    };
    let auth = AuthContext {
        client_id: &client_id,
        audience: audience_default,
        host_key: host_keys.client_auth,
        profile,
    };
    Ok(ClientConfig {
        client_auth: client_auth(obj, auth)?,
        cache_size: opt_uint(obj, "cacheSize", 1, 1_000_000)?
            .map_or(crate::cache::DEFAULT_CAPACITY, |n| n as usize),
        scope: string_list(obj, "scope", true)?,
        resource: string_list(obj, "resource", false)?
            .into_iter()
            .enumerate()
            .map(|(i, r)| resource_uri(&cat!("resource[", decimal(i as u64), "]"), r))
            .collect::<Result<_>>()?,
        extra_params: extra_params(obj)?,
        dpop: dpop(obj, host_keys.dpop)?,
        refresh_before_secs: opt_uint(obj, "refreshBeforeExpirySeconds", 0, 86_400)?.unwrap_or(60),
        base_url: opt_str(obj, "baseUrl")?.map(|u| crate::url::normalize("baseUrl", u)).transpose()?,
        allowed_origins: string_list(obj, "allowedOrigins", false)?
            .iter()
            .enumerate()
            .map(|(i, o)| crate::url::normalize_origin(&cat!("allowedOrigins[", decimal(i as u64), "]"), o))
            .collect::<Result<_>>()?,
        timeout_ms: opt_uint(obj, "timeoutMs", 1, 600_000)?.unwrap_or(30_000) as u32,
        retry: crate::retry::RetryPolicy {
            max_retries: opt_uint(obj, "retries", 0, 10)?.map_or(2, |n| n as u32),
            ..Default::default()
        },
        stale_if_error_secs: opt_uint(obj, "staleIfErrorSeconds", 0, 86_400)?.unwrap_or(0),
        token_endpoint,
        issuer,
        client_id,
        grant,
    })
    .and_then(check_grant)
}

/// The members of `TokenRequestOptions`.
const REQUEST_KEYS: &[&str] =
    &["scope", "resource", "subjectToken", "subjectTokenType", "forceRefresh", "claims", "extraParams"];

/// Validate `TokenRequestOptions` (per call); errors are `invalid_argument` naming `req.<field>`.
pub fn parse_request(req: &Value) -> Result<crate::RequestOptions> {
    let obj = match req {
        Value::Null => return Ok(crate::RequestOptions::default()),
        Value::Object(obj) => obj,
        _ => return Err(TokenError::argument("req", "must be an object")),
    };
    known_keys(obj, "req", REQUEST_KEYS)?;
    let as_argument = |mut e: TokenError| {
        e.code = ErrorCode::InvalidArgument;
        e.message = cat!("req.", e.message);
        e
    };
    let absent = |name: &str| obj.get(name).is_none_or(Value::is_null);
    let list = |name: &str, split: bool| -> Result<Option<Vec<String>>> {
        if absent(name) {
            return Ok(None);
        }
        string_list(obj, name, split).map(Some).map_err(as_argument)
    };
    let text = |name: &str| opt_str(obj, name).map(|v| v.map(str::to_owned)).map_err(as_argument);
    let force_refresh = match obj.get("forceRefresh") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(TokenError::argument("req.forceRefresh", "must be a boolean")),
    };
    let claims = match obj.get("claims") {
        None | Some(Value::Null) => None,
        Some(Value::Object(claims)) => Some(claims.clone()),
        Some(_) => return Err(TokenError::argument("req.claims", "must be an object")),
    };
    let extra_params =
        if absent("extraParams") { None } else { Some(extra_params(obj).map_err(as_argument)?) };
    Ok(crate::RequestOptions {
        scope: list("scope", true)?,
        resource: list("resource", false)?,
        subject_token: text("subjectToken")?.map(Secret::new),
        subject_token_type: text("subjectTokenType")?,
        force_refresh,
        claims,
        extra_params,
    })
}

/// Refuse members of `obj` (the option object at `path`) not in `known`: a misspelt option must
/// never silently turn a setting off. An `invalid_argument` error; options make it `invalid_config`.
fn known_keys(obj: &Map<String, Value>, path: &str, known: &[&str]) -> Result<()> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(TokenError::argument(
            path,
            cat!("unknown option \"", crate::text::clean(unknown, crate::text::QUOTED), "\""),
        )),
        None => Ok(()),
    }
}

fn grant(obj: &Map<String, Value>) -> Result<GrantKind> {
    let name = opt_str(obj, "grant")?.unwrap_or("client_credentials");
    let exchange = match obj.get("tokenExchange") {
        None | Some(Value::Null) => None,
        Some(Value::Object(x)) => Some(x),
        Some(_) => return Err(TokenError::config("tokenExchange", "must be an object")),
    };
    if let Some(x) = exchange {
        const EXCHANGE_KEYS: &[&str] =
            &["subjectTokenType", "requestedTokenType", "audience", "actorToken", "actorTokenType"];
        known_keys(x, "tokenExchange", EXCHANGE_KEYS).map_err(as_config)?;
    }
    if exchange.is_some() && name != "token_exchange" {
        return Err(TokenError::config("tokenExchange", "is only for grant \"token_exchange\""));
    }
    Ok(match name {
        "client_credentials" => GrantKind::ClientCredentials,
        "jwt_bearer" => GrantKind::JwtBearer,
        "on_behalf_of" => GrantKind::OnBehalfOf,
        "token_exchange" => {
            let empty = Map::new();
            let x = exchange.unwrap_or(&empty);
            let field = |name: &str| cat!("tokenExchange.", name);
            let text = |name: &str| opt_str_in(x, &field(name), name).map(|v| v.map(str::to_owned));
            let actor = match (text("actorToken")?, text("actorTokenType")?) {
                (Some(token), kind) => {
                    Some((Secret::new(token), kind.unwrap_or_else(|| crate::grant::ACCESS_TOKEN_TYPE.to_owned())))
                }
                (None, Some(_)) => {
                    return Err(TokenError::config("tokenExchange.actorTokenType", "needs \"actorToken\""))
                }
                (None, None) => None,
            };
            GrantKind::TokenExchange(TokenExchangeConfig {
                subject_token_type: text("subjectTokenType")?
                    .unwrap_or_else(|| crate::grant::ACCESS_TOKEN_TYPE.to_owned()),
                requested_token_type: text("requestedTokenType")?,
                audience: text("audience")?,
                actor,
            })
        }
        other => {
            return Err(TokenError::config(
                "grant",
                cat!(
                    "\"",
                    crate::text::clean(other, crate::text::QUOTED),
                    "\" is not one of \"client_credentials\", \"jwt_bearer\", \"token_exchange\", \"on_behalf_of\""
                ),
            ))
        }
    })
}

/// Rules between options: a Maskinporten-style `jwt_bearer` grant assertion lives at most 120 s.
fn check_grant(config: ClientConfig) -> Result<ClientConfig> {
    if let (GrantKind::JwtBearer, ClientAuth::PrivateKeyJwt(signer)) = (&config.grant, &config.client_auth) {
        if signer.lifetime_secs() > 120 {
            return Err(TokenError::config(
                "clientAuth.lifetimeSeconds",
                "must be at most 120 for grant \"jwt_bearer\" (exp - iat <= 120)",
            ));
        }
    }
    Ok(config)
}

/// What client authentication is read with besides its own options.
struct AuthContext<'a> {
    client_id: &'a str,
    /// The default assertion audience (`None`: must be configured).
    audience: Option<String>,
    host_key: Option<SigningKey>,
    profile: Profile,
}

fn client_auth(obj: &Map<String, Value>, ctx: AuthContext<'_>) -> Result<ClientAuth> {
    let AuthContext { client_id, audience, host_key, profile } = ctx;
    let auth = match obj.get("clientAuth") {
        Some(Value::Object(auth)) => auth,
        Some(_) => return Err(TokenError::config("clientAuth", "must be an object")),
        None => return Err(TokenError::config("clientAuth", "is required")),
    };
    let secret = || -> Result<Secret> {
        Ok(Secret::new(nonempty(auth, "clientAuth.clientSecret", "clientSecret")?.to_owned()))
    };
    const AUTH_KEYS: &[&str] = &[
        "method",
        "clientSecret",
        "privateJwk",
        "key",
        "kid",
        "alg",
        "audience",
        "lifetimeSeconds",
        "claims",
        "x5c",
    ];
    known_keys(auth, "clientAuth", AUTH_KEYS).map_err(as_config)?;
    let method = nonempty(auth, "clientAuth.method", "method")?;
    profile.check_method(method)?;
    match method {
        "client_secret_basic" => Ok(ClientAuth::SecretBasic(secret()?)),
        "client_secret_post" => Ok(ClientAuth::SecretPost(secret()?)),
        "none" => Ok(ClientAuth::None),
        "private_key_jwt" => {
            let key = match (auth.get("privateJwk"), host_key) {
                (Some(_), Some(_)) => {
                    return Err(TokenError::config("clientAuth", "give \"privateJwk\" or \"key\", not both"))
                }
                (None, Some(key)) => key,
                (Some(jwk), None) => SigningKey::from_jwk(
                    "clientAuth.privateJwk",
                    jwk,
                    opt_str_in(auth, "clientAuth.alg", "alg")?,
                    opt_str_in(auth, "clientAuth.kid", "kid")?,
                )
                .map_err(as_config)?,
                (None, None) => {
                    return Err(TokenError::config(
                        "clientAuth.privateJwk",
                        "is required for private_key_jwt (or \"key\": a CryptoKey)",
                    ))
                }
            };
            let claims = match auth.get("claims") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(c)) => c.clone(),
                Some(_) => return Err(TokenError::config("clientAuth.claims", "must be an object")),
            };
            profile.check_alg(key.alg().as_str())?;
            let x5c = match auth.get("x5c") {
                None | Some(Value::Null) => None,
                Some(value) => Some(certificate_chain(value, &key)?),
            };
            let audience = match (opt_str_in(auth, "clientAuth.audience", "audience")?, audience) {
                (Some(aud), _) => aud.to_owned(),
                (None, Some(aud)) => aud,
                (None, None) => {
                    return Err(TokenError::config(
                        "clientAuth.audience",
                        cat!("is required: profile \"", profile.name, "\" wants the token endpoint URL as the assertion audience; set \"tokenEndpoint\" or \"clientAuth.audience\""),
                    ))
                }
            };
            let (default_lifetime, max_lifetime) = profile.assertion_lifetime;
            let lifetime = match auth.get("lifetimeSeconds") {
                None | Some(Value::Null) => default_lifetime,
                Some(v) => uint("clientAuth.lifetimeSeconds", v, 1, max_lifetime)?,
            };
            Ok(ClientAuth::PrivateKeyJwt(Box::new(AssertionSigner::new(
                key,
                AssertionParams {
                    client_id: client_id.to_owned(),
                    audience,
                    lifetime_secs: lifetime,
                    typ: profile.assertion_typ.to_owned(),
                    claims,
                    x5c,
                },
            ))))
        }
        other => Err(TokenError::config(
            "clientAuth.method",
            cat!(
                "\"",
                crate::text::clean(other, crate::text::QUOTED),
                "\" is not one of \"client_secret_basic\", \"client_secret_post\", \"private_key_jwt\", \"none\""
            ),
        )),
    }
}

/// `clientAuth.x5c`: a certificate chain whose leaf holds `key` (its public key, compared by
/// RFC 7638 thumbprint), to go in the assertion header.
fn certificate_chain(value: &Value, key: &SigningKey) -> Result<Vec<String>> {
    const FIELD: &str = "clientAuth.x5c";
    let chain = crate::x509::chain(FIELD, value)?;
    let Some(thumbprint) = key.thumbprint() else {
        return Err(TokenError::config(
            FIELD,
            "needs \"privateJwk\": the leaf certificate's key is checked against it at construction",
        ));
    };
    if crate::jwk::thumbprint(FIELD, &chain.leaf_jwk)? != thumbprint {
        return Err(TokenError::config(
            FIELD,
            "the leaf certificate (the first) does not hold the signing key",
        ));
    }
    Ok(chain.certificates)
}

fn dpop(obj: &Map<String, Value>, host_key: Option<SigningKey>) -> Result<DpopSetting> {
    const SHAPE: &str = "must be true, false, { privateJwk } or { keyPair }";
    if let Some(Value::Object(d)) = obj.get("dpop") {
        known_keys(d, "dpop", &["privateJwk", "keyPair"]).map_err(as_config)?;
    }
    match (obj.get("dpop"), host_key) {
        (Some(Value::Object(d)), Some(key)) if !d.contains_key("privateJwk") => {
            Ok(DpopSetting::Key(Box::new(key)))
        }
        (_, Some(_)) => Err(TokenError::config("dpop", "give \"privateJwk\" or \"keyPair\", not both")),
        (None | Some(Value::Null) | Some(Value::Bool(false)), None) => Ok(DpopSetting::Off),
        (Some(Value::Bool(true)), None) => Ok(DpopSetting::Generate),
        (Some(Value::Object(d)), None) => match d.get("privateJwk") {
            Some(jwk) => SigningKey::from_jwk("dpop.privateJwk", jwk, None, None)
                .map(|k| DpopSetting::Key(Box::new(k)))
                .map_err(as_config),
            None => Err(TokenError::config("dpop", SHAPE)),
        },
        (Some(_), None) => Err(TokenError::config("dpop", SHAPE)),
    }
}

/// Key errors found while reading options are configuration errors.
fn as_config(mut e: TokenError) -> TokenError {
    e.code = ErrorCode::InvalidConfig;
    e
}

/// Token request parameters tokenfetch writes; `extraParams` may not repeat them.
const RESERVED_PARAMS: &[&str] = &[
    "grant_type",
    "scope",
    "resource",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "assertion",
    "requested_token_use",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "audience",
];

fn extra_params(obj: &Map<String, Value>) -> Result<Vec<(String, String)>> {
    match obj.get("extraParams") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                _ if RESERVED_PARAMS.contains(&k.as_str()) => Err(TokenError::config(
                    &cat!("extraParams.", k), // one of ours: printable
                    "is a parameter tokenfetch sets itself (RFC 6749 §3.2: parameters must not repeat); use its option",
                )),
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(TokenError::config(
                    &cat!("extraParams.\"", crate::text::clean(k, crate::text::QUOTED), "\""),
                    "must be a string",
                )),
            })
            .collect(),
        Some(_) => Err(TokenError::config("extraParams", "must be an object of strings")),
    }
}

/// A `string | string[]` option; `split_spaces` splits a single string on spaces (scope).
pub fn string_list(obj: &Map<String, Value>, name: &str, split_spaces: bool) -> Result<Vec<String>> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if split_spaces => {
            Ok(s.split(' ').filter(|p| !p.is_empty()).map(str::to_owned).collect())
        }
        Some(Value::String(s)) if !s.is_empty() => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) if !(s.is_empty() || split_spaces && s.contains(' ')) => Ok(s.clone()),
                _ => Err(TokenError::config(
                    &cat!(name, "[", decimal(i as u64), "]"),
                    "must be a non-empty string without spaces",
                )),
            })
            .collect(),
        Some(_) => Err(TokenError::config(name, "must be a string or an array of strings")),
    }
}

fn resource_uri(field: &str, uri: String) -> Result<String> {
    if crate::url::after_scheme(&uri).is_none() || uri.contains('#') {
        return Err(TokenError::config(field, "must be an absolute URI without a fragment (RFC 8707 §2)"));
    }
    Ok(uri)
}

/// A URL requests go to: in normal form, without a fragment.
pub fn endpoint_url(field: &str, url: &str) -> Result<String> {
    let url = crate::url::normalize(field, url)?;
    if url.contains('#') {
        return Err(TokenError::config(field, "must not have a fragment"));
    }
    Ok(url)
}

fn req_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    opt_str(obj, name)?.ok_or_else(|| TokenError::config(name, "is required"))
}

fn nonempty<'a>(obj: &'a Map<String, Value>, field: &str, name: &str) -> Result<&'a str> {
    opt_str_in(obj, field, name)?.ok_or_else(|| TokenError::config(field, "is required"))
}

fn opt_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>> {
    opt_str_in(obj, name, name)
}

fn opt_str_in<'a>(obj: &'a Map<String, Value>, field: &str, name: &str) -> Result<Option<&'a str>> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(TokenError::config(field, "must be a non-empty string")),
    }
}

fn opt_uint(obj: &Map<String, Value>, name: &str, min: u64, max: u64) -> Result<Option<u64>> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => uint(name, v, min, max).map(Some),
    }
}

fn uint(field: &str, v: &Value, min: u64, max: u64) -> Result<u64> {
    let n = v.as_u64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64));
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(TokenError::config(
            field,
            cat!("must be an integer from ", decimal(min), " to ", decimal(max)),
        )),
    }
}

#[cfg(test)]
mod tests;

/// Secrets stay out: `client_auth` prints its method, `dpop` its key's public facts, and
/// `extra_params` only its names (a value may be confidential). Fields not listed are left out.
impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let extra_names: Vec<&str> = self.extra_params.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ClientConfig")
            .field("token_endpoint", &self.token_endpoint)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_auth", &self.client_auth)
            .field("grant", &self.grant)
            .field("cache_size", &self.cache_size)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .field("extra_params", &extra_names)
            .field("dpop", &self.dpop)
            .field("refresh_before_secs", &self.refresh_before_secs)
            .field("base_url", &self.base_url)
            .field("timeout_ms", &self.timeout_ms)
            .field("retry", &self.retry)
            .field("stale_if_error_secs", &self.stale_if_error_secs)
            .finish_non_exhaustive()
    }
}
