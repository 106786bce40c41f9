//! Authority profiles (`profile`): the defaults and rules each authority documents, applied to the
//! options before they are validated. Every default can be overridden field by field; every rule
//! is checked with an error naming the field and the authority's rule.

use crate::json::{Map, Value};

use crate::error::{Result, TokenError};

/// Which `aud` a client assertion gets when `clientAuth.audience` is not set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The issuer (RFC 7523 §3 allows it; HelseID and Maskinporten require it).
    Issuer,
    /// The token endpoint URL (Microsoft Entra requires it).
    TokenEndpoint,
}

/// What a profile sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The option value.
    pub name: &'static str,
    /// Client authentication methods the authority accepts (`None`: any).
    pub auth_methods: Option<&'static [&'static str]>,
    /// Signing algorithms the authority accepts for assertions (`None`: any).
    pub assertion_algs: Option<&'static [&'static str]>,
    /// Header `typ` of client assertions.
    pub assertion_typ: &'static str,
    /// Default and maximum `exp - iat` of assertions, seconds.
    pub assertion_lifetime: (u64, u64),
    /// Default assertion audience.
    pub audience: Audience,
    /// Whether `issuer` must be configured (the assertion audience).
    pub needs_issuer: bool,
    /// `dpop` when the option is absent.
    pub dpop_default: bool,
    /// `grant` when the option is absent.
    pub grant_default: &'static str,
}

const RSA_EC: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

/// `generic`: RFC defaults (assertion `aud` = issuer when known, else the token endpoint).
pub const GENERIC: Profile = Profile {
    name: "generic",
    auth_methods: None,
    assertion_algs: None,
    assertion_typ: "JWT",
    assertion_lifetime: (60, 3600),
    audience: Audience::Issuer,
    needs_issuer: false,
    dpop_default: false,
    grant_default: "client_credentials",
};

/// `helseid`: private_key_jwt only (no client secrets); assertion `aud` = the issuer, `exp` at
/// most 60 s ahead, header `typ: client-authentication+jwt` (NHN's client library since 2025);
/// RSA or EC keys; DPoP required for current clients (so on unless `dpop: false`).
pub const HELSEID: Profile = Profile {
    name: "helseid",
    auth_methods: Some(&["private_key_jwt"]),
    assertion_algs: Some(RSA_EC),
    assertion_typ: "client-authentication+jwt",
    assertion_lifetime: (60, 60),
    audience: Audience::Issuer,
    needs_issuer: true,
    dpop_default: true,
    grant_default: "client_credentials",
};

/// `maskinporten`: the JWT bearer grant (RFC 7523 §2.1) signed RS256/384/512; `aud` = the issuer
/// (`https://maskinporten.no/`), `exp - iat` at most 120 s; Bearer tokens. The client is known by
/// a key registered with Maskinporten (`kid`, in the header) or by its business certificate
/// (`clientAuth.x5c`: the chain, leaf first, in the header).
pub const MASKINPORTEN: Profile = Profile {
    name: "maskinporten",
    auth_methods: Some(&["private_key_jwt"]),
    assertion_algs: Some(&["RS256", "RS384", "RS512"]),
    assertion_typ: "JWT",
    assertion_lifetime: (60, 120),
    audience: Audience::Issuer,
    needs_issuer: true,
    dpop_default: false,
    grant_default: "jwt_bearer",
};

/// `entra`: Microsoft Entra ID: client secret or certificate-style assertion whose `aud` is the
/// token endpoint (v2.0) URL; Bearer tokens (On-Behalf-Of via `grant: 'on_behalf_of'`).
pub const ENTRA: Profile = Profile {
    name: "entra",
    auth_methods: Some(&["client_secret_basic", "client_secret_post", "private_key_jwt"]),
    assertion_algs: Some(&["RS256", "PS256"]),
    assertion_typ: "JWT",
    assertion_lifetime: (300, 600),
    audience: Audience::TokenEndpoint,
    needs_issuer: false,
    dpop_default: false,
    grant_default: "client_credentials",
};

