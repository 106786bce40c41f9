//! Token requests (RFC 6749 §4.4 client credentials) with client authentication
//! (RFC 6749 §2.3.1 secrets, RFC 7523 §2.2 assertions), scope and resource (RFC 8707).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

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
}

/// A token request ready to send: `POST url` with these headers and form body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// The token endpoint.
    pub url: String,
    /// Request headers (Content-Type, Accept, Authorization when Basic).
    pub headers: Vec<(&'static str, String)>,
    /// `application/x-www-form-urlencoded` body.
    pub body: String,
}

/// The grant being requested.
#[derive(Clone, Copy, Debug)]
pub enum Grant {
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
}

/// Build the token request for `grant`, with `scope` (space-joined), each `resource` repeated
/// (RFC 8707 §2) and `extra` parameters appended.
pub fn token_request(
    token_endpoint: &str,
    grant: Grant,
    credentials: ClientCredentials<'_>,
    scope: &[String],
    resource: &[String],
    extra: &[(String, String)],
) -> TokenRequest {
    let mut form = Form::default();
    match grant {
        Grant::ClientCredentials => form.add("grant_type", "client_credentials"),
    }
    if !scope.is_empty() {
        form.add("scope", &scope.join(" "));
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
            let pair = format!("{}:{}", form_urlencode(client_id), form_urlencode(secret));
            headers.push(("authorization", format!("Basic {}", STANDARD.encode(pair))));
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
    fn form_urlencode_escapes_utf8_bytes() {
        assert_eq!(form_urlencode("æ ~"), "%C3%A6+%7E");
    }
}
