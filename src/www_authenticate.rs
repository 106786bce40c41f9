//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1), parsed per scheme so a header carrying both a
//! Bearer (RFC 6750 §3) and a DPoP (RFC 9449 §7.1) challenge can be read one scheme at a time.
//!
//! The parser is lenient: a malformed part is skipped up to the next comma and never an error.

/// One challenge: `auth-scheme [ 1*SP ( token68 / #auth-param ) ]` (RFC 9110 §11.6.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent, e.g. `DPoP`; compare it case-insensitively (RFC 9110 §11.1).
    pub scheme: String,
    /// The token68 form of the credentials, e.g. `abc==` in `Basic abc==` (RFC 9110 §11.2).
    pub token68: Option<String>,
    /// The auth-params in order, names as sent, quoted-string values unescaped (RFC 9110 §11.2).
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Value of an auth-param, name compared case-insensitively (RFC 9110 §11.2); the first wins.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Parse a `WWW-Authenticate` header value (RFC 9110 §11.6.1), possibly several challenges, e.g.
/// `Bearer realm="api", DPoP algs="ES256 PS256", error="use_dpop_nonce"`. Lenient: malformed parts
/// are skipped, never an error; an empty header gives no challenges.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut p = Cursor { s: header, i: 0 };
    let mut out = Vec::new();
    loop {
        p.skip_ows_and_commas();
        if p.eof() {
            return out;
        }
        let scheme = p.token();
        let had_space = p.skip_ows();
        if scheme.is_empty() || !(p.eof() || p.peek() == Some(b',') || had_space) {
            p.skip_element();
            continue;
        }
        let mut challenge = Challenge { scheme: scheme.to_owned(), ..Challenge::default() };
        if had_space {
            let save = p.i;
            let t = p.token68();
            p.skip_ows();
            if !t.is_empty() && (p.eof() || p.peek() == Some(b',')) {
                challenge.token68 = Some(t.to_owned());
            } else {
                p.i = save;
            }
        }
        if challenge.token68.is_none() {
            p.params(&mut challenge.params);
        }
        out.push(challenge);
    }
}

/// The first challenge with this scheme, compared case-insensitively (RFC 9110 §11.1).
pub fn find<'a>(challenges: &'a [Challenge], scheme: &str) -> Option<&'a Challenge> {
    challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case(scheme))
}

/// What stands at the start of a list element after a challenge's scheme.
enum Element {
    Param(String, String),
    /// Not `name = value`: the next challenge starts here.
    NotParam,
    /// `name =` followed by no usable value.
    Malformed,
}

/// A position in the header. Invariant: `i` is always on a char boundary, because it only ever
/// stops on an ASCII byte or at the end.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    /// Skip OWS (SP / HTAB); true if any was skipped.
    fn skip_ows(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i > start
    }

    /// Skip OWS and empty list elements (RFC 9110 §5.6.1.2).
    fn skip_ows_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or("")
    }

    /// `token = 1*tchar` (RFC 9110 §5.6.2); empty if none.
    fn token(&mut self) -> &'a str {
        self.take_while(is_tchar)
    }

    /// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 9110 §11.2).
    fn token68(&mut self) -> &'a str {
        let start = self.i;
        let body = self.take_while(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if body.is_empty() {
            return "";
        }
        self.take_while(|b| b == b'=');
        self.s.get(start..self.i).unwrap_or("")
    }

    /// `quoted-string` (RFC 9110 §5.6.4), at an opening `"`; `None` if unterminated.
    fn quoted_string(&mut self) -> Option<String> {
        let rest = self.s.get(self.i + 1..)?;
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((off, c)) = chars.next() {
            match c {
                '"' => {
                    self.i += 1 + off + 1;
                    return Some(out);
                }
                '\\' => out.push(chars.next()?.1),
                c => out.push(c),
            }
        }
        None
    }

    /// Skip a malformed element: up to the next comma outside a quoted-string, or the end.
    fn skip_element(&mut self) {
        let mut quoted = false;
        while let Some(b) = self.peek() {
            match b {
                b',' if !quoted => return,
                b'"' => quoted = !quoted,
                b'\\' if quoted => self.i += 1,
                _ => {}
            }
            self.i += 1;
        }
        self.i = self.s.len();
    }

    /// `auth-param = token BWS "=" BWS ( token / quoted-string )` (RFC 9110 §11.2).
    fn element(&mut self) -> Element {
        let name = self.token();
        self.skip_ows();
        if name.is_empty() || self.peek() != Some(b'=') {
            return Element::NotParam;
        }
        self.i += 1;
        self.skip_ows();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()
        } else {
            Some(self.token().to_owned()).filter(|v| !v.is_empty())
        };
        match value {
            Some(v) => Element::Param(name.to_owned(), v),
            None => Element::Malformed,
        }
    }

    /// `#auth-param` up to the start of the next challenge or the end.
    fn params(&mut self, params: &mut Vec<(String, String)>) {
        loop {
            self.skip_ows_and_commas();
            if self.eof() {
                return;
            }
            let save = self.i;
            match self.element() {
                Element::NotParam => {
                    self.i = save;
                    return;
                }
                Element::Param(name, value) => {
                    self.skip_ows();
                    if self.eof() || self.peek() == Some(b',') {
                        params.push((name, value));
                    } else {
                        self.skip_element();
                    }
                }
                Element::Malformed => self.skip_element(),
            }
        }
    }
}

