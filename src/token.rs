//! Token endpoint responses, judged against what the client sent: a token response (RFC 6749 §5.1,
//! RFC 9449 §5), an OAuth error response (RFC 6749 §5.2), a DPoP nonce challenge (RFC 9449 §8) or a
//! refusal of a JWT whose time was off ([`crate::skew`]).
//!
//! Error messages quote nothing from the body except the server's `error` and `error_description`,
//! and those only cleaned (control and bidi characters removed) and capped, in the message and in the fields.

use crate::json::{Map, Value};

use crate::error::{ErrorCode, ErrorDetails, Result, TokenError};
use crate::skew::is_time_refusal;
use crate::text::{clean, decimal};

/// The `token_type` of an issued token (RFC 6749 §7.1, RFC 9449 §5, RFC 8693 §2.2.1), matched
/// case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    /// A bearer token (RFC 6750).
    Bearer,
    /// A DPoP-bound token (RFC 9449 §5).
    DPoP,
    /// `N_A`: a token exchange issued something that is not an access token (an ID token, a
    /// SAML assertion: see [`TokenResponse::issued_token_type`]). Never sent as `Authorization`.
    NotApplicable,
}

impl TokenType {
    /// The canonical spelling: `"Bearer"` or `"DPoP"` (the `Authorization` scheme), or `"N_A"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::DPoP => "DPoP",
            TokenType::NotApplicable => "N_A",
        }
    }
}

/// A successful token response (RFC 6749 §5.1); `Debug` shows the access token as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The access token; a secret, never put in a message.
    pub access_token: String,
    /// How the token is presented (RFC 6749 §7.1).
    pub token_type: TokenType,
    /// Lifetime in seconds from the response, when the server sent one.
    pub expires_in: Option<u64>,
    /// The granted scope, when the server sent one (RFC 6749 §3.3).
    pub scope: Option<String>,
    /// What a token exchange issued (RFC 8693 §2.2.1), e.g.
    /// `urn:ietf:params:oauth:token-type:id_token`, when the server said.
    pub issued_token_type: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"***")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("issued_token_type", &self.issued_token_type)
            .finish()
    }
}

/// An OAuth error response body (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` code, e.g. `invalid_client` or `use_dpop_nonce`.
    pub error: String,
    /// The optional human-readable `error_description`, as sent.
    pub error_description: Option<String>,
}

/// What a token endpoint response means for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenOutcome {
    /// A token was issued and matches the request.
    Issued(TokenResponse),
    /// The server demands a DPoP nonce (RFC 9449 §8): retry once with the `DPoP-Nonce` it sent,
    /// a fresh proof and a fresh client assertion.
    RetryWithNonce,
    /// The server refused a JWT whose time its `Date` showed was off: retry once with a fresh
    /// assertion and proof at the server's time.
    RetryWithTime,
}

/// What the client sent, to judge the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// A DPoP proof was sent, so a DPoP-bound token is required (RFC 9449 §5).
    pub dpop: bool,
    /// The nonce retry (RFC 9449 §8) has not been spent on this request yet.
    pub may_retry_nonce: bool,
    /// The response's `Date` shows that the time in the request's JWTs was off, and the retry
    /// with the corrected time has not been spent ([`crate::skew::was_off`]).
    pub clock_off: bool,
}

/// Longest `error_description` quoted in a message, in characters.
const DESCRIPTION_CAP: usize = 200;
/// Longest `error_description` kept in the error's field, in characters.
const DESCRIPTION_FIELD_CAP: usize = 500;
/// Longest `error` kept, in characters (RFC 6749 §5.2 codes are short ASCII words).
const ERROR_CAP: usize = 100;

/// Parse an OAuth error response body (RFC 6749 §5.2): a JSON object with a non-empty string
/// `error` and an optional string `error_description` (ignored when not a string).
pub fn parse_oauth_error(body: &[u8]) -> Option<OAuthError> {
    let Some(Value::Object(obj)) = crate::json::parse(body) else {
        return None;
    };
    let error = obj.get("error")?.as_str().filter(|e| !e.is_empty())?;
    let error_description = obj.get("error_description").and_then(Value::as_str);
    Some(OAuthError { error: error.to_owned(), error_description: error_description.map(str::to_owned) })
}

