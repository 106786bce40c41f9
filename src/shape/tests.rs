//! Every input that shapes a token request reaches the key; nothing else does.

use super::*;
use crate::json::json;
use crate::key::tests::rfc7515_jwk;

const SALT: [u8; 32] = [1; 32];

fn config(options: Value) -> ClientConfig {
    crate::config::parse(&options).unwrap()
}

fn key_of(config: &ClientConfig, options: &RequestOptions, dpop: Option<&str>) -> String {
    Shape::resolve(config, options, Keys { dpop, salt: &SALT }).unwrap().key
}

fn req(options: Value) -> RequestOptions {
    crate::config::parse_request(&options).unwrap()
}

/// A `private_key_jwt` client, with `extra` options over the base ones.
fn jwt_options(extra: Value) -> Value {
    let mut options = json!({
        "issuer": "https://as.example", "tokenEndpoint": "https://as.example/token", "clientId": "c",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk()}, "scope": "api"
    });
    for (k, v) in extra.as_object().unwrap().iter() {
        options.as_object_mut().unwrap().insert(k.clone(), v.clone());
    }
    options
}

fn secret_options(secret: &str, extra: Value) -> Value {
    let mut options = json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c",
        "clientAuth": {"method": "client_secret_post", "clientSecret": secret}, "scope": "api"
    });
    for (k, v) in extra.as_object().unwrap().iter() {
        options.as_object_mut().unwrap().insert(k.clone(), v.clone());
    }
    options
}

fn jwt_auth(extra: Value) -> Value {
    let mut auth = json!({"method": "private_key_jwt", "privateJwk": rfc7515_jwk()});
    for (k, v) in extra.as_object().unwrap().iter() {
        auth.as_object_mut().unwrap().insert(k.clone(), v.clone());
    }
    auth
}

#[test]
fn every_input_that_shapes_the_request_changes_the_key() {
    let none = RequestOptions::default();
    let base = config(jwt_options(json!({})));
    let mut keys = vec![("base", key_of(&base, &none, None))];
    let mut variant =
        |name: &'static str, config: ClientConfig, options: RequestOptions, dpop: Option<&str>| {
            keys.push((name, key_of(&config, &options, dpop)));
        };
    variant(
        "endpoint",
        config(jwt_options(json!({"tokenEndpoint": "https://as.example/other"}))),
        none.clone(),
        None,
    );
    variant("issuer", config(jwt_options(json!({"issuer": "https://as.example/t2"}))), none.clone(), None);
    variant("client id", config(jwt_options(json!({"clientId": "c2"}))), none.clone(), None);
    variant(
        "client claims",
        config(jwt_options(json!({"clientAuth": jwt_auth(json!({"claims": {"org": "1"}}))}))),
        none.clone(),
        None,
    );
    variant("call claims", base.clone(), req(json!({"claims": {"org": "2"}})), None);
    variant(
        "audience",
        config(jwt_options(json!({"clientAuth": jwt_auth(json!({"audience": "https://other/"}))}))),
        none.clone(),
        None,
    );
    variant(
        "kid",
        config(jwt_options(json!({"clientAuth": jwt_auth(json!({"kid": "k2"}))}))),
        none.clone(),
        None,
    );
    variant(
        "lifetime",
        config(jwt_options(json!({"clientAuth": jwt_auth(json!({"lifetimeSeconds": 30}))}))),
        none.clone(),
        None,
    );
    variant(
        "client params",
        config(jwt_options(json!({"extraParams": {"tenant": "a"}}))),
        none.clone(),
        None,
    );
    variant("call params", base.clone(), req(json!({"extraParams": {"tenant": "b"}})), None);
    variant("scope", base.clone(), req(json!({"scope": "api other"})), None);
    variant("resource", base.clone(), req(json!({"resource": "https://api.example/"})), None);
    variant("dpop key", base.clone(), none.clone(), Some("jkt-1"));
    variant("grant", config(jwt_options(json!({"grant": "jwt_bearer"}))), none.clone(), None);
    variant("secret a", config(secret_options("a", json!({}))), none.clone(), None);
    variant("secret b", config(secret_options("b", json!({}))), none.clone(), None);
    variant(
        "basic",
        config(json!({"tokenEndpoint": "https://as.example/token", "clientId": "c", "scope": "api",
                      "clientAuth": {"method": "client_secret_basic", "clientSecret": "a"}})),
        none.clone(),
        None,
    );
    let exchange =
        |x: Value| config(secret_options("a", json!({"grant": "token_exchange", "tokenExchange": x})));
    let subject = req(json!({"subjectToken": "user-1"}));
    variant("exchange", exchange(json!({})), subject.clone(), None);
    variant("exchange audience", exchange(json!({"audience": "b"})), subject.clone(), None);
    variant(
        "exchange requested type",
        exchange(json!({"requestedTokenType": "urn:x"})),
        subject.clone(),
        None,
    );
    variant("exchange actor", exchange(json!({"actorToken": "actor-1"})), subject.clone(), None);
    variant("exchange actor 2", exchange(json!({"actorToken": "actor-2"})), subject.clone(), None);
    variant("exchange subject type", exchange(json!({"subjectTokenType": "urn:y"})), subject.clone(), None);
    variant("subject 2", exchange(json!({})), req(json!({"subjectToken": "user-2"})), None);
    variant(
        "subject type",
        exchange(json!({})),
        req(json!({"subjectToken": "user-1", "subjectTokenType": "urn:z"})),
        None,
    );
    let mut seen = std::collections::HashMap::new();
    for (name, key) in &keys {
        assert_eq!(key.len(), 43, "{name}");
        if let Some(other) = seen.insert(key.clone(), *name) {
            panic!("{name} and {other} share a key");
        }
    }
}

