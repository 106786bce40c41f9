//! Certificates made with openssl for these tests: one for RFC 7515 A.3's P-256 key
//! (`crate::key::tests::rfc7515_jwk`), an RSA 2048 and a P-384 one; the expected thumbprints are
//! Node's (`X509Certificate.publicKey`, RFC 7638).

use super::*;
// The base64 crate as an independent oracle.
use crate::json::json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// RFC 7515 A.3's key, self-signed (`openssl req -x509 -key`).
pub(crate) const RFC7515_CERT: &str = "\
    MIIBjTCCATOgAwIBAgIUKNhjHl56q5hDdFcFTWqWk/Y2fjgwCgYIKoZIzj0EAwIwGzEZMBcGA1UEAwwQUkZDIDc1MTUgQS4z\
    IGtleTAgFw0yNjEyMDcxMzM4MDlaGA8yMTI2MTExMzEzMzgwOVowGzEZMBcGA1UEAwwQUkZDIDc1MTUgQS4zIGtleTBZMBMG\
    ByqGSM49AgEGCCqGSM49AwEHA0IABH/Nzidw9sRdQYPL7m/bS3tYBzM1e+nvE7rPbjx70VRFx/FEzRu9m36HLN/tue659LNp\
    XW6pCyStikYjKIWI5a2jUzBRMB0GA1UdDgQWBBTOjRaxyTOOt/45eZmuRb7uP7WGhjAfBgNVHSMEGDAWgBTOjRaxyTOOt/45\
    eZmuRb7uP7WGhjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDHlI38eTH7zjRjkUfGST5pqIaKU0SI15Lu\
    VV0VjrAhoQIgeSNO4ENTiFUyjsD+V0Dh+gIUgAX4+Wp1iRj7n0nV4RY=";
const RFC7515_THUMBPRINT: &str = "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U";
const RSA_CERT: &str = "\
    MIIDhTCCAm2gAwIBAgIUDTeYqxAIjD9Fx92bWrKLYGx2hR0wDQYJKoZIhvcNAQELBQAwUjELMAkGA1UEBhMCTk8xETAPBgNV\
    BAoMCFRlc3QgT3JnMRIwEAYDVQQFEwk5OTE4MjU4MjcxHDAaBgNVBAMME3Rva2VuZmV0Y2ggdGVzdCByc2EwHhcNMjYxMjA3\
    MTMzODAxWhcNMzYxMjA0MTMzODAxWjBSMQswCQYDVQQGEwJOTzERMA8GA1UECgwIVGVzdCBPcmcxEjAQBgNVBAUTCTk5MTgy\
    NTgyNzEcMBoGA1UEAwwTdG9rZW5mZXRjaCB0ZXN0IHJzYTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAJoCC2Dn\
    Trh4/HLAgP8kfqicyDxorf34c9SwyoDmpz6PvZ7COihM3mob0w4Pj5lhUMh3bPxXPFkk6mFWHFwWWgZlgQcRD8msaxEtVTUZ\
    B0YyT0J6q3Pp6sDNZQNWgRMWSA6Q6QIEbC3h1WLYXXwI3U5DOcHItcFM1RHJDzOcWMwZNjq6+uZs5uk4xe7JZW7MantBYQww\
    G1RDHStG4u6CL69vBzwZESVu2Ih/W4gjVYzvV1tJmksptcRYUBAdjf1dF3xFdBkL/xl+b6Du0FQWw66Q1kIo+FBUTAxd2sF/\
    Qo1cOquIh19IozfuogVToysmqDvWl/aGmwUnBUXbutPVJIMCAwEAAaNTMFEwHQYDVR0OBBYEFHQuTMtUccPol4KGM0Jb+2dl\
    0HN8MB8GA1UdIwQYMBaAFHQuTMtUccPol4KGM0Jb+2dl0HN8MA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEB\
    AHms4iWq4+WvFpfPNtMXa2jNbrHiaZ2s8D1EKPrUtzOFeppqrfG1g9ZhI8RHR1RTNzPBdB9g7rdKkZxw1JVgIhzkyRhzR1V6\
    +MpwrV5gwQdXDGKiPkgpUAIbMYW3gbzZ64D0w8BCXSU/5s0nXw6QYyoLR6kXje9r1mPK2w1kB9cctcrU40iUlKjqHGZnIA3o\
    hXft6fTQypG0x1Ml2M3XHdZmUSb4yPWNzqb7P8K9si0r1wKxwAwiQmdYCC74x2cS84abgMGumEUE/xTKYa5/t8n4EBqwTWcl\
    b800y27iM/UHbB/kjR79DeO43IpN6ipWoUrNtXqhA/H8g8CxidHQdA4=";
