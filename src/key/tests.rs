use super::*;
use crate::json::json;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::VerifyingKey;

/// RFC 7515 Appendix A.3 ES256 key.
pub(crate) fn rfc7515_jwk() -> Value {
    json!({"kty":"EC","crv":"P-256",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"})
}

/// A syntactically valid 2048-bit RSA private JWK (the host does the arithmetic).
pub(crate) fn rsa_jwk() -> Value {
    let n = b64url([0xC3u8; 256]);
    json!({"kty":"RSA","n":n,"e":"AQAB","d":b64url([7u8; 256]),"p":"AQ","q":"AQ","dp":"AQ","dq":"AQ","qi":"AQ",
           "alg":"PS256","use":"sig","kid":"rsa-1"})
}

fn verify(key: &SigningKey, input: &str, sig: &[u8]) {
    let jwk = key.public_jwk().unwrap();
    let coord = |n: &str| b64url_decode(n, jwk[n].as_str().unwrap()).unwrap();
    let point = p256::EncodedPoint::from_affine_coordinates(
        (&coord("x")[..]).into(),
        (&coord("y")[..]).into(),
        false,
    );
    VerifyingKey::from_encoded_point(&point)
        .unwrap()
        .verify(input.as_bytes(), &Signature::from_slice(sig).unwrap())
        .unwrap();
}

#[test]
fn rfc7515_a3_key_signs_locally_and_verifies_with_its_public_coordinates() {
    let key = SigningKey::from_jwk("k", &rfc7515_jwk(), None, Some("kid-1")).unwrap();
    let input = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UifQ";
    let sig = key.sign_local(input.as_bytes()).unwrap();
    assert_eq!(sig.len(), 64);
    verify(&key, input, &sig);
    assert_eq!(key.kid(), Some("kid-1"));
    assert_eq!(key.public_jwk().unwrap()["x"], "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
    let host = key.host_key();
    assert!(host.id.starts_with('#'), "a handle, not derived from the key: {}", host.id);
    assert_eq!(host.check_against, None, "the crate checked x/y against d itself");
    let private = crate::json::parse(host.private_jwk.unwrap().as_bytes()).unwrap();
    assert_eq!(private["d"], rfc7515_jwk()["d"], "the host can sign ES256 too when it is faster");
}

#[test]
fn mismatched_public_coordinates_are_refused() {
    let mut jwk = rfc7515_jwk();
    jwk["x"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let e = SigningKey::from_jwk("dpop.privateJwk", &jwk, None, None).unwrap_err();
    assert_eq!(e.message, "dpop.privateJwk: \"x\"/\"y\" do not match the private key \"d\"");
}

#[test]
fn curve_and_alg_must_agree() {
    let e = SigningKey::from_jwk("clientAuth.privateJwk", &rfc7515_jwk(), Some("ES384"), None).unwrap_err();
    assert_eq!(e.message, "clientAuth.privateJwk: \"crv\" \"P-256\" cannot sign ES384 (needs P-384)");
    let e = SigningKey::from_jwk("clientAuth.privateJwk", &rfc7515_jwk(), Some("RS256"), None).unwrap_err();
    assert_eq!(e.message, "clientAuth.privateJwk: \"crv\" \"P-256\" cannot sign RS256 (needs an RSA key)");
    let e = SigningKey::from_jwk("clientAuth.privateJwk", &rsa_jwk(), Some("ES256"), None).unwrap_err();
    assert_eq!(e.message, "clientAuth.privateJwk: an RSA key cannot sign ES256");
    let e = SigningKey::from_jwk("k", &rfc7515_jwk(), Some("HS256"), None).unwrap_err();
    assert!(e.message.starts_with("k.alg: \"HS256\" is not supported"), "{}", e.message);
}

#[test]
fn public_only_keys_and_unknown_types_cannot_sign() {
    let mut public = rfc7515_jwk();
    public.as_object_mut().unwrap().remove("d");
    let e = SigningKey::from_jwk("dpop.privateJwk", &public, None, None).unwrap_err();
    assert!(e.message.starts_with("dpop.privateJwk: has no \"d\""), "{}", e.message);
    let e = SigningKey::from_jwk("k", &json!({"kty":"OKP","crv":"Ed25519","x":"AA","d":"AA"}), None, None)
        .unwrap_err();
    assert_eq!(e.message, "k: \"kty\" must be \"EC\" or \"RSA\" (got \"OKP\")");
}

#[test]
fn rsa_keys_go_to_the_host_with_only_key_members() {
    let key = SigningKey::from_jwk("clientAuth.privateJwk", &rsa_jwk(), None, None).unwrap();
    assert_eq!(key.alg(), Alg::Ps256, "alg from the JWK");
    assert_eq!(key.kid(), Some("rsa-1"));
    assert!(key.sign_local(b"x").is_none());
    let host = key.host_key();
    assert_eq!(host.alg, Alg::Ps256);
    let private = crate::json::parse(host.private_jwk.unwrap().as_bytes()).unwrap();
    assert!(private.get("alg").is_none() && private.get("use").is_none());
    assert_eq!(private["d"], rsa_jwk()["d"]);
    assert_eq!(key.public_jwk().unwrap(), &json!({"e":"AQAB","kty":"RSA","n":rsa_jwk()["n"]}));
    assert!(!host.id.contains(key.thumbprint().unwrap()));
    let check = crate::json::parse(host.check_against.unwrap().as_bytes()).unwrap();
    assert_eq!(&check, key.public_jwk().unwrap(), "the host must check the private part against n/e");
    assert_eq!(host.field, "clientAuth.privateJwk");
    let rs = SigningKey::from_jwk("k", &rsa_jwk(), Some("RS512"), None).unwrap();
    assert_eq!(rs.alg(), Alg::Rs512);
}

#[test]
fn short_rsa_keys_are_refused() {
    let mut jwk = rsa_jwk();
    jwk["n"] = json!(b64url([0xC3u8; 128]));
    let e = SigningKey::from_jwk("k", &jwk, None, None).unwrap_err();
    assert_eq!(e.message, "k: RSA keys must be at least 2048 bits");
}

#[test]
fn p384_and_p521_keys_are_host_keys_with_checked_sizes() {
    let jwk =
        json!({"kty":"EC","crv":"P-384","x":b64url([1u8;48]),"y":b64url([2u8;48]),"d":b64url([3u8;48])});
    let key = SigningKey::from_jwk("k", &jwk, None, None).unwrap();
    assert_eq!(key.alg(), Alg::Es384);
    assert!(key.host_key().private_jwk.unwrap().contains("\"d\""));
    let check = crate::json::parse(key.host_key().check_against.unwrap().as_bytes()).unwrap();
    assert_eq!(&check, key.public_jwk().unwrap(), "the host must check the private part against x/y");
    let bad =
        json!({"kty":"EC","crv":"P-521","x":b64url([1u8;48]),"y":b64url([2u8;66]),"d":b64url([3u8;66])});
    let e = SigningKey::from_jwk("k", &bad, None, None).unwrap_err();
    assert_eq!(e.message, "k: \"x\" must be 66 bytes for P-521");
}

#[test]
fn generated_key_round_trips_through_its_private_jwk() {
    let mut n = 0u8;
    let key = SigningKey::generate(|buf| {
        for b in buf.iter_mut() {
            n = n.wrapping_add(7);
            *b = n;
        }
    });
    let again = SigningKey::from_jwk("k", &key.to_private_jwk().unwrap(), None, None).unwrap();
    assert_eq!(key.thumbprint(), again.thumbprint());
    assert_eq!(key.to_private_jwk().unwrap()["alg"], "ES256");
}

#[test]
fn external_keys_have_an_id_and_optional_public_part() {
    let key = SigningKey::external("ck-1", Alg::Rs256, Some("k1"), None).unwrap();
    assert!(key.thumbprint().is_none());
    assert_eq!(key.host_key().id, "ck-1");
    assert!(key.host_key().private_jwk.is_none());
    assert!(key.host_key().check_against.is_none());
    assert!(key.to_private_jwk().is_none());
}

/// Found by the `jwk` fuzz target: the host's `kty` was quoted whole, control characters included.
#[test]
fn public_jwk_of_another_type_is_refused_with_kty_capped_and_printable() {
    let key = SigningKey::external("ck-1", Alg::Es256, None, None).unwrap();
    let e = key.with_public_jwk(&json!({"kty": format!("RSA\n{}", "9".repeat(300))})).unwrap_err();
    assert_eq!(e.message, format!("dpop: public key \"kty\" \"RSA {}…\" does not fit ES256", "9".repeat(36)));
    let key = SigningKey::external("ck-2", Alg::Rs256, None, None).unwrap();
    let e = key.with_public_jwk(&json!({"kty":"EC","crv":"P-256","x":"AA","y":"AA"})).unwrap_err();
    assert_eq!(e.message, "dpop: public key \"kty\" \"EC\" does not fit RS256");
}

#[test]
fn debug_output_has_no_key_material() {
    for key in [
        SigningKey::from_jwk("k", &rfc7515_jwk(), None, None).unwrap(),
        SigningKey::from_jwk("k", &rsa_jwk(), None, None).unwrap(),
    ] {
        let text = format!("{key:?}");
        assert!(!text.contains("jpsQnn") && !text.contains("BwcHBwcH"), "{text}");
    }
}

/// Released handles, recorded by the hook [`released`] installs (one hook per process).
static RELEASED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn record_releases() {
    fn record(id: &str) {
        RELEASED.lock().unwrap().push(id.to_owned());
    }
    set_release_hook(record);
}

fn released(id: &str) -> bool {
    RELEASED.lock().unwrap().iter().any(|r| r == id)
}

#[test]
fn each_key_from_the_same_jwk_has_its_own_handle_and_clones_share_it() {
    for jwk in [rfc7515_jwk(), rsa_jwk()] {
        let a = SigningKey::from_jwk("k", &jwk, None, None).unwrap();
        let b = SigningKey::from_jwk("k", &jwk, None, None).unwrap();
        assert_eq!(a.thumbprint(), b.thumbprint());
        assert_ne!(a.host_key().id, b.host_key().id, "a host must never hand b a's imported key");
        let a2 = a.clone();
        assert_eq!(a.host_key().id, a2.host_key().id);
    }
    let generated = SigningKey::generate(|b| b.fill(9));
    let again = SigningKey::from_jwk("k", &generated.to_private_jwk().unwrap(), None, None).unwrap();
    assert_ne!(generated.host_key().id, again.host_key().id);
}

#[test]
fn a_jwk_with_another_keys_public_members_gets_another_handle() {
    let victim = SigningKey::from_jwk("k", &rsa_jwk(), None, None).unwrap();
    let mut forged = rsa_jwk();
    forged["d"] = json!(b64url([9u8; 256]));
    let forged = SigningKey::from_jwk("clientAuth.privateJwk", &forged, None, None).unwrap();
    assert_eq!(victim.thumbprint(), forged.thumbprint(), "same public members");
    assert_ne!(victim.host_key().id, forged.host_key().id);
    assert!(forged.host_key().check_against.is_some(), "and the host must test it before signing");
}

#[test]
fn the_handle_is_released_when_the_last_clone_drops() {
    record_releases();
    let key = SigningKey::from_jwk("k", &rsa_jwk(), None, None).unwrap();
    let id = key.host_key().id.to_owned();
    let clone = key.clone();
    drop(key);
    assert!(!released(&id), "a clone still holds it");
    drop(clone);
    assert!(released(&id));
    let external = SigningKey::external("ck-release", Alg::Rs256, None, None).unwrap();
    drop(external);
    assert!(released("ck-release"));
}

#[test]
fn host_key_debug_has_no_private_jwk() {
    let key = SigningKey::from_jwk("k", &rsa_jwk(), None, None).unwrap();
    for text in [format!("{:?}", key.host_key()), format!("{:#?}", key.host_key())] {
        assert!(!text.contains("BwcHBwcH") && !text.contains("\"d\""), "{text}");
        assert!(text.contains(key.host_key().id), "{text}");
    }
}