/// `duende`: Duende IdentityServer: shared secrets or private_key_jwt (assertion `aud` = the
/// issuer, accepted by IdentityServer's strict audience validation); DPoP optional.
pub const DUENDE: Profile = Profile {
    name: "duende",
    auth_methods: Some(&["client_secret_basic", "client_secret_post", "private_key_jwt"]),
    assertion_algs: Some(RSA_EC),
    assertion_typ: "JWT",
    assertion_lifetime: (60, 300),
    audience: Audience::Issuer,
    needs_issuer: false,
    dpop_default: false,
    grant_default: "client_credentials",
};

/// The profile named by the `profile` option.
pub fn by_name(name: &str) -> Result<Profile> {
    [GENERIC, HELSEID, MASKINPORTEN, ENTRA, DUENDE].into_iter().find(|p| p.name == name).ok_or_else(|| {
        TokenError::config(
            "profile",
            cat!(
                "\"",
                crate::text::clean(name, crate::text::QUOTED),
                "\" is not one of \"helseid\", \"maskinporten\", \"entra\", \"duende\", \"generic\""
            ),
        )
    })
}

impl Profile {
    /// Fill the defaults this profile sets into `options` (absent fields only).
    pub fn apply_defaults(&self, options: &mut Map<String, Value>) {
        if !options.contains_key("grant") {
            options.insert("grant".into(), self.grant_default.into());
        }
        if self.dpop_default && !options.contains_key("dpop") {
            options.insert("dpop".into(), true.into());
        }
    }

    /// Check the client authentication method against the authority's rule.
    pub fn check_method(&self, method: &str) -> Result<()> {
        match self.auth_methods {
            Some(allowed) if !allowed.contains(&method) => Err(TokenError::config(
                "clientAuth.method",
                cat!(
                    "profile \"",
                    self.name,
                    "\" accepts ",
                    allowed.join(", "),
                    " (got \"",
                    crate::text::clean(method, crate::text::QUOTED),
                    "\")"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Check an assertion signing algorithm against the authority's rule.
    pub fn check_alg(&self, alg: &str) -> Result<()> {
        match self.assertion_algs {
            Some(allowed) if !allowed.contains(&alg) => Err(TokenError::config(
                "clientAuth.alg",
                cat!(
                    "profile \"",
                    self.name,
                    "\" accepts ",
                    allowed.join(", "),
                    " (the key signs ",
                    alg,
                    ")"
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;

    #[test]
    fn unknown_profiles_are_named() {
        assert!(by_name("keycloak").unwrap_err().message.starts_with("profile: \"keycloak\" is not one of"));
        assert_eq!(by_name("helseid").unwrap(), HELSEID);
    }

    #[test]
    fn defaults_fill_only_absent_fields() {
        let mut o = Map::new();
        HELSEID.apply_defaults(&mut o);
        assert_eq!((o["dpop"].clone(), o["grant"].clone()), (json!(true), json!("client_credentials")));
        let mut o = Map::new();
        o.insert("dpop".into(), json!(false));
        o.insert("grant".into(), json!("client_credentials"));
        MASKINPORTEN.apply_defaults(&mut o);
        assert_eq!((o["dpop"].clone(), o["grant"].clone()), (json!(false), json!("client_credentials")));
        let mut o = Map::new();
        MASKINPORTEN.apply_defaults(&mut o);
        assert_eq!(o["grant"], "jwt_bearer");
    }

    #[test]
    fn rules_name_the_field_and_the_authority() {
        let e = HELSEID.check_method("client_secret_basic").unwrap_err();
        assert_eq!(
            e.message,
            "clientAuth.method: profile \"helseid\" accepts private_key_jwt (got \"client_secret_basic\")"
        );
        // Found by the config fuzz target: the caller's method was quoted with its control characters.
        let e = HELSEID.check_method("private_key\u{7f}jwt\u{202e}").unwrap_err();
        assert!(e.message.ends_with("(got \"private_key jwt\")"), "{}", e.message);
        let e = MASKINPORTEN.check_alg("ES256").unwrap_err();
        assert_eq!(
            e.message,
            "clientAuth.alg: profile \"maskinporten\" accepts RS256, RS384, RS512 (the key signs ES256)"
        );
        assert!(GENERIC.check_alg("ES256").is_ok());
    }
}
