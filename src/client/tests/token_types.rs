//! What a token exchange may issue besides access tokens (RFC 8693 §2.2.1: `token_type` `N_A`),
//! and `expires_in` as the JSON number it is.

use super::*;

const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

fn exchange_client(dpop: bool) -> (TokenClient<Script, Clock>, Script, Clock) {
    client(json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c", "grant": "token_exchange",
        "tokenExchange": {"requestedTokenType": ID_TOKEN},
        "clientAuth": {"method": "client_secret_basic", "clientSecret": "s"}, "dpop": dpop
    }))
}

fn issue_id_token(script: &Script, token: &str) {
    let body =
        json!({"access_token": token, "token_type": "N_A", "issued_token_type": ID_TOKEN, "expires_in": 120});
    script.reply(200, body, None);
}

#[test]
fn an_n_a_token_is_returned_with_what_was_issued_and_never_sent_as_authorization() {
    for dpop in [false, true] {
        let (c, script, _) = exchange_client(dpop);
        issue_id_token(&script, "eyJ.id.token");
        let req = with_subject("incoming.jwt");
        let token = block_on(c.get_token(&req)).unwrap();
        assert_eq!(
            (token.token_type, token.issued_token_type.as_deref()),
            (TokenType::NotApplicable, Some(ID_TOKEN))
        );
        assert_eq!(
            (token.access_token.as_str(), token.expires_at_ms),
            ("eyJ.id.token", 1_700_000_000_000 + 120_000)
        );
        // Cached: the next getToken is a hit; an API call is refused before anything is sent.
        assert_eq!(block_on(c.get_token(&req)).unwrap(), token);
        let e = c.headers_now("GET", "https://api.example/r", &req).unwrap_err();
        assert_eq!(e.code, ErrorCode::TokenTypeMismatch, "{dpop}");
        assert!(e.message.contains("N_A") && !e.message.contains("eyJ"), "{}", e.message);
        let e = block_on(c.headers("GET", "https://api.example/r", &req)).unwrap_err();
        assert_eq!(e.code, ErrorCode::TokenTypeMismatch);
        let mut api = Api { replies: VecDeque::new(), seen: Vec::new() };
        assert_eq!(block_on(c.fetch(&mut api, &req)).unwrap_err().code, ErrorCode::TokenTypeMismatch);
        assert!(api.seen.is_empty(), "nothing was sent");
        assert_eq!(script.sent.borrow().len(), 1);
    }
}

#[test]
fn an_n_a_token_from_the_shared_store_is_never_sent_either() {
    let store = MemStore::default();
    let options = json!({
        "tokenEndpoint": "https://as.example/token", "clientId": "c", "grant": "token_exchange",
        "tokenExchange": {"requestedTokenType": ID_TOKEN},
        "clientAuth": {"method": "client_secret_basic", "clientSecret": "s"}
    });
    let req = with_subject("incoming.jwt");
    let (a, script, _) = instance(&options, &store, 1);
    issue_id_token(&script, "eyJ.id.token");
    block_on(a.get_token(&req)).unwrap();
    let (b, script, _) = instance(&options, &store, 2);
    let token = block_on(b.get_token(&req)).unwrap();
    assert_eq!(
        (token.token_type, token.issued_token_type.as_deref()),
        (TokenType::NotApplicable, Some(ID_TOKEN))
    );
    assert!(script.sent.borrow().is_empty(), "from the store");
    let e = block_on(b.headers("GET", "https://api.example/r", &req)).unwrap_err();
    assert_eq!(e.code, ErrorCode::TokenTypeMismatch);
}

#[test]
fn a_fractional_expires_in_is_floored() {
    let (c, script, _) = secret_client();
    script.reply(200, json!({"access_token": "t1", "token_type": "Bearer", "expires_in": 299.5}), None);
    let token = block_on(c.get_token(&RequestOptions::default())).unwrap();
    assert_eq!(token.expires_at_ms, 1_700_000_000_000 + 299_000);
    assert_eq!(token.issued_token_type, None);
}
