//! The one error type of tokenfetch: a stable `code`, the HTTP status and OAuth fields when a server
//! answered, and a message that never carries a secret, a key or a token.

use std::fmt;

/// What kind of failure a [`TokenError`] reports. The string form ([`ErrorCode::as_str`]) is the
/// `code` property JavaScript callers switch on; it is stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An option is missing, has the wrong type or an unusable value; the message names the field.
    InvalidConfig,
    /// An argument to a method or helper is unusable; the message names it.
    InvalidArgument,
    /// A key cannot be parsed or cannot sign with the requested algorithm.
    InvalidKey,
    /// The token endpoint answered with an OAuth error response (RFC 6749 §5.2): see `error`.
    OAuth,
    /// The token endpoint answered something that is not a valid token response.
    InvalidTokenResponse,
    /// DPoP was used but the token endpoint issued another `token_type` (a downgrade); or an API
    /// call was asked of a token that is not an access token (`N_A`, RFC 8693 §2.2.1).
    TokenTypeMismatch,
    /// The token endpoint answered with a redirect; token requests never follow redirects.
    Redirect,
    /// The token endpoint answered a non-2xx status without an OAuth error body.
    HttpError,
    /// The request did not complete within `timeoutMs`.
    Timeout,
    /// The request failed before any response (connection refused, DNS, TLS, aborted).
    Network,
    /// `fetch` was asked to send a token where it does not belong: plain http to a host that is
    /// not loopback, or (with `baseUrl` or `allowedOrigins`) an origin not allowed. Nothing was sent.
    UrlNotAllowed,
}

impl ErrorCode {
    /// The stable string form, e.g. `"invalid_config"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::InvalidKey => "invalid_key",
            ErrorCode::OAuth => "oauth_error",
            ErrorCode::InvalidTokenResponse => "invalid_token_response",
            ErrorCode::TokenTypeMismatch => "token_type_mismatch",
            ErrorCode::Redirect => "redirect",
            ErrorCode::HttpError => "http_error",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Network => "network_error",
            ErrorCode::UrlNotAllowed => "url_not_allowed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of tokenfetch. Messages name the field or server at fault and never contain a client
/// secret, a private key, an assertion or an access token. Its [`ErrorDetails`] are read and set
/// through it (`e.code`, `e.message`).
///
/// One pointer wide: every `Result` in the crate carries a `TokenError`, and moving a boxed one
/// through each `?` costs the wasm module far less code than moving the five fields (5 KB gzip,
/// a twentieth of the module).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenError(Box<ErrorDetails>);

/// What a [`TokenError`] says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorDetails {
    /// The kind of failure.
    pub code: ErrorCode,
    /// Human-readable explanation, safe to log.
    pub message: String,
    /// HTTP status of the response that caused the error, when there was one.
    pub status: Option<u16>,
    /// OAuth `error` code from the server (RFC 6749 §5.2, RFC 6750 §3.1, RFC 9449 §7.1).
    pub error: Option<String>,
    /// OAuth `error_description` from the server.
    pub error_description: Option<String>,
}

impl TokenError {
    /// An error of `code` with `message` and no server details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let message = message.into();
        TokenError(Box::new(ErrorDetails {
            code,
            message,
            status: None,
            error: None,
            error_description: None,
        }))
    }

    /// An [`ErrorCode::InvalidConfig`] error; `field` is the option path, e.g. `clientAuth.privateJwk`.
    pub fn config(field: &str, problem: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidConfig, cat!(field, ": ", problem))
    }

    /// An [`ErrorCode::InvalidArgument`] error naming the argument.
    pub fn argument(field: &str, problem: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidArgument, cat!(field, ": ", problem))
    }

    /// An [`ErrorCode::InvalidKey`] error naming where the key came from.
    pub fn key(field: &str, problem: impl AsRef<str>) -> Self {
        Self::new(ErrorCode::InvalidKey, cat!(field, ": ", problem))
    }

    /// The details, unboxed.
    pub fn into_details(self) -> ErrorDetails {
        *self.0
    }

    /// Attach the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Prefix the message with the option path of the field at fault, e.g. `clientAuth.privateJwk`.
    pub fn in_field(mut self, field: &str) -> Self {
        self.message = cat!(field, ".", self.message);
        self
    }
}

impl std::ops::Deref for TokenError {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for TokenError {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl From<ErrorDetails> for TokenError {
    fn from(details: ErrorDetails) -> Self {
        TokenError(Box::new(details))
    }
}

impl fmt::Debug for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TokenError {}

/// Result alias used across the crate.
pub type Result<T, E = TokenError> = std::result::Result<T, E>;