/// Judge a token endpoint response (RFC 6749 §5.1/§5.2, RFC 9449 §5/§8) given its `status`, its
/// `Content-Type`, whether a `DPoP-Nonce` header came with it, its `body` and what was sent.
///
/// Errors carry the status: [`ErrorCode::Redirect`] for 3xx and for status 0 (a browser's opaque
/// `redirect: "manual"` response, which has no status to report), [`ErrorCode::OAuth`] for an error
/// body, [`ErrorCode::HttpError`] for any other non-2xx, [`ErrorCode::InvalidTokenResponse`] for a
/// 2xx that is not a valid token response and [`ErrorCode::TokenTypeMismatch`] for a DPoP downgrade.
pub fn interpret(
    status: u16,
    content_type: Option<&str>,
    has_dpop_nonce_header: bool,
    body: &[u8],
    expect: Expectation,
) -> Result<TokenOutcome> {
    if status == 0 || (300..=399).contains(&status) {
        let mut e = TokenError::new(
            ErrorCode::Redirect,
            "token endpoint answered with a redirect; token requests never follow redirects",
        );
        e.status = (status != 0).then_some(status);
        return Err(e);
    }
    if !(200..=299).contains(&status) {
        return match parse_oauth_error(body) {
            Some(o)
                if (o.error == "use_dpop_nonce" || o.error == "invalid_dpop_proof")
                    && (400..=499).contains(&status)
                    && has_dpop_nonce_header
                    && expect.dpop
                    && expect.may_retry_nonce =>
            {
                Ok(TokenOutcome::RetryWithNonce)
            }
            Some(o) if expect.clock_off && (400..=499).contains(&status) && is_time_refusal(&o.error) => {
                Ok(TokenOutcome::RetryWithTime)
            }
            Some(o) => Err(oauth_error(status, o)),
            None => Err(TokenError::new(
                ErrorCode::HttpError,
                cat!("token endpoint returned HTTP ", decimal(status.into())),
            )
            .with_status(status)),
        };
    }
    token_response(content_type, body, expect).map(TokenOutcome::Issued).map_err(|e| e.with_status(status))
}

fn oauth_error(status: u16, o: OAuthError) -> TokenError {
    let error = clean(&o.error, ERROR_CAP);
    let mut message = cat!("token endpoint returned ", decimal(status.into()), " \"", error, "\"");
    let description = o.error_description.as_deref().unwrap_or_default();
    let description = clean(description, DESCRIPTION_FIELD_CAP);
    if !description.is_empty() {
        message = cat!(message, ": ", clean(&description, DESCRIPTION_CAP));
    }
    TokenError::from(ErrorDetails {
        code: ErrorCode::OAuth,
        message,
        status: Some(status),
        error: Some(error),
        error_description: o.error_description.map(|_| description),
    })
}

fn token_response(ct: Option<&str>, body: &[u8], expect: Expectation) -> Result<TokenResponse> {
    if let Some(ct) = ct.map(str::trim).filter(|c| !c.is_empty()) {
        if !is_json(ct) {
            let problem = cat!("must be application/json", got(ct));
            return Err(field("content-type", problem));
        }
    }
    let Some(Value::Object(obj)) = crate::json::parse(body) else {
        return Err(invalid("token response body must be a JSON object"));
    };
    let access_token = match obj.get("access_token") {
        Some(Value::String(s)) if is_b64token(s) => s.clone(),
        Some(Value::String(s)) if !s.is_empty() => {
            return Err(field(
                "access_token",
                "must be RFC 6750 b64token characters (A-Z a-z 0-9 - . _ ~ + / and trailing =)",
            ))
        }
        _ => return Err(field("access_token", "must be a non-empty string")),
    };
    let issued_token_type = optional_string(&obj, "issued_token_type")?;
    let token_type = match obj.get("token_type") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => TokenType::Bearer,
        Some(Value::String(t)) if t.eq_ignore_ascii_case("dpop") => TokenType::DPoP,
        // RFC 8693 §2.2.1: what was issued is not an access token, and says what it is.
        Some(Value::String(t)) if t.eq_ignore_ascii_case("n_a") && issued_token_type.is_some() => {
            TokenType::NotApplicable
        }
        Some(Value::String(t)) => {
            let problem =
                cat!("must be \"Bearer\", \"DPoP\" or \"N_A\" (with \"issued_token_type\")", got(t));
            return Err(field("token_type", problem));
        }
        _ => return Err(field("token_type", "must be a string")),
    };
    let expires_in = expires_in(&obj)?;
    let scope = optional_string(&obj, "scope")?;
    match (expect.dpop, token_type) {
        (true, TokenType::Bearer) => Err(TokenError::new(
            ErrorCode::TokenTypeMismatch,
            "DPoP proof was sent but the token endpoint issued a Bearer token (downgrade refused)",
        )),
        (false, TokenType::DPoP) => {
            Err(invalid("token endpoint issued a DPoP-bound token but this client has no DPoP key"))
        }
        _ => Ok(TokenResponse { access_token, token_type, expires_in, scope, issued_token_type }),
    }
}

