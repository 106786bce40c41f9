use super::*;
use crate::json::json;
use crate::key::tests::rfc7515_jwk;

fn base() -> Value {
    json!({
        "tokenEndpoint": "https://as.example/token",
        "clientId": "c",
        "clientAuth": { "method": "client_secret_basic", "clientSecret": "s" }
    })
}

fn err(options: Value) -> String {
    let e = parse(&options).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    e.into_details().message
}

#[test]
fn minimal_secret_client_gets_defaults() {
    let c = parse(&base()).unwrap();
    assert_eq!(c.refresh_before_secs, 60);
    assert_eq!(c.timeout_ms, 30_000);
    assert!(matches!(c.dpop, DpopSetting::Off));
    assert!(matches!(c.client_auth, ClientAuth::SecretBasic(ref s) if s.expose() == "s"));
}

#[test]
fn missing_and_mistyped_fields_are_named() {
    let mut o = base();
    o.as_object_mut().unwrap().remove("clientId");
    assert_eq!(err(o), "clientId: is required");
    let mut o = base();
    o["clientAuth"]["method"] = json!("client_secret_jwt");
    assert!(err(o).starts_with("clientAuth.method: \"client_secret_jwt\" is not one of"));
    let mut o = base();
    o["clientAuth"] = json!({"method": "client_secret_post"});
    assert_eq!(err(o), "clientAuth.clientSecret: is required");
    let mut o = base();
    o["timeoutMs"] = json!(-5);
    assert_eq!(err(o), "timeoutMs: must be an integer from 1 to 600000");
    let mut o = base();
    o["refreshBeforeExpirySecond"] = json!(5);
    assert_eq!(err(o), "options: unknown option \"refreshBeforeExpirySecond\"");
    let mut o = base();
    o["scope"] = json!(["a", 3]);
    assert_eq!(err(o), "scope[1]: must be a non-empty string without spaces");
}

#[test]
fn token_endpoint_must_be_https_except_on_loopback() {
    let mut o = base();
    o["tokenEndpoint"] = json!("http://as.example/token");
    assert_eq!(
        err(o.clone()),
        "tokenEndpoint: must be an https URL (plain http is allowed only for loopback hosts)"
    );
    for bad in ["https://as.example/to\u{0}ken", "https://as.example/\u{7f}"] {
        o["tokenEndpoint"] = json!(bad);
        assert!(parse(&o).is_err(), "control characters are refused: {bad:?}");
    }
    for ok in ["http://127.0.0.1:8080/token", "http://localhost/t", "http://[::1]:9/t"] {
        o["tokenEndpoint"] = json!(ok);
        assert!(parse(&o).is_ok(), "{ok}");
    }
    o["tokenEndpoint"] = json!("/token");
    assert_eq!(err(o), "tokenEndpoint: must be an absolute https URL");
}