/// `tchar` (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }

    #[test]
    fn rfc9449_nonce_challenge_is_one_dpop_challenge() {
        let h = r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;
        let cs = parse(h);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].scheme, "DPoP");
        assert_eq!(cs[0].param("error"), Some("use_dpop_nonce"));
        assert_eq!(cs[0].param("ERROR_description"), Some("Resource server requires nonce in DPoP proof"));
    }

    #[test]
    fn rfc9449_algs_value_keeps_its_space() {
        let cs = parse(r#"DPoP algs="ES256 PS256""#);
        assert_eq!(cs[0].param("algs"), Some("ES256 PS256"));
    }

    #[test]
    fn rfc6750_examples_parse() {
        let cs = parse(r#"Bearer realm="example""#);
        assert_eq!(params(&cs[0]), [("realm", "example")]);
        let cs = parse(concat!(
            r#"Bearer realm="example", error="invalid_token", "#,
            r#"error_description="The access token expired""#
        ));
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].param("error"), Some("invalid_token"));
        assert_eq!(cs[0].param("error_description"), Some("The access token expired"));
    }

    #[test]
    fn mixed_bearer_and_dpop_are_found_per_scheme() {
        let h = r#"Bearer realm="api", DPoP algs="ES256 PS256", error="use_dpop_nonce""#;
        let cs = parse(h);
        assert_eq!(cs.len(), 2);
        assert_eq!(params(&cs[0]), [("realm", "api")]);
        let dpop = find(&cs, "dpop").unwrap();
        assert_eq!(params(dpop), [("algs", "ES256 PS256"), ("error", "use_dpop_nonce")]);
        assert!(find(&cs, "Basic").is_none());
    }

    #[test]
    fn rfc9110_example_with_escapes_and_commas_in_quotes() {
        let h = r#"Newauth realm="apps", type=1, title="Login to \"apps\", please", Basic realm="simple""#;
        let cs = parse(h);
        assert_eq!(cs.len(), 2);
        assert_eq!(
            params(&cs[0]),
            [("realm", "apps"), ("type", "1"), ("title", r#"Login to "apps", please"#)]
        );
        assert_eq!(cs[1].scheme, "Basic");
        assert_eq!(cs[1].param("realm"), Some("simple"));
    }

    #[test]
    fn token68_challenges_and_following_schemes() {
        let cs = parse("Basic abc==, Negotiate, Bearer error=invalid_token");
        assert_eq!(cs.len(), 3);
        assert_eq!(cs[0].token68.as_deref(), Some("abc=="));
        assert!(cs[0].params.is_empty());
        assert_eq!(cs[1].scheme, "Negotiate");
        assert_eq!(cs[1].token68, None);
        assert_eq!(cs[2].param("error"), Some("invalid_token"));
    }

    #[test]
    fn bws_around_equals_and_empty_list_elements() {
        let cs = parse(" ,, Bearer  realm = \"a\" ,, ,error=x , ,DPoP\t,");
        assert_eq!(cs.len(), 2);
        assert_eq!(params(&cs[0]), [("realm", "a"), ("error", "x")]);
        assert_eq!(cs[1].scheme, "DPoP");
        assert!(cs[1].params.is_empty());
    }

    #[test]
    fn empty_and_blank_headers_have_no_challenges() {
        assert!(parse("").is_empty());
        assert!(parse(" \t , ,").is_empty());
    }

    #[test]
    fn malformed_parts_are_skipped_and_parsing_resumes() {
        let cs = parse(r#"DPoP algs=ES256 PS256, error=, nonce=="x", error="use_dpop_nonce", =1, Bearer"#);
        assert_eq!(cs.len(), 2);
        assert_eq!(params(&cs[0]), [("error", "use_dpop_nonce")]);
        assert_eq!(cs[1].scheme, "Bearer");
        let cs = parse(r#"DPoP error="unterminated, Bearer realm="x""#);
        assert_eq!(cs.len(), 1);
        assert!(cs[0].params.is_empty());
    }

    #[test]
    fn garbage_scheme_is_skipped() {
        let cs = parse(r#""quoted", Bearer=x, ü, DPoP error="e""#);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].param("error"), Some("e"));
    }

    #[test]
    fn non_ascii_in_quoted_values_is_kept() {
        let cs = parse("Bearer realm=\"blåbær \\ø\", error=x");
        assert_eq!(params(&cs[0]), [("realm", "blåbær ø"), ("error", "x")]);
    }

    #[test]
    fn odd_inputs_never_panic() {
        let pieces = [
            "", " ", "\t", ",", "=", "==", "\"", "\\", "\\\"", "a", "Bearer", "DPoP", "é", "€", "😀",
            "realm", "\"x\"", "abc==", "\r\n", "\0", ";", "a=b", "\"\\😀", "\\é",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for sep in ["", " ", ","] {
                        let h = format!("{a}{sep}{b}{c}{sep}{a}");
                        for ch in parse(&h) {
                            assert!(!ch.scheme.is_empty());
                            assert!(ch.token68.is_none() || ch.params.is_empty());
                        }
                    }
                }
            }
        }
        let long = "Bearer ".to_owned() + &"a=\"\\".repeat(10_000);
        let _ = parse(&long);
    }
}