/// A member that is absent, null or a string.
fn optional_string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(field(name, "must be a string")),
    }
}

/// `expires_in` (RFC 6749 §5.1) in whole seconds: absent or null, a non-negative JSON number (a
/// fraction such as `299.5` is floored), or a string of ASCII digits as some Entra endpoints send.
fn expires_in(obj: &Map<String, Value>) -> Result<Option<u64>> {
    let secs = match obj.get("expires_in") {
        None | Some(Value::Null) => return Ok(None),
        // (`as` floors, and saturates past `u64::MAX`: absurd below.)
        Some(Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Some(Value::String(s)) => crate::text::digits(s),
        Some(_) => None,
    };
    let secs = secs.ok_or_else(|| field("expires_in", "must be a non-negative number"))?;
    if secs > MAX_LIFETIME_SECS {
        return Err(field("expires_in", "is absurd (more than a year)"));
    }
    Ok(Some(secs))
}

/// The longest `expires_in` taken at face value: a year. Longer is a misconfigured or hostile
/// server, and a token cached that long would outlive any key rotation.
pub const MAX_LIFETIME_SECS: u64 = 365 * 24 * 3600;

/// `application/json` or any `+json` type (RFC 6838 §4.2.8), parameters ignored, case-insensitive.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    let sub = sub.to_ascii_lowercase();
    (ty.eq_ignore_ascii_case("application") && sub == "json") || sub.ends_with("+json")
}

fn invalid(message: impl Into<String>) -> TokenError {
    TokenError::new(ErrorCode::InvalidTokenResponse, message)
}

fn field(name: &str, problem: impl AsRef<str>) -> TokenError {
    invalid(cat!("token response \"", name, "\" ", problem))
}

/// `, got "s"` (cleaned, at most [`crate::text::QUOTED`] characters), or nothing for an empty `s`.
fn got(s: &str) -> String {
    let shown = clean(s, crate::text::QUOTED);
    if shown.is_empty() {
        String::new()
    } else {
        cat!(", got \"", shown, "\"")
    }
}

