//! The normal form is WHATWG's (each expected value is what `new URL(input).href` gives in
//! Node); what cannot be normalized with certainty is refused, naming the field.

use super::*;

#[test]
fn finds_the_first_scheme_separator() {
    assert_eq!(split_scheme("https://a/b://c"), Some(("https", "a/b://c")));
    assert_eq!(split_scheme("://"), Some(("", "")));
    assert_eq!(split_scheme("https:/a"), None);
    assert_eq!(after_scheme("x://"), Some(4));
    assert_eq!(after_scheme(""), None);
}

#[test]
fn configured_urls_take_the_form_fetch_sends() {
    for (input, normal) in [
        ("https://AS.example:443/token", "https://as.example/token"),
        ("HTTP://LOCALHOST:8080/token", "http://localhost:8080/token"),
        ("https://as.example", "https://as.example/"),
        ("https://as.example:8443/a/./b/../c?x=1", "https://as.example:8443/a/c?x=1"),
        ("http://[0:0:0:0:0:0:0:1]/t", "http://[::1]/t"),
        ("https://[2001:DB8::0:1]/", "https://[2001:db8::1]/"),
        ("https://[2001:db8:0:0:1:0:0:1]/", "https://[2001:db8::1:0:0:1]/"),
        ("https://[0:0:1:0:0:0:0:0]/", "https://[0:0:1::]/"),
        ("https://as.example:/x", "https://as.example/x"),
        ("https://as.example/a/..", "https://as.example/"),
        ("https://as.example/a/.", "https://as.example/a/"),
        ("https://as.example/./a/../../b/", "https://as.example/b/"),
        ("https://as.example/a%2Fb?q=%41#f", "https://as.example/a%2Fb?q=%41#f"),
        ("https://ex.com./", "https://ex.com./"),
        ("http://127.0.0.1:3000/connect/token", "http://127.0.0.1:3000/connect/token"),
        ("https://as.example:8080", "https://as.example:8080/"),
        ("http://localhost:443", "http://localhost:443/"),
    ] {
        assert_eq!(normalize("tokenEndpoint", input).unwrap(), normal, "{input}");
    }
}

#[test]
fn what_cannot_be_normalized_with_certainty_is_refused() {
    for (input, problem) in [
        ("http://127.attacker.example/token", "plain http is allowed only for loopback"),
        ("http://127.0.0.1.nip.io/token", "plain http is allowed only for loopback"),
        ("http://example.com/token", "plain http is allowed only for loopback"),
        ("http://127.1/token", "dotted-decimal"),
        ("http://0x7f.0.0.1/", "dotted-decimal"),
        ("http://0127.0.0.1/", "dotted-decimal"),
        ("https://1.2.3.4./", "dotted-decimal"),
        ("https://user:pw@as.example/", "user info"),
        ("https://as.example\\token", "backslashes"),
        ("https://as.example/a b", "spaces"),
        ("https://exämple.com/", "xn--"),
        ("https://as%2eexample/", "characters a host name cannot have"),
        ("ftp://as.example/", "absolute https URL"),
        ("https:as.example/token", "absolute https URL"),
        ("/token", "absolute https URL"),
        ("https://as.example/%2e%2e/x", "percent-encoded dot"),
        ("https://as.example/a<b", "percent-encoded"),
        ("https://as.example/?a='b'", "percent-encoded"),
        ("https://as.example/%zz", "percent-encoded"),
        ("https://as.example:99999/", "invalid port"),
        ("https://as.example:+80/", "invalid port"),
        ("https://as.example:8a/", "invalid port"),
        ("https://[::1/", "absolute https URL"),
        ("https://[1:2:3:4:5:6:7:8:9]/", "IPv6"),
        ("https://[::ffff:127.0.0.1]/", "IPv6"),
        ("https:///token", "absolute https URL"),
    ] {
        let e = normalize("tokenEndpoint", input).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidConfig, "{input}");
        assert!(e.message.starts_with("tokenEndpoint: "), "{input}: {}", e.message);
        assert!(e.message.contains(problem), "{input}: {}", e.message);
    }
}

#[test]
fn loopback_is_a_number_or_localhost_never_a_name_that_looks_like_one() {
    for host in ["127.0.0.1", "127.255.0.1", "localhost", "[::1]"] {
        assert!(is_loopback(host), "{host}");
    }
    for host in
        ["127.attacker.example", "127.0.0.1.nip.io", "0127.0.0.1", "localhost.example", "128.0.0.1", "[::2]"]
    {
        assert!(!is_loopback(host), "{host}");
    }
}

#[test]
fn origins_of_normalized_urls() {
    let o = Origin::of("https://api.example:8443/a?b#c").unwrap();
    assert_eq!((o.text, o.secure, o.host), ("https://api.example:8443", true, "api.example"));
    let o = Origin::of("http://[::1]:3000/x").unwrap();
    assert_eq!((o.text, o.host), ("http://[::1]:3000", "[::1]"));
    assert!(o.may_carry_token());
    assert!(!Origin::of("http://api.example/").unwrap().may_carry_token());
    assert!(Origin::of("https://u@api.example/").is_none());
    assert!(Origin::of("data:text/plain,x").is_none());
    assert!(Origin::of("https:///x").is_none());
}

#[test]
fn allowed_origins_are_origins() {
    assert_eq!(
        normalize_origin("allowedOrigins[0]", "HTTPS://API2.example:443").unwrap(),
        "https://api2.example"
    );
    assert_eq!(
        normalize_origin("allowedOrigins[0]", "https://api2.example/").unwrap(),
        "https://api2.example"
    );
    let e = normalize_origin("allowedOrigins[0]", "https://api2.example/v1").unwrap_err();
    assert!(e.message.contains("without a path"), "{}", e.message);
}
