//! Token requests: client credentials (RFC 6749 §4.4), JWT bearer (RFC 7523 §2.1), Entra's
//! On-Behalf-Of and token exchange (RFC 8693 §2.1), with client authentication (RFC 6749 §2.3.1
//! secrets, RFC 7523 §2.2 assertions), scope and resource (RFC 8707).

/// How the client proves who it is at the token endpoint, with the material for one request.
#[derive(Clone, Copy)]
pub enum ClientCredentials<'a> {
    /// HTTP Basic with id and secret, each form-urlencoded first (RFC 6749 §2.3.1).
    SecretBasic {
        /// The client id.
        client_id: &'a str,
        /// The client secret.
        secret: &'a str,
    },
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    SecretPost {
        /// The client id.
        client_id: &'a str,
        /// The client secret.
        secret: &'a str,
    },
    /// A signed JWT client assertion (RFC 7523 §2.2, `private_key_jwt`).
    Assertion {
        /// The client id.
        client_id: &'a str,
        /// The compact JWS minted for this request.
        assertion: &'a str,
    },
    /// A public client: only `client_id` in the body.
    None {
        /// The client id.
        client_id: &'a str,
    },
    /// No client authentication at all: the grant's own assertion identifies the client
    /// (Maskinporten's JWT bearer grant).
    Omitted,
}

/// A token request ready to send: `POST url` with these headers and form body.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The token endpoint.
    pub url: String,
    /// Request headers (Content-Type, Accept, Authorization when Basic).
    pub headers: Vec<(&'static str, String)>,
    /// `application/x-www-form-urlencoded` body.
    pub body: String,
}

/// Header names and form parameter names only: the values carry secrets and assertions.
impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("TokenRequest")
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &crate::transport::FormNames(&self.body))
            .finish()
    }
}

/// `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The default `subject_token_type`: an access token (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The grant being requested, with its per-request material (`Debug` shows the grant only).
#[derive(Clone, Copy)]
pub enum Grant<'a> {
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
    /// `jwt-bearer` (RFC 7523 §2.1): `assertion` is the grant (self-signed, as Maskinporten wants,
    /// or a JWT the caller received).
    JwtBearer {
        /// The assertion.
        assertion: &'a str,
    },
    /// Microsoft Entra On-Behalf-Of: `jwt-bearer` with the incoming user token as `assertion` and
    /// `requested_token_use=on_behalf_of`.
    OnBehalfOf {
        /// The user's access token.
        assertion: &'a str,
    },
    /// Token exchange (RFC 8693 §2.1).
    TokenExchange(TokenExchange<'a>),
}

/// Without the assertions and tokens.
impl std::fmt::Debug for Grant<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::ClientCredentials => f.write_str("ClientCredentials"),
            Grant::JwtBearer { .. } => f.debug_struct("JwtBearer").field("assertion", &"***").finish(),
            Grant::OnBehalfOf { .. } => f.debug_struct("OnBehalfOf").field("assertion", &"***").finish(),
            Grant::TokenExchange(x) => f.debug_tuple("TokenExchange").field(x).finish(),
        }
    }
}

/// The RFC 8693 §2.1 parameters of a token exchange (`Debug` shows the tokens as `***`).
#[derive(Clone, Copy)]
pub struct TokenExchange<'a> {
    /// `subject_token`.
    pub subject_token: &'a str,
    /// `subject_token_type`.
    pub subject_token_type: &'a str,
    /// `requested_token_type`.
    pub requested_token_type: Option<&'a str>,
    /// `audience`.
    pub audience: Option<&'a str>,
    /// `actor_token` and `actor_token_type`.
    pub actor: Option<(&'a str, &'a str)>,
}

impl std::fmt::Debug for TokenExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchange")
            .field("subject_token", &"***")
            .field("subject_token_type", &self.subject_token_type)
            .field("requested_token_type", &self.requested_token_type)
            .field("audience", &self.audience)
            .field("actor", &self.actor.map(|(_, kind)| ("***", kind)))
            .finish()
    }
}