/// Whether `token` is an RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
/// "+" / "/" ) *"="`, the characters an access token may have to travel in an `Authorization`
/// header (no space, no control character, nothing a header or a log line could be split on).
pub fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorCode::*;

    const DPOP: Expectation = Expectation { dpop: true, may_retry_nonce: true, clock_off: false };
    const BEARER: Expectation = Expectation { dpop: false, may_retry_nonce: false, clock_off: false };
    const JSON: Option<&str> = Some("application/json");
    const NONCE: &str = r#"{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}"#;
    const AT_BEARER: &str = r#"{"access_token":"at","token_type":"Bearer"}"#;

    fn run(status: u16, nonce: bool, body: &str, expect: Expectation) -> Result<TokenOutcome> {
        interpret(status, JSON, nonce, body.as_bytes(), expect)
    }
    fn err(status: u16, body: &str, expect: Expectation) -> TokenError {
        run(status, false, body, expect).unwrap_err()
    }
    /// Rows of `left | right` from a table in a string literal.
    fn rows(table: &str) -> impl Iterator<Item = (&str, &str)> {
        table.lines().filter_map(|l| l.split_once(" | ")).map(|(a, b)| (a.trim(), b.trim()))
    }

    #[test]
    fn token_types_are_case_insensitive_and_fields_are_kept() {
        let body = r#"{"access_token":"at","token_type":"BEARER","expires_in":"3599","scope":"a b"}"#;
        let t = TokenResponse {
            access_token: "at".into(),
            token_type: TokenType::Bearer,
            expires_in: Some(3599),
            scope: Some("a b".into()),
            issued_token_type: None,
        };
        assert_eq!(run(200, false, body, BEARER), Ok(TokenOutcome::Issued(t)));
        let body = r#"{"access_token":"at","token_type":"dpop"}"#;
        let Ok(TokenOutcome::Issued(t)) = run(200, false, body, DPOP) else { panic!() };
        assert_eq!((t.token_type.as_str(), t.expires_in, t.scope), ("DPoP", None, None));
    }

    #[test]
    fn bearer_token_after_dpop_proof_is_a_refused_downgrade() {
        let e = err(200, AT_BEARER, DPOP);
        assert_eq!((e.code, e.status), (TokenTypeMismatch, Some(200)));
    }

    #[test]
    fn dpop_token_without_dpop_key_is_an_invalid_response() {
        let e = err(200, &AT_BEARER.replace("Bearer", "DPoP"), BEARER);
        assert_eq!(e.code, InvalidTokenResponse);
        assert!(e.message.contains("no DPoP key"));
    }

    #[test]
    fn use_dpop_nonce_with_nonce_header_asks_for_one_retry() {
        let retry = run(400, true, NONCE, DPOP);
        assert_eq!(retry, Ok(TokenOutcome::RetryWithNonce));
    }

    #[test]
    fn a_nonce_challenge_outside_4xx_is_no_retry() {
        // Found by the token_response fuzz target: status 40 (not HTTP) was taken for a challenge.
        let body = br#"{"error":"use_dpop_nonce"}"#;
        let expect = DPOP;
        for status in [40, 99, 100, 500, 599] {
            let outcome = interpret(status, Some("application/json"), true, body, expect);
            assert!(outcome.is_err(), "{status}: {outcome:?}");
        }
    }

    #[test]
    fn invalid_dpop_proof_with_a_fresh_nonce_asks_for_one_retry() {
        let body = br#"{"error":"invalid_dpop_proof","error_description":"stale nonce"}"#;
        let expect = DPOP;
        assert_eq!(
            interpret(400, Some("application/json"), true, body, expect),
            Ok(TokenOutcome::RetryWithNonce)
        );
        let e = interpret(400, Some("application/json"), false, body, expect).unwrap_err();
        assert_eq!(e.error.as_deref(), Some("invalid_dpop_proof"));
    }

    #[test]
    fn a_refusal_of_a_jwt_whose_time_was_off_asks_for_one_retry() {
        let off = Expectation { clock_off: true, ..BEARER };
        for (status, error) in [(401, "invalid_client"), (400, "invalid_grant"), (400, "invalid_dpop_proof")]
        {
            let body = format!(r#"{{"error":"{error}"}}"#);
            assert_eq!(run(status, false, &body, off), Ok(TokenOutcome::RetryWithTime), "{error}");
            assert_eq!(err(status, &body, BEARER).error.as_deref(), Some(error), "the clock was right");
        }
        for (status, body) in [(400, r#"{"error":"invalid_scope"}"#), (500, r#"{"error":"invalid_client"}"#)]
        {
            assert_eq!(run(status, false, body, off).unwrap_err().code, OAuth, "{body}");
        }
        // A nonce challenge is answered as one (its retry carries the corrected time too).
        let proof = r#"{"error":"invalid_dpop_proof"}"#;
        assert_eq!(
            run(400, true, proof, Expectation { clock_off: true, ..DPOP }),
            Ok(TokenOutcome::RetryWithNonce)
        );
    }

    #[test]
    fn use_dpop_nonce_without_nonce_header_is_an_oauth_error() {
        let e = err(400, NONCE, DPOP);
        assert_eq!((e.code, e.status), (OAuth, Some(400)));
        assert_eq!(e.error.as_deref(), Some("use_dpop_nonce"));
    }

    #[test]
    fn use_dpop_nonce_after_the_retry_or_without_dpop_is_an_oauth_error() {
        let spent = Expectation { may_retry_nonce: false, ..DPOP };
        for expect in [spent, BEARER] {
            assert_eq!(run(400, true, NONCE, expect).unwrap_err().code, OAuth);
        }
    }

    #[test]
    fn oauth_error_message_names_status_error_and_description() {
        let table = r#"
            {"error":"invalid_client","error_description":"bad"} | 401 "invalid_client": bad
            {"error":"invalid_scope","error_description":7}      | 401 "invalid_scope"
            {"error":"invalid_scope","error_description":"\n"}   | 401 "invalid_scope""#;
        for (body, want) in rows(table) {
            let e = err(401, body, DPOP);
            assert_eq!(e.message, format!("token endpoint returned {want}"));
        }
        let e = err(401, r#"{"error":"x","error_description":"bad"}"#, DPOP);
        assert_eq!((e.error.as_deref(), e.error_description.as_deref()), (Some("x"), Some("bad")));
    }

    #[test]
    fn oauth_error_description_is_capped_and_stripped_of_controls() {
        let z = "z".repeat(400);
        let body = format!(r#"{{"error":"x\u0007","error_description":"a\nb\u202e{z}"}}"#);
        let e = err(400, &body, BEARER);
        let (head, desc) = e.message.split_once(": ").unwrap();
        assert_eq!(head, r#"token endpoint returned 400 "x""#);
        assert!(desc.starts_with("a bz") && desc.ends_with("z…"));
        assert_eq!(desc.chars().count(), DESCRIPTION_CAP + 1);
        assert_eq!(e.error.as_deref(), Some("x"));
        let field = e.error_description.as_deref().unwrap();
        assert_eq!(field, format!("a b{z}"), "the field: cleaned, 403 characters (under its cap)");
    }

    #[test]
    fn oauth_error_fields_are_cleaned_and_capped_like_the_message() {
        let long = "d".repeat(5000);
        let body = format!(
            r#"{{"error":"invalid_client\u0000\u202e\u2066{}","error_description":"\u001b[31mred\u200f\u061c{long}"}}"#,
            "e".repeat(300)
        );
        let e = err(401, &body, BEARER);
        let error = e.error.as_deref().unwrap();
        assert_eq!(error, format!("invalid_client {}…", "e".repeat(ERROR_CAP - 15)));
        let description = e.error_description.as_deref().unwrap();
        assert!(description.starts_with("[31mred") && description.ends_with("d…"), "{description}");
        // 500 characters kept (the escape became a space, trimmed), then the mark.
        assert_eq!(description.chars().count(), DESCRIPTION_FIELD_CAP);
        for text in [error, description, &e.message] {
            assert!(!text.chars().any(|c| c.is_control() || "\u{202e}\u{2066}\u{200f}\u{061c}".contains(c)));
        }
        let e = err(401, r#"{"error":"invalid_client"}"#, BEARER);
        assert_eq!((e.error.as_deref(), e.error_description.as_deref()), (Some("invalid_client"), None));
    }

    #[test]
    fn access_tokens_must_be_rfc6750_b64tokens() {
        let with = |at: &str| {
            format!(r#"{{"access_token":{},"token_type":"Bearer"}}"#, crate::json::Value::from(at))
        };
        for good in ["at", "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", "a+b/c==", "eyJ.eyJ.sig", "0"] {
            assert!(run(200, false, &with(good), BEARER).is_ok(), "{good}");
        }
        for bad in
            ["a b", "a\u{0}b", "a\nb", "==", "a=b", "tok\r\nX-Evil: 1", "é", "a,b", "\"a\"", "a\u{202e}"]
        {
            let e = err(200, &with(bad), BEARER);
            assert_eq!(e.code, InvalidTokenResponse, "{bad:?}");
            assert!(e.message.starts_with(r#"token response "access_token" must be RFC 6750 b64token"#));
        }
        assert!(is_b64token("abc=") && is_b64token("abc===") && !is_b64token("") && !is_b64token("="));
    }

    #[test]
    fn non_oauth_error_body_is_an_http_error_without_the_body() {
        for body in ["<p>secret</p>", r#"{"error":42}"#, r#"{"error":""}"#, ""] {
            let e = err(502, body, BEARER);
            assert_eq!((e.code, e.status), (HttpError, Some(502)));
            assert_eq!(e.message, "token endpoint returned HTTP 502");
        }
        assert_eq!(err(101, "", BEARER).code, HttpError);
    }

    #[test]
    fn redirects_and_opaque_redirect_status_zero_are_refused() {
        for (status, shown) in [(301, Some(301)), (399, Some(399)), (0, None)] {
            let e = err(status, AT_BEARER, DPOP);
            assert_eq!((e.code, e.status), (Redirect, shown));
            assert!(e.message.contains("never follow redirects"));
        }
    }

    #[test]
    fn only_json_content_types_are_accepted_and_missing_needs_a_json_object() {
        let good = "application/json|Application/JSON; charset=UTF-8|application/x+json| ";
        for ct in good.split('|').map(Some).chain([None]) {
            let issued = interpret(200, ct, false, AT_BEARER.as_bytes(), BEARER);
            assert!(issued.is_ok(), "{ct:?}");
        }
        let bad = "text/html|text/plain; a=b|application/jsonp|json|a/b;x=+json";
        for ct in bad.split('|') {
            let e = interpret(201, Some(ct), false, AT_BEARER.as_bytes(), BEARER).unwrap_err();
            assert_eq!((e.code, e.status), (InvalidTokenResponse, Some(201)));
            let want = format!(r#"token response "content-type" must be application/json, got "{ct}""#);
            assert_eq!(e.message, want);
        }
        for body in ["", "[]", "\"at\"", "null", "{", "access_token=at"] {
            let e = interpret(200, None, false, body.as_bytes(), BEARER).unwrap_err();
            assert_eq!(e.message, "token response body must be a JSON object");
        }
    }

    #[test]
    fn fields_are_checked_and_named_in_quotes() {
        let table = r#"
            {"token_type":"Bearer"}                     | "access_token" must be a non-empty string
            {"access_token":"","token_type":"Bearer"}   | "access_token" must be a non-empty string
            {"access_token":["at"],"token_type":"DPoP"} | "access_token" must be a non-empty string
            {"access_token":"at","token_type":null}     | "token_type" must be a string
            {"access_token":"at","token_type":"mac"}    | "token_type" must be "Bearer", "DPoP" or "N_A" (with "issued_token_type"), got "mac"
            {"access_token":"at","token_type":"x\ny"}   | "token_type" must be "Bearer", "DPoP" or "N_A" (with "issued_token_type"), got "x y"
            {"access_token":"at","token_type":""}       | "token_type" must be "Bearer", "DPoP" or "N_A" (with "issued_token_type")
            {"access_token":"at","token_type":"Bearer","scope":["a"]} | "scope" must be a string"#;
        for (body, want) in rows(table) {
            let e = err(200, body, BEARER);
            let want = format!("token response {want}");
            assert_eq!((e.code, e.message.as_str()), (InvalidTokenResponse, want.as_str()));
        }
    }

    #[test]
    fn absurd_expires_in_is_refused() {
        let with = |v: &str| AT_BEARER.replace('}', &format!(r#","expires_in":{v}}}"#));
        assert_eq!(
            err(200, &with("31536001"), BEARER).message,
            r#"token response "expires_in" is absurd (more than a year)"#
        );
        assert!(run(200, false, &with("31536000"), BEARER).is_ok());
    }

    #[test]
    fn expires_in_accepts_non_negative_numbers_floored_and_digit_strings() {
        let with = |v: &str| AT_BEARER.replace('}', &format!(r#","expires_in":{v}}}"#));
        let table = "0 | 0\n \"007\" | 7\n 3600.0 | 3600\n 299.5 | 299\n 0.999 | 0\n 1e3 | 1000\n -0.0 | 0\n null | -";
        for (v, want) in rows(table) {
            let Ok(TokenOutcome::Issued(t)) = run(200, false, &with(v), BEARER) else { panic!("{v}") };
            assert_eq!(t.expires_in, want.parse().ok(), "{v}");
        }
        let bad = r#"-1 -0.5 true {} [] "" "-1" "1.5" "+1" "99999999999999999999""#;
        for v in bad.split(' ') {
            let e = err(200, &with(v), BEARER);
            let want = r#"token response "expires_in" must be a non-negative number"#;
            assert_eq!(e.message, want, "{v}");
        }
        let e = err(200, &with("1e300"), BEARER);
        assert_eq!(e.message, r#"token response "expires_in" is absurd (more than a year)"#);
    }

    const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

    #[test]
    fn a_token_exchange_may_issue_what_is_not_an_access_token_as_n_a() {
        let body = format!(
            r#"{{"access_token":"eyJ.eyJ.sig","token_type":"N_A","issued_token_type":"{ID_TOKEN}","expires_in":60}}"#
        );
        for expect in [BEARER, DPOP] {
            let Ok(TokenOutcome::Issued(t)) = run(200, false, &body, expect) else { panic!("{expect:?}") };
            assert_eq!((t.token_type, t.token_type.as_str()), (TokenType::NotApplicable, "N_A"));
            assert_eq!((t.issued_token_type.as_deref(), t.expires_in), (Some(ID_TOKEN), Some(60)));
        }
        let Ok(TokenOutcome::Issued(t)) = run(200, false, &body.replace("N_A", "n_a"), BEARER) else {
            panic!()
        };
        assert_eq!(t.token_type, TokenType::NotApplicable, "case-insensitive like the others");
        // An access token keeps its type, and says what it is.
        let access = format!(
            r#"{{"access_token":"at","token_type":"Bearer","issued_token_type":"{}"}}"#,
            crate::grant::ACCESS_TOKEN_TYPE
        );
        let Ok(TokenOutcome::Issued(t)) = run(200, false, &access, BEARER) else { panic!() };
        assert_eq!(t.issued_token_type.as_deref(), Some(crate::grant::ACCESS_TOKEN_TYPE));
    }

    #[test]
    fn n_a_without_an_issued_token_type_is_refused() {
        let want = r#"token response "token_type" must be "Bearer", "DPoP" or "N_A" (with "issued_token_type"), got "N_A""#;
        let issued = |t: &str| format!(r#"{{"access_token":"at","token_type":"N_A"{t}}}"#);
        for rest in ["", r#","issued_token_type":null"#] {
            let e = err(200, &issued(rest), BEARER);
            assert_eq!((e.code, e.message.as_str()), (InvalidTokenResponse, want), "{rest}");
        }
        let e = err(200, &issued(r#","issued_token_type":7"#), BEARER);
        assert_eq!(e.message, r#"token response "issued_token_type" must be a string"#);
    }

    #[test]
    fn messages_never_contain_the_access_token_or_other_body_content() {
        let secret = r#"{"access_token":"eyJSECRET.hunter2","token_type":"Bearer""#;
        let rests = r#"} ,"expires_in":-1} ,"scope":{"k":"hunter2"}} ,"token_type":7}"#;
        for rest in rests.split(' ') {
            let body = format!("{secret}{rest}");
            for (ct, expect) in [(JSON, DPOP), (JSON, BEARER), (Some("text/html"), BEARER)] {
                if let Err(e) = interpret(200, ct, false, body.as_bytes(), expect) {
                    assert!(!e.message.contains("SECRET") && !e.message.contains("hunter2"));
                }
            }
        }
    }

    #[test]
    fn parse_oauth_error_reads_rfc6749_error_bodies() {
        let o = parse_oauth_error(br#"{"error":"invalid_grant","error_uri":"https://x"}"#);
        assert_eq!(o.map(|o| (o.error, o.error_description)), Some(("invalid_grant".into(), None)));
        let bad = r#"[] {"error":null} {"error_description":"x"} {"error":1}"#;
        for body in bad.split(' ').chain(["", "\u{feff}{}"]) {
            assert_eq!(parse_oauth_error(body.as_bytes()), None, "{body}");
        }
        assert_eq!(parse_oauth_error(b"\xff\xfe"), None);
    }

    #[test]
    fn odd_inputs_never_panic() {
        let deep = "[".repeat(100_000);
        let odd =
            r#" { \u0000 {"error":"é\u202e😀"} {"access_token":"a","token_type":"DPoP","expires_in":1e999}"#;
        for status in [0, 1, 100, 200, 204, 299, 300, 400, 401, 999, u16::MAX] {
            for body in odd.split(' ').chain([deep.as_str()]) {
                for ct in [None, JSON, Some("é"), Some(";/")] {
                    let _ = interpret(status, ct, true, body.as_bytes(), DPOP);
                    let _ = interpret(status, ct, false, body.as_bytes(), BEARER);
                }
            }
        }
    }
}
