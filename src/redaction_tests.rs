//! Every public type that can hold a secret prints without it, in `{:?}` and `{:#?}`: client
//! secrets, private keys, assertions, subject and actor tokens, access tokens, and the values of
//! extra parameters and claims (a tenant's may be confidential).

use crate::assertion::{AssertionParams, AssertionSigner};
use crate::cache::CachedToken;
use crate::config::{self, Secret};
use crate::dpop::{DpopKey, ProofClaims};
use crate::grant::{token_request, ClientCredentials, Grant, TokenExchange};
use crate::json::{json, Map};
use crate::key::tests::{rfc7515_jwk, rsa_jwk};
use crate::key::SigningKey;
use crate::token::{TokenResponse, TokenType};
use crate::{HttpRequest, HttpResponse, RequestOptions};

/// Parts of the test keys' private members (RFC 7515 A.3 `d`; the RSA test key's `d`, base64url of 7s).
const KEY_SECRETS: &[&str] = &["jpsQnnGQmL", "BwcHBwcHBwcH"];

/// Format `value` both ways; fail when any of `secrets` (or a test key's private part) shows.
fn assert_redacted(what: &str, value: &dyn std::fmt::Debug, secrets: &[&str]) {
    for text in [format!("{value:?}"), format!("{value:#?}")] {
        for secret in secrets.iter().chain(KEY_SECRETS) {
            assert!(!text.contains(secret), "{what} prints {secret:?}: {text}");
        }
    }
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let rsa = SigningKey::from_jwk("clientAuth.privateJwk", &rsa_jwk(), None, None).unwrap();
    let es = SigningKey::from_jwk("dpop.privateJwk", &rfc7515_jwk(), None, None).unwrap();
    assert_redacted("SigningKey", &rsa, &[]);
    assert_redacted("HostKey", &rsa.host_key(), &[]);
    assert_redacted("HostKey (ES256)", &es.host_key(), &[]);

    let mut claims = Map::new();
    claims.insert("org_secret".into(), json!("claim-value-4711"));
    let params = AssertionParams {
        client_id: "client".into(),
        audience: "https://as.example".into(),
        lifetime_secs: 60,
        typ: "JWT".into(),
        claims,
        x5c: None,
    };
    assert_redacted("AssertionParams", &params, &["claim-value-4711"]);
    let signer = AssertionSigner::new(rsa.clone(), params);
    assert_redacted("AssertionSigner", &signer, &["claim-value-4711"]);
    assert!(format!("{signer:?}").contains("org_secret"), "claim names stay");

    let options = json!({
        "tokenEndpoint": "https://as.example/token",
        "clientId": "c",
        "clientAuth": { "method": "private_key_jwt", "privateJwk": rsa_jwk(), "claims": { "c": "claim-value-4711" } },
        "dpop": { "privateJwk": rfc7515_jwk() },
        "grant": "token_exchange",
        "tokenExchange": { "actorToken": "actor-token-0815" },
        "extraParams": { "authorization_details": "extra-value-1234" }
    });
    let config = config::parse(&options).unwrap();
    assert_redacted("ClientConfig", &config, &["claim-value-4711", "actor-token-0815", "extra-value-1234"]);
    assert!(format!("{config:?}").contains("authorization_details"), "parameter names stay");
    let mut basic = json!({
        "tokenEndpoint": "https://as.example/token",
        "clientId": "c",
        "clientAuth": { "method": "client_secret_basic", "clientSecret": "hunter2-secret" }
    });
    assert_redacted("ClientConfig (secret)", &config::parse(&basic).unwrap(), &["hunter2-secret"]);
    basic["clientAuth"]["method"] = json!("client_secret_post");
    assert_redacted("ClientConfig (post)", &config::parse(&basic).unwrap(), &["hunter2-secret"]);
    if let config::GrantKind::TokenExchange(x) = &config.grant {
        assert_redacted("TokenExchangeConfig", x, &["actor-token-0815"]);
    }

    let request =
        RequestOptions { subject_token: Some(Secret::new("subject-token-42".into())), ..Default::default() };
    assert_redacted("RequestOptions", &request, &["subject-token-42"]);

    let exchange = TokenExchange {
        subject_token: "subject-token-42",
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        requested_token_type: None,
        audience: None,
        actor: Some(("actor-token-0815", "urn:ietf:params:oauth:token-type:access_token")),
    };
    assert_redacted("TokenExchange", &exchange, &["subject-token-42", "actor-token-0815"]);
    let grants = [
        Grant::ClientCredentials,
        Grant::JwtBearer { assertion: "grant-assertion-99" },
        Grant::OnBehalfOf { assertion: "user-token-77" },
        Grant::TokenExchange(exchange),
    ];
    let credentials = [
        ClientCredentials::SecretBasic { client_id: "c", secret: "hunter2-secret" },
        ClientCredentials::SecretPost { client_id: "c", secret: "hunter2-secret" },
        ClientCredentials::Assertion { client_id: "c", assertion: "client-assertion-55" },
    ];
    let all = [
        "grant-assertion-99",
        "user-token-77",
        "subject-token-42",
        "actor-token-0815",
        "hunter2-secret",
        "YzpodW50ZXIyLXNlY3JldA",
        "client-assertion-55",
        "extra-value-1234",
    ];
    let extra = [("authorization_details".to_owned(), "extra-value-1234".to_owned())];
    for grant in grants {
        assert_redacted("Grant", &grant, &all);
        for credentials in credentials {
            let token = token_request("https://as.example/token", grant, credentials, &[], &[], &extra);
            assert_redacted("TokenRequest", &token, &all);
            let http = HttpRequest {
                method: "POST",
                url: token.url.clone(),
                headers: [token.headers.clone(), vec![("dpop", "dpop-proof-31".to_owned())]].concat(),
                body: Some(token.body.clone()),
                timeout_ms: 1000,
            };
            assert_redacted("HttpRequest", &http, &[&all[..], &["dpop-proof-31"]].concat());
            assert!(format!("{http:?}").contains("grant_type"), "parameter names stay");
        }
    }

    let body = br#"{"access_token":"access-token-1337","token_type":"Bearer","expires_in":60}"#.to_vec();
    let response = HttpResponse {
        status: 200,
        content_type: None,
        dpop_nonce: None,
        retry_after: None,
        date: None,
        redirected: false,
        body,
    };
    assert_redacted("HttpResponse", &response, &["access-token-1337"]);
    let token = TokenResponse {
        access_token: "access-token-1337".into(),
        token_type: TokenType::Bearer,
        expires_in: Some(60),
        scope: None,
        issued_token_type: None,
    };
    assert_redacted("TokenResponse", &token, &["access-token-1337"]);
    let cached = CachedToken {
        access_token: "access-token-1337".into(),
        token_type: TokenType::Bearer,
        expires_at_ms: 1,
        refresh_at_ms: 1,
        scope: None,
        issued_token_type: None,
    };
    assert_redacted("CachedToken", &cached, &["access-token-1337"]);

    let dpop = DpopKey::new(es).unwrap();
    assert_redacted("DpopKey", &dpop, &[]);
    let claims = ProofClaims {
        method: "GET",
        url: "https://api.example/",
        now_secs: 1,
        jti: "jti",
        access_token: Some("access-token-1337"),
        nonce: None,
    };
    assert_redacted("ProofClaims", &claims, &["access-token-1337"]);
}