const RSA_THUMBPRINT: &str = "nEKuKYzralKaVezYQk6oVsbQ1EIU9QEt4ZgxqM1-r5E";
const P384_CERT: &str = "\
    MIIBzzCCAVagAwIBAgIUJZhBXIX2Y9hNoMva8a4kMUiYgxMwCgYIKoZIzj0EAwIwHzEdMBsGA1UEAwwUdG9rZW5mZXRjaCB0\
    ZXN0IHAzODQwHhcNMjYxMjA3MTMzODAxWhcNMzYxMjA0MTMzODAxWjAfMR0wGwYDVQQDDBR0b2tlbmZldGNoIHRlc3QgcDM4\
    NDB2MBAGByqGSM49AgEGBSuBBAAiA2IABMN9nGGdA63zAlfF8nsW1JirVfKPw8t7IrinLxNxLoLo1aOSJl3zIAYfI3cQ2971\
    gQXbGBCalgDMVmxa1K+zqGg6TztO+bkQ/x43igoME1weXGxAVWA/ZiQ7uCJZehNUSaNTMFEwHQYDVR0OBBYEFFTY5OsoILo0\
    PFSNNto2nt8f56rNMB8GA1UdIwQYMBaAFFTY5OsoILo0PFSNNto2nt8f56rNMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0E\
    AwIDZwAwZAIwE+DQJ5ac+0bLK1x7pghI9wdE6UUsFn/jK+yZNsIh2LEsMWN4JGvnziBGJywUSqI7AjAa5otcf5fS9vxjSwdz\
    t7P4NvOVcqGjN2bW3Cr4TInS9WTx9Fk1j2AvXTfWTmHaHNw=";
const P384_THUMBPRINT: &str = "8sxd4uZnFfUe90A_Yp0bvrqCsTPPihSkbvryqpUY0uw";

fn thumbprint_of(cert: &str) -> String {
    let jwk = public_key(&STANDARD.decode(cert).unwrap()).unwrap();
    crate::jwk::thumbprint("t", &jwk).unwrap()
}

#[test]
fn the_leaf_key_is_read_as_node_reads_it() {
    assert_eq!(thumbprint_of(RFC7515_CERT), RFC7515_THUMBPRINT);
    assert_eq!(thumbprint_of(RSA_CERT), RSA_THUMBPRINT);
    assert_eq!(thumbprint_of(P384_CERT), P384_THUMBPRINT);
    let jwk = public_key(&STANDARD.decode(RFC7515_CERT).unwrap()).unwrap();
    let key = crate::key::tests::rfc7515_jwk();
    assert_eq!((&jwk["x"], &jwk["y"], &jwk["crv"]), (&key["x"], &key["y"], &key["crv"]));
}

#[test]
fn chains_are_read_leaf_first_and_kept_as_given() {
    let chain = chain("clientAuth.x5c", &json!([RSA_CERT, P384_CERT])).unwrap();
    assert_eq!(chain.certificates, [RSA_CERT, P384_CERT]);
    assert_eq!(crate::jwk::thumbprint("t", &chain.leaf_jwk).unwrap(), RSA_THUMBPRINT);
}

#[test]
fn what_is_not_a_chain_of_certificates_is_refused_naming_the_entry() {
    let url_safe = RSA_CERT.replace('+', "-").replace('/', "_");
    for (value, field) in [
        (json!([]), "clientAuth.x5c: "),
        (json!("MIIB"), "clientAuth.x5c: "),
        (json!([RSA_CERT, 7]), "clientAuth.x5c[1]: must be a string"),
        (json!([url_safe]), "clientAuth.x5c[0]: must be base64"),
        (json!(["AAAA"]), "clientAuth.x5c[0]: is not an X.509 certificate"),
    ] {
        let e = chain("clientAuth.x5c", &value).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidConfig);
        assert!(e.message.starts_with(field), "{}", e.message);
    }
}

#[test]
fn truncated_or_altered_der_never_panics() {
    let der = STANDARD.decode(RSA_CERT).unwrap();
    for cut in 0..der.len() {
        let _ = public_key(&der[..cut]);
    }
    for i in 0..der.len() {
        let mut altered = der.clone();
        altered[i] ^= 0x80;
        let _ = public_key(&altered);
    }
}

#[test]
fn a_zero_rsa_exponent_or_modulus_is_no_key() {
    // Found by the x509 fuzz target: an exponent of 0x00 gave a JWK with an empty "e".
    let mut der = STANDARD.decode(RSA_CERT).unwrap();
    let e = der.windows(5).rposition(|w| w == [0x02, 0x03, 0x01, 0x00, 0x01]).expect("e = 65537");
    der[e + 2..e + 5].fill(0);
    assert_eq!(public_key(&der), None);
}
