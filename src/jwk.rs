//! JSON Web Keys (RFC 7517/7518 §6): reading the members tokenfetch needs, and RFC 7638 thumbprints.

use crate::json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Result, TokenError};
use crate::jose::{b64url, text};
use crate::text::{clean, QUOTED};

/// RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order, base64url.
/// Supports `EC`, `RSA`, `OKP` and `oct` keys; private members are ignored.
pub fn thumbprint(field: &str, jwk: &Value) -> Result<String> {
    let obj = as_object(field, jwk)?;
    let kty = str_member(field, obj, "kty")?;
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        "oct" => &["k", "kty"],
        other => {
            return Err(TokenError::key(
                field,
                cat!("\"kty\" \"", clean(other, QUOTED), "\" is not supported"),
            ))
        }
    };
    let mut canonical = Map::new();
    for name in members {
        canonical.insert((*name).to_owned(), str_member(field, obj, name)?.into());
    }
    // Map is ordered by member name, and the text has no whitespace: RFC 7638 §3.3.
    Ok(b64url(Sha256::digest(text(&Value::Object(canonical)))))
}

pub(crate) fn as_object<'a>(field: &str, jwk: &'a Value) -> Result<&'a Map<String, Value>> {
    jwk.as_object().ok_or_else(|| TokenError::key(field, "must be a JWK object"))
}

pub(crate) fn str_member<'a>(field: &str, obj: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    match obj.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(TokenError::key(field, cat!("\"", name, "\" must be a non-empty string"))),
        None => Err(TokenError::key(field, cat!("\"", name, "\" is missing"))),
    }
}

pub(crate) fn opt_str_member<'a>(
    field: &str,
    obj: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => str_member(field, obj, name).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;

    /// RFC 7638 §3.1: the RSA key and its thumbprint.
    #[test]
    fn rfc7638_section_3_1_example_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(thumbprint("jwk", &jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn thumbprint_ignores_private_and_optional_members() {
        let public = json!({"kty":"EC","crv":"P-256","x":"AA","y":"AQ"});
        let mut private = public.clone();
        private["d"] = json!("Ag");
        private["kid"] = json!("k1");
        assert_eq!(thumbprint("j", &public).unwrap(), thumbprint("j", &private).unwrap());
    }

    #[test]
    fn thumbprint_errors_name_the_member() {
        let e = thumbprint("jwk", &json!({"kty":"EC","crv":"P-256","x":"AA"})).unwrap_err();
        assert_eq!(e.message, "jwk: \"y\" is missing");
        let e = thumbprint("jwk", &json!({"kty":"XYZ"})).unwrap_err();
        assert_eq!(e.message, "jwk: \"kty\" \"XYZ\" is not supported");
        assert!(thumbprint("jwk", &json!("nope")).is_err());
    }
}