#[test]
fn what_only_sends_or_caches_differently_does_not_change_the_key() {
    let none = RequestOptions::default();
    let base = key_of(&config(jwt_options(json!({}))), &none, None);
    for extra in [
        json!({"timeoutMs": 1000}),
        json!({"cacheSize": 5}),
        json!({"retries": 0}),
        json!({"refreshBeforeExpirySeconds": 10}),
        json!({"staleIfErrorSeconds": 30}),
        json!({"baseUrl": "https://api.example"}),
        json!({"allowedOrigins": ["https://api2.example"]}),
    ] {
        assert_eq!(key_of(&config(jwt_options(extra.clone())), &none, None), base, "{extra}");
    }
    // Sets, not lists.
    let c = config(jwt_options(json!({})));
    assert_eq!(
        key_of(&c, &req(json!({"scope": "b a a"})), None),
        key_of(&c, &req(json!({"scope": ["a", "b"]})), None)
    );
}

#[test]
fn a_calls_claims_and_params_key_like_the_same_client_options() {
    // The same request, whether the tenant's values are the client's or the call's.
    let claims = json!({"assertion_details": [{"type": "helseid_authorization", "org": "999"}]});
    let per_client = config(jwt_options(
        json!({"clientAuth": jwt_auth(json!({"claims": claims.clone()})), "extraParams": {"t": "1"}}),
    ));
    let per_call = config(jwt_options(json!({})));
    let options = req(json!({"claims": claims, "extraParams": {"t": "1"}}));
    assert_eq!(key_of(&per_client, &RequestOptions::default(), None), key_of(&per_call, &options, None));
    // The call's values go over the client's, by name.
    let shape = Shape::resolve(
        &per_client,
        &req(json!({"claims": {"org": "2"}, "extraParams": {"t": "2", "u": "3"}})),
        Keys { dpop: None, salt: &SALT },
    )
    .unwrap();
    assert_eq!(shape.claims.get("org"), Some(&json!("2")));
    assert!(shape.claims.contains_key("assertion_details"));
    assert_eq!(shape.extra_params, [("t".to_owned(), "2".to_owned()), ("u".to_owned(), "3".to_owned())]);
}

#[test]
fn call_claims_need_an_assertion() {
    let c = config(secret_options("a", json!({})));
    let e = Shape::resolve(&c, &req(json!({"claims": {"org": "1"}})), Keys { dpop: None, salt: &SALT })
        .unwrap_err();
    assert_eq!(e.code, crate::ErrorCode::InvalidArgument);
    assert!(e.message.starts_with("req.claims: "), "{}", e.message);
}

#[test]
fn keys_are_keyed_and_hold_no_secret() {
    let c = config(secret_options("a-very-secret-value", json!({"grant": "on_behalf_of"})));
    let options = req(json!({"subjectToken": "user.token.value"}));
    let shape = Shape::resolve(&c, &options, Keys { dpop: None, salt: &SALT }).unwrap();
    let other_salt = Shape::resolve(&c, &options, Keys { dpop: None, salt: &[2; 32] }).unwrap();
    assert_eq!(shape.digest, other_salt.digest);
    assert_ne!(shape.key, other_salt.key, "the key depends on the salt");
    let description = describe(&c, None, &shape);
    for secret in ["a-very-secret-value", "user.token.value"] {
        assert!(!description.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret}");
        assert!(!format!("{shape:?}").contains(secret));
    }
}

#[test]
fn descriptions_cannot_be_spliced() {
    // Moving a boundary between two fields changes the description.
    let a = config(secret_options("a", json!({"extraParams": {"ab": "c"}})));
    let b = config(secret_options("a", json!({"extraParams": {"a": "bc"}})));
    let none = RequestOptions::default();
    assert_ne!(key_of(&a, &none, None), key_of(&b, &none, None));
    let c = config(secret_options("a", json!({})));
    assert_ne!(
        key_of(&c, &req(json!({"resource": ["urn:ab", "urn:c"]})), None),
        key_of(&c, &req(json!({"resource": ["urn:a", "urn:bc"]})), None),
    );
}