#[test]
fn private_key_jwt_key_errors_are_config_errors_naming_the_field() {
    let mut o = base();
    o["clientAuth"] = json!({"method": "private_key_jwt", "privateJwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}});
    assert!(err(o).starts_with("clientAuth.privateJwk: has no \"d\""));
}

#[test]
fn private_key_jwt_audience_defaults_to_issuer_then_token_endpoint() {
    let mut o = base();
    o["clientAuth"] = json!({"method": "private_key_jwt", "privateJwk": rfc7515_jwk()});
    let claims = |c: &ClientConfig| match &c.client_auth {
        ClientAuth::PrivateKeyJwt(s) => {
            let input = s.signing_input(1, "j", s.claims());
            crate::dpop::decode_unverified(&input).unwrap().1
        }
        _ => panic!("not private_key_jwt"),
    };
    assert_eq!(claims(&parse(&o).unwrap())["aud"], "https://as.example/token");
    o["issuer"] = json!("https://as.example");
    assert_eq!(claims(&parse(&o).unwrap())["aud"], "https://as.example");
    o["clientAuth"]["audience"] = json!("https://other");
    assert_eq!(claims(&parse(&o).unwrap())["aud"], "https://other");
}

#[test]
fn scope_string_splits_and_resources_must_be_absolute() {
    let mut o = base();
    o["scope"] = json!("a  b");
    o["resource"] = json!("https://api/");
    let c = parse(&o).unwrap();
    assert_eq!(c.scope, vec!["a", "b"]);
    assert_eq!(c.resource, vec!["https://api/"]);
    o["resource"] = json!(["https://api/", "api2"]);
    assert_eq!(err(o), "resource[1]: must be an absolute URI without a fragment (RFC 8707 §2)");
}

#[test]
fn dpop_setting_forms() {
    let mut o = base();
    o["dpop"] = json!(true);
    assert!(matches!(parse(&o).unwrap().dpop, DpopSetting::Generate));
    o["dpop"] = json!({"privateJwk": rfc7515_jwk()});
    assert!(matches!(parse(&o).unwrap().dpop, DpopSetting::Key(_)));
    o["dpop"] = json!("yes");
    assert_eq!(err(o), "dpop: must be true, false, { privateJwk } or { keyPair }");
}

#[test]
fn secrets_never_print_in_debug() {
    let mut o = base();
    o["clientAuth"]["clientSecret"] = json!("hunter2-very-secret");
    let c = parse(&o).unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

fn header_and_claims(c: &ClientConfig) -> (Value, Value) {
    match &c.client_auth {
        ClientAuth::PrivateKeyJwt(s) => {
            crate::dpop::decode_unverified(&s.signing_input(1000, "j", s.claims())).unwrap()
        }
        other => panic!("not private_key_jwt: {other:?}"),
    }
}

#[test]
fn helseid_profile_sets_typ_audience_lifetime_and_dpop() {
    let o = json!({
        "profile": "helseid", "issuer": "https://helseid-sts.example", "clientId": "c",
        "tokenEndpoint": "https://helseid-sts.example/connect/token",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": rfc7515_jwk()}
    });
    let c = parse(&o).unwrap();
    let (header, claims) = header_and_claims(&c);
    assert_eq!(header["typ"], "client-authentication+jwt");
    assert_eq!(claims["aud"], "https://helseid-sts.example");
    assert_eq!(claims["exp"], 1060);
    assert!(matches!(c.dpop, DpopSetting::Generate));
    let mut off = o.clone();
    off["dpop"] = json!(false);
    assert!(matches!(parse(&off).unwrap().dpop, DpopSetting::Off), "explicit options win");
    let mut secret = o.clone();
    secret["clientAuth"] = json!({"method": "client_secret_basic", "clientSecret": "s"});
    assert!(err(secret).starts_with("clientAuth.method: profile \"helseid\" accepts private_key_jwt"));
    let mut long = o.clone();
    long["clientAuth"]["lifetimeSeconds"] = json!(120);
    assert_eq!(err(long), "clientAuth.lifetimeSeconds: must be an integer from 1 to 60");
    let mut no_issuer = o;
    no_issuer.as_object_mut().unwrap().remove("issuer");
    assert!(err(no_issuer).starts_with("issuer: is required by profile \"helseid\""));
}

#[test]
fn maskinporten_profile_defaults_to_the_jwt_bearer_grant_and_rsa() {
    let o = json!({
        "profile": "maskinporten", "issuer": "https://maskinporten.example/", "clientId": "c",
        "tokenEndpoint": "https://maskinporten.example/token",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": crate::key::tests::rsa_jwk(), "alg": "RS256"}
    });
    let c = parse(&o).unwrap();
    assert_eq!(c.grant, GrantKind::JwtBearer);
    assert!(matches!(c.dpop, DpopSetting::Off));
    let mut ec = o;
    ec["clientAuth"] = json!({"method": "private_key_jwt", "privateJwk": rfc7515_jwk()});
    assert!(err(ec).starts_with("clientAuth.alg: profile \"maskinporten\" accepts RS256, RS384, RS512"));
}

#[test]
fn entra_profile_uses_the_token_endpoint_as_assertion_audience() {
    let o = json!({
        "profile": "entra", "issuer": "https://login.example/tenant/v2.0", "clientId": "c",
        "tokenEndpoint": "https://login.example/tenant/oauth2/v2.0/token",
        "clientAuth": {"method": "private_key_jwt", "privateJwk": crate::key::tests::rsa_jwk(), "alg": "RS256"}
    });
    let (_, claims) = header_and_claims(&parse(&o).unwrap());
    assert_eq!(claims["aud"], "https://login.example/tenant/oauth2/v2.0/token");
    let mut discover = o;
    discover.as_object_mut().unwrap().remove("tokenEndpoint");
    assert!(err(discover).starts_with("clientAuth.audience: is required: profile \"entra\""));
}

#[test]
fn duende_and_generic_profiles_accept_secrets() {
    for profile in ["duende", "generic"] {
        let mut o = base();
        o["profile"] = json!(profile);
        assert!(parse(&o).is_ok(), "{profile}");
    }
    let mut o = base();
    o["profile"] = json!("auth0");
    assert!(err(o).starts_with("profile: \"auth0\" is not one of"));
}

#[test]
fn extra_params_cannot_repeat_what_tokenfetch_sends() {
    let mut o = base();
    o["extraParams"] = json!({"authorization_details": "[]", "scope": "x"});
    assert!(err(o).starts_with("extraParams.scope: is a parameter tokenfetch sets itself"));
}

#[test]
fn typos_inside_client_auth_are_named() {
    let mut o = base();
    o["clientAuth"]["lifetimeSecond"] = json!(30);
    assert_eq!(err(o), "clientAuth: unknown option \"lifetimeSecond\"");
}

#[test]
fn x5c_goes_in_the_header_when_its_leaf_holds_the_key() {
    use crate::x509::tests::RFC7515_CERT;
    let mut o = base();
    o["clientAuth"] =
        json!({"method": "private_key_jwt", "privateJwk": rfc7515_jwk(), "x5c": [RFC7515_CERT]});
    let (header, _) = header_and_claims(&parse(&o).unwrap());
    assert_eq!(header["x5c"], json!([RFC7515_CERT]));
    assert!(header.get("kid").is_none(), "no kid unless one is given");
    // Another key's certificate is refused, naming the option.
    // RFC 7517 A.2's P-256 key.
    let other = json!({"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                       "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"});
    o["clientAuth"]["privateJwk"] = other;
    assert!(err(o.clone()).starts_with("clientAuth.x5c: the leaf certificate"), "{}", err(o.clone()));
    o["clientAuth"]["x5c"] = json!("MIIB");
    assert!(err(o).starts_with("clientAuth.x5c: must be a non-empty array"));
}