/// Build the token request for `grant`, with `scope` (space-joined), each `resource` repeated
/// (RFC 8707 §2) and `extra` parameters appended.
pub fn token_request(
    token_endpoint: &str,
    grant: Grant<'_>,
    credentials: ClientCredentials<'_>,
    scope: &[String],
    resource: &[String],
    extra: &[(String, String)],
) -> TokenRequest {
    let mut form = Form::default();
    match grant {
        Grant::ClientCredentials => form.add("grant_type", "client_credentials"),
        Grant::JwtBearer { assertion } => {
            form.add("grant_type", JWT_BEARER);
            form.add("assertion", assertion);
        }
        Grant::OnBehalfOf { assertion } => {
            form.add("grant_type", JWT_BEARER);
            form.add("assertion", assertion);
            form.add("requested_token_use", "on_behalf_of");
        }
        Grant::TokenExchange(x) => {
            form.add("grant_type", TOKEN_EXCHANGE);
            form.add("subject_token", x.subject_token);
            form.add("subject_token_type", x.subject_token_type);
            if let Some(t) = x.requested_token_type {
                form.add("requested_token_type", t);
            }
            if let Some(a) = x.audience {
                form.add("audience", a);
            }
            if let Some((token, token_type)) = x.actor {
                form.add("actor_token", token);
                form.add("actor_token_type", token_type);
            }
        }
    }
    if !scope.is_empty() {
        form.add("scope", &crate::text::spaced(scope));
    }
    for r in resource {
        form.add("resource", r);
    }
    let mut headers = vec![
        ("content-type", "application/x-www-form-urlencoded".to_owned()),
        ("accept", "application/json".to_owned()),
    ];
    match credentials {
        ClientCredentials::SecretBasic { client_id, secret } => {
            let pair = cat!(form_urlencode(client_id), ":", form_urlencode(secret));
            headers.push(("authorization", cat!("Basic ", crate::jose::b64_standard(pair.as_bytes()))));
        }
        ClientCredentials::SecretPost { client_id, secret } => {
            form.add("client_id", client_id);
            form.add("client_secret", secret);
        }
        ClientCredentials::Assertion { client_id, assertion } => {
            form.add("client_id", client_id);
            form.add("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
            form.add("client_assertion", assertion);
        }
        ClientCredentials::None { client_id } => form.add("client_id", client_id),
        ClientCredentials::Omitted => {}
    }
    for (name, value) in extra {
        form.add(name, value);
    }
    TokenRequest { url: token_endpoint.to_owned(), headers, body: form.0 }
}

#[derive(Default)]
struct Form(String);

impl Form {
    fn add(&mut self, name: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        self.0.push_str(&form_urlencode(name));
        self.0.push('=');
        self.0.push_str(&form_urlencode(value));
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value (WHATWG URL §5.2; space -> `+`).
pub fn form_urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(byte >> 4) as usize] as char);
                out.push(HEX[(byte & 0xf) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    // The base64 crate as an independent oracle for the Basic header.
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    fn header<'a>(req: &'a TokenRequest, name: &str) -> Option<&'a str> {
        req.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn basic_auth_form_encodes_id_and_secret_before_base64() {
        let req = token_request(
            "https://as/token",
            Grant::ClientCredentials,
            ClientCredentials::SecretBasic { client_id: "my client", secret: "s3cr3t+/:%&= B" },
            &[],
            &[],
            &[],
        );
        let expected = STANDARD.encode("my+client:s3cr3t%2B%2F%3A%25%26%3D+B");
        assert_eq!(header(&req, "authorization"), Some(format!("Basic {expected}").as_str()));
        assert_eq!(req.body, "grant_type=client_credentials");
    }

    #[test]
    fn post_secret_scope_and_repeated_resources_are_in_the_body() {
        let req = token_request(
            "https://as/token",
            Grant::ClientCredentials,
            ClientCredentials::SecretPost { client_id: "c", secret: "p&q" },
            &["a.read".into(), "b.write".into()],
            &["https://api1/".into(), "https://api2/".into()],
            &[("x".into(), "y z".into())],
        );
        assert_eq!(
            req.body,
            "grant_type=client_credentials&scope=a.read+b.write&resource=https%3A%2F%2Fapi1%2F\
             &resource=https%3A%2F%2Fapi2%2F&client_id=c&client_secret=p%26q&x=y+z"
        );
        assert_eq!(header(&req, "authorization"), None);
        assert_eq!(header(&req, "content-type"), Some("application/x-www-form-urlencoded"));
    }

    #[test]
    fn assertion_uses_the_jwt_bearer_assertion_type() {
        let req = token_request(
            "https://as/token",
            Grant::ClientCredentials,
            ClientCredentials::Assertion { client_id: "c", assertion: "a.b.c" },
            &[],
            &[],
            &[],
        );
        assert!(req.body.ends_with(
            "client_id=c&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c"
        ));
    }

    #[test]
    fn jwt_bearer_grant_without_client_authentication() {
        let req = token_request(
            "https://maskinporten.example/token",
            Grant::JwtBearer { assertion: "h.c.s" },
            ClientCredentials::Omitted,
            &[],
            &[],
            &[],
        );
        assert_eq!(
            req.body,
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=h.c.s"
        );
        assert_eq!(header(&req, "authorization"), None);
    }

    #[test]
    fn on_behalf_of_sends_the_user_token_and_requested_token_use() {
        let req = token_request(
            "https://login.example/token",
            Grant::OnBehalfOf { assertion: "user.jwt.sig" },
            ClientCredentials::SecretPost { client_id: "api", secret: "s" },
            &["https://graph.example/.default".into()],
            &[],
            &[],
        );
        assert_eq!(
            req.body,
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=user.jwt.sig\
             &requested_token_use=on_behalf_of&scope=https%3A%2F%2Fgraph.example%2F.default&client_id=api&client_secret=s"
        );
    }

    #[test]
    fn token_exchange_sends_rfc8693_parameters() {
        let req = token_request(
            "https://as/token",
            Grant::TokenExchange(TokenExchange {
                subject_token: "subj",
                subject_token_type: ACCESS_TOKEN_TYPE,
                requested_token_type: Some("urn:ietf:params:oauth:token-type:jwt"),
                audience: Some("backend"),
                actor: Some(("act", ACCESS_TOKEN_TYPE)),
            }),
            ClientCredentials::SecretBasic { client_id: "c", secret: "s" },
            &[],
            &["https://backend/".into()],
            &[],
        );
        let pairs: Vec<&str> = req.body.split('&').collect();
        assert_eq!(pairs[0], "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange");
        assert!(pairs.contains(&"subject_token=subj"));
        assert!(pairs.contains(&"subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"));
        assert!(pairs.contains(&"requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"));
        assert!(pairs.contains(&"audience=backend"));
        assert!(pairs.contains(&"actor_token=act"));
        assert!(pairs.contains(&"resource=https%3A%2F%2Fbackend%2F"));
    }

    #[test]
    fn form_urlencode_escapes_utf8_bytes() {
        assert_eq!(form_urlencode("æ ~"), "%C3%A6+%7E");
    }
}
