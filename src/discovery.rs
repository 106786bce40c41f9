//! Authorization server metadata: OpenID Connect Discovery 1.0 §4 first, then RFC 8414 §3.
//! Builds the metadata URLs, validates a document against the configured issuer (RFC 8414 §3.3)
//! and checks the client's algorithms against what the server says it supports.

use crate::json::Value;

use crate::config::endpoint_url;
use crate::error::{ErrorCode, Result, TokenError};
use crate::text::decimal;

/// What tokenfetch uses from a metadata document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// `issuer`, equal to the configured one.
    pub issuer: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1), when present.
    pub dpop_algs: Option<Vec<String>>,
    /// `token_endpoint_auth_signing_alg_values_supported`, when present.
    pub auth_signing_algs: Option<Vec<String>>,
    /// `token_endpoint_auth_methods_supported`, when present.
    pub auth_methods: Option<Vec<String>>,
}

/// The metadata URLs to try, in order: `{issuer}/.well-known/openid-configuration` (OIDC
/// Discovery §4.1: appended to the issuer's path), then `/.well-known/oauth-authorization-server`
/// inserted before the issuer's path (RFC 8414 §3.1).
pub fn metadata_urls(issuer: &str) -> [String; 2] {
    let trimmed = issuer.trim_end_matches('/');
    let openid = cat!(trimmed, "/.well-known/openid-configuration");
    let after_scheme = crate::url::after_scheme(trimmed).unwrap_or(0);
    let path_start = trimmed[after_scheme..].find('/').map_or(trimmed.len(), |i| after_scheme + i);
    let (origin, path) = trimmed.split_at(path_start);
    [openid, cat!(origin, "/.well-known/oauth-authorization-server", path)]
}

/// Validate a metadata response for `issuer`. `status` other than 200 is an error naming the URL.
pub fn parse(issuer: &str, url: &str, status: u16, body: &[u8]) -> Result<Metadata> {
    let fail =
        |problem: &str| TokenError::new(ErrorCode::InvalidConfig, cat!("issuer: ", problem, " (", url, ")"));
    if status != 200 {
        return Err(
            fail(&cat!("metadata request answered HTTP ", decimal(status.into()))).with_status(status)
        );
    }
    let Some(Value::Object(doc)) = crate::json::parse(body) else {
        return Err(fail("metadata is not a JSON object"));
    };
    let string = |name: &str| doc.get(name).and_then(Value::as_str);
    let found = string("issuer").ok_or_else(|| fail("metadata has no \"issuer\""))?;
    if found != issuer {
        return Err(fail(&cat!(
            "metadata \"issuer\" is \"",
            crate::text::clean(found, crate::text::QUOTED),
            "\", not the configured issuer (RFC 8414 §3.3)"
        )));
    }
    let token_endpoint =
        string("token_endpoint").ok_or_else(|| fail("metadata has no \"token_endpoint\""))?;
    let token_endpoint =
        endpoint_url("metadata \"token_endpoint\"", token_endpoint).map_err(|e| fail(&e.message))?;
    let list = |name: &str| -> Result<Option<Vec<String>>> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| fail(&cat!("metadata \"", name, "\" must be an array of strings")))
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(fail(&cat!("metadata \"", name, "\" must be an array of strings"))),
        }
    };
    Ok(Metadata {
        issuer: found.to_owned(),
        token_endpoint,
        dpop_algs: list("dpop_signing_alg_values_supported")?,
        auth_signing_algs: list("token_endpoint_auth_signing_alg_values_supported")?,
        auth_methods: list("token_endpoint_auth_methods_supported")?,
    })
}

impl Metadata {
    /// Check the client's choices against the server's: client authentication method, the
    /// assertion signing alg, the DPoP alg. Errors name the option at fault.
    pub fn check(
        &self,
        auth_method: &str,
        assertion_alg: Option<&str>,
        dpop_alg: Option<&str>,
    ) -> Result<()> {
        let supported = |list: &Option<Vec<String>>, value: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|v| v == value))
        };
        if !supported(&self.auth_methods, auth_method) {
            return Err(TokenError::config(
                "clientAuth.method",
                cat!("\"", auth_method, "\" is not in the issuer's token_endpoint_auth_methods_supported"),
            ));
        }
        if let Some(alg) = assertion_alg.filter(|a| !supported(&self.auth_signing_algs, a)) {
            return Err(TokenError::config(
                "clientAuth.alg",
                cat!("\"", alg, "\" is not in the issuer's token_endpoint_auth_signing_alg_values_supported"),
            ));
        }
        if let Some(alg) = dpop_alg.filter(|a| !supported(&self.dpop_algs, a)) {
            return Err(TokenError::config(
                "dpop",
                cat!("\"", alg, "\" is not in the issuer's dpop_signing_alg_values_supported"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;

    #[test]
    fn metadata_urls_follow_oidc_then_rfc8414_placement() {
        assert_eq!(
            metadata_urls("https://as.example"),
            [
                "https://as.example/.well-known/openid-configuration".to_owned(),
                "https://as.example/.well-known/oauth-authorization-server".to_owned()
            ]
        );
        assert_eq!(
            metadata_urls("https://login.example/tenant/v2.0/"),
            [
                "https://login.example/tenant/v2.0/.well-known/openid-configuration".to_owned(),
                "https://login.example/.well-known/oauth-authorization-server/tenant/v2.0".to_owned()
            ]
        );
    }

    fn doc(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn issuer_must_match_exactly() {
        let body = doc(json!({"issuer": "https://evil.example", "token_endpoint": "https://evil.example/t"}));
        let e = parse("https://as.example", "https://as.example/.well-known/x", 200, &body).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert!(
            e.message.starts_with("issuer: metadata \"issuer\" is \"https://evil.example\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn token_endpoint_and_algs_are_read() {
        let body = doc(json!({
            "issuer": "https://as.example", "token_endpoint": "https://as.example/token",
            "dpop_signing_alg_values_supported": ["ES256", "PS256"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        }));
        let m = parse("https://as.example", "u", 200, &body).unwrap();
        assert_eq!(m.token_endpoint, "https://as.example/token");
        assert!(m.check("private_key_jwt", Some("RS256"), Some("ES256")).is_ok());
        let e = m.check("private_key_jwt", Some("ES256"), Some("ES256")).unwrap_err();
        assert!(e.message.starts_with("clientAuth.alg: \"ES256\""), "{}", e.message);
        let e = m.check("private_key_jwt", Some("RS256"), Some("ES512")).unwrap_err();
        assert!(e.message.starts_with("dpop: \"ES512\""), "{}", e.message);
    }

    #[test]
    fn missing_lists_allow_anything_and_bad_documents_are_named() {
        let body = doc(json!({"issuer": "https://as.example", "token_endpoint": "https://as.example/token"}));
        assert!(parse("https://as.example", "u", 200, &body)
            .unwrap()
            .check("client_secret_basic", None, Some("ES256"))
            .is_ok());
        assert!(parse("https://as.example", "u", 404, b"").unwrap_err().message.contains("HTTP 404"));
        assert!(parse("https://as.example", "u", 200, b"[]")
            .unwrap_err()
            .message
            .contains("not a JSON object"));
        let http = doc(json!({"issuer": "https://as.example", "token_endpoint": "http://as.example/token"}));
        assert!(parse("https://as.example", "u", 200, &http).is_err());
    }
}
