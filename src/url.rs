//! URLs: where a token may go, and the one normal form every URL the crate sends to has.
//!
//! - Configured and discovered URLs (`tokenEndpoint`, `baseUrl`, `allowedOrigins`, a metadata
//!   `token_endpoint`, the metadata URLs built from `issuer`) are put in normal form once, by
//!   [`normalize`]: the WHATWG URL serialization `fetch` itself uses (scheme and host lower case,
//!   default port dropped, dot segments resolved, an empty path as `/`), so `htu`, nonce origins
//!   and the request all see one URL. In wasm the host's `URL` parses (as `JSON.parse` parses
//!   JSON, see [`crate::json`]): exactly what `fetch` will do, at no cost to the module. Natively
//!   a Rust normalizer takes a conservative subset of what WHATWG parses and serializes it as
//!   WHATWG does (the tests hold Node's results), refusing the rest with an error naming the
//!   field (percent-encoded hosts, IPv4 shorthand such as `127.1`, non-ASCII hosts: write the
//!   `xn--` form). Either way user info, backslashes, whitespace and control characters are
//!   refused.
//! - URLs the host normalized (an API call's URL: `new URL(input, baseUrl).href`) are read with
//!   [`Origin::of`].
//! - [`Origin::may_carry_token`]: https, or plain http to a loopback host only — `localhost`,
//!   `127.0.0.0/8` in its dotted-decimal normal form, `[::1]`. A host that merely starts with
//!   `127.` (`127.attacker.example`) is a name, not a loopback address.
//!
//! The issuer is an identifier, not a location: it is compared and used as the assertion `aud`
//! exactly as configured.

use crate::error::{Result, TokenError};

/// The byte offset just past `://` in `url`, when it has one.
///
/// A byte search rather than `str::find("://")`: that would bring core's two-way substring
/// searcher into the wasm module for these few call sites (0.7 KB gzip).
pub fn after_scheme(url: &str) -> Option<usize> {
    url.as_bytes().windows(3).position(|w| w == b"://").map(|i| i + 3)
}

/// `url` split around `://`: the scheme and the rest.
pub fn split_scheme(url: &str) -> Option<(&str, &str)> {
    let rest = after_scheme(url)?;
    Some((&url[..rest - 3], &url[rest..]))
}

/// The origin of a normalized http(s) URL: what a token is scoped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    /// `scheme://host[:port]`.
    pub text: &'a str,
    /// `https`.
    pub secure: bool,
    /// The host as serialized (`[::1]` with its brackets).
    pub host: &'a str,
}

impl<'a> Origin<'a> {
    /// The origin of `url`, an absolute http(s) URL in normal form; `None` for anything else
    /// (another scheme, user info, no host).
    pub fn of(url: &'a str) -> Option<Origin<'a>> {
        let (scheme, rest) = split_scheme(url)?;
        let secure = match scheme {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let host = match authority.strip_prefix('[') {
            Some(v6) => &authority[..v6.find(']')? + 2],
            None => authority.split(':').next().unwrap_or(""),
        };
        if host.is_empty() || authority.contains('@') {
            return None;
        }
        Some(Origin { text: &url[..scheme.len() + 3 + end], secure, host })
    }

    /// Whether a token, a proof or a credential may be sent here: https, or http to loopback.
    pub fn may_carry_token(&self) -> bool {
        self.secure || is_loopback(self.host)
    }
}

/// `localhost`, `[::1]`, or an IPv4 address of 127.0.0.0/8 in dotted-decimal normal form.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "[::1]" || ipv4(host).is_some_and(|octets| octets[0] == 127)
}

/// The four octets of a dotted-decimal IPv4 address in normal form (no leading zeros).
fn ipv4(host: &str) -> Option<[u8; 4]> {
    let mut octets = [0u8; 4];
    let mut parts = host.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        let canonical = !part.is_empty() && part.len() <= 3 && (part == "0" || !part.starts_with('0'));
        if !canonical || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = u8::try_from(crate::text::digits(part)?).ok()?;
    }
    parts.next().is_none().then_some(octets)
}

/// `input` (an absolute http or https URL) in normal form, or an `invalid_config` error naming
/// `field`. Plain http is refused unless the host is loopback.
pub fn normalize(field: &str, input: &str) -> Result<String> {
    let bad = |problem: &str| TokenError::config(field, problem);
    let absolute = "must be an absolute https URL";
    if input.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'\\') {
        return Err(bad("must be an absolute https URL without spaces, control characters or backslashes"));
    }
    let url = imp::normal_form(input).map_err(|problem| bad(problem.unwrap_or(absolute)))?;
    let origin = Origin::of(&url).ok_or_else(|| {
        bad(if url.contains('@') { "must not carry user info (user:password@)" } else { absolute })
    })?;
    if !origin.may_carry_token() {
        return Err(bad("must be an https URL (plain http is allowed only for loopback hosts)"));
    }
    Ok(url)
}

/// The origin (`scheme://host[:port]`) of an `allowedOrigins` entry, in normal form.
pub fn normalize_origin(field: &str, input: &str) -> Result<String> {
    let url = normalize(field, input)?;
    let origin = Origin::of(&url).map(|o| o.text).unwrap_or_default();
    if url.len() != origin.len() + 1 {
        return Err(TokenError::config(field, "must be an origin (scheme://host[:port]), without a path"));
    }
    Ok(origin.to_owned())
}

/// The WHATWG serialization of an absolute URL, or why not (`None`: not an absolute URL).
type NormalForm = std::result::Result<String, Option<&'static str>>;

/// The host's `URL`: `new URL(input).href`, what `fetch` sends to.
#[cfg(all(target_arch = "wasm32", feature = "js"))]
mod imp {
    use wasm_bindgen::{JsCast, JsValue};

    pub fn normal_form(input: &str) -> super::NormalForm {
        let global = js_sys::global();
        let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &JsValue::from_str(k)).ok();
        let constructor: js_sys::Function =
            get(&global, "URL").and_then(|u| u.dyn_into().ok()).ok_or(None)?;
        let url =
            js_sys::Reflect::construct(&constructor, &js_sys::Array::of1(&input.into())).map_err(|_| None)?;
        get(&url, "href").and_then(|h| h.as_string()).ok_or(None)
    }
}

/// A Rust normalizer for the subset of URLs it can serialize exactly as WHATWG does.
#[cfg(not(all(target_arch = "wasm32", feature = "js")))]
mod imp {
    use super::{ipv4, split_scheme};
    use crate::text::decimal;

    pub fn normal_form(input: &str) -> super::NormalForm {
        let (scheme, rest) = split_scheme(input).ok_or(None)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(None),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(Some("must not carry user info (user:password@)"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let close = v6.find(']').ok_or(None)?;
                (ipv6(&v6[..close]).ok_or(Some("has an invalid IPv6 address"))?, &v6[close + 1..])
            }
            None => {
                let colon = authority.find(':').unwrap_or(authority.len());
                (host_name(&authority[..colon])?, &authority[colon..])
            }
        };
        let port = match port {
            "" | ":" => None,
            given => {
                let invalid = Some("has an invalid port");
                let digits = given.strip_prefix(':');
                let digits = digits
                    .filter(|d| d.len() <= 5 && d.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or(invalid)?;
                let number: u32 = digits.parse().map_err(|_| invalid)?;
                let number = u16::try_from(number).map_err(|_| invalid)?;
                (number != default_port).then_some(number)
            }
        };
        let (path, after_path) = tail.split_at(tail.find(['?', '#']).unwrap_or(tail.len()));
        let path = path_segments(path)?;
        let query_end = after_path.find('#').unwrap_or(after_path.len());
        let (query, fragment) = after_path.split_at(query_end);
        check_chars(query, b"\"<>'")
            .map_err(|_| Some("has a character in its query that must be percent-encoded"))?;
        check_chars(fragment.get(1..).unwrap_or(""), b"\"<>`#")
            .map_err(|_| Some("has a character in its fragment that must be percent-encoded"))?;
        let port = port.map_or(String::new(), |p| cat!(":", decimal(p.into())));
        Ok(cat!(scheme, "://", host, port, path, query, fragment))
    }

    /// A host name, lower-cased; IPv4 only in dotted-decimal normal form.
    fn host_name(host: &str) -> super::NormalForm {
        if host.is_empty() {
            return Err(None);
        }
        if !host.is_ascii() {
            return Err(Some("has a non-ASCII host: write its xn-- (punycode) form"));
        }
        let forbidden = |b: u8| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if host.bytes().any(forbidden) {
            return Err(Some("has a host with characters a host name cannot have"));
        }
        let host = host.to_ascii_lowercase();
        // WHATWG reads a host whose last label is a number as an IPv4 address (in decimal, octal or
        // hex shorthand); only the dotted-decimal normal form is taken here.
        let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
        let numeric =
            !last.is_empty() && (last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x"));
        if numeric && (ipv4(&host).is_none() || host.ends_with('.')) {
            return Err(Some("has an IPv4 address not in dotted-decimal form (write it as a.b.c.d)"));
        }
        Ok(host)
    }

    /// A bracketed IPv6 address in WHATWG's serialization: lower-case hex, no leading zeros, the
    /// first longest run of two or more zero groups as `::`. Embedded IPv4 forms are not taken.
    fn ipv6(text: &str) -> Option<String> {
        let (head, tail) = match text.find("::") {
            Some(at) => (&text[..at], Some(&text[at + 2..])),
            None => (text, None),
        };
        let groups = |part: &str| -> Option<Vec<u16>> {
            if part.is_empty() {
                return Some(Vec::new());
            }
            part.split(':')
                .map(|g| {
                    let hex = !g.is_empty() && g.len() <= 4 && g.bytes().all(|b| b.is_ascii_hexdigit());
                    hex.then(|| u16::from_str_radix(g, 16).ok()).flatten()
                })
                .collect()
        };
        let head = groups(head)?;
        let mut address = [0u16; 8];
        match tail {
            None if head.len() == 8 => address.copy_from_slice(&head),
            Some(tail) => {
                let tail = groups(tail)?;
                if head.len() + tail.len() > 7 {
                    return None;
                }
                address[..head.len()].copy_from_slice(&head);
                address[8 - tail.len()..].copy_from_slice(&tail);
            }
            None => return None,
        }
        // The first longest run of at least two zero groups.
        let (mut best, mut run) = ((0, 0), (0, 0));
        for (i, group) in address.iter().enumerate() {
            if *group == 0 {
                run = if run.1 == 0 { (i, 1) } else { (run.0, run.1 + 1) };
                if run.1 > best.1 {
                    best = run;
                }
            } else {
                run = (0, 0);
            }
        }
        let hex = |g: u16| {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            let mut out = String::new();
            for shift in [12, 8, 4, 0] {
                let d = (g >> shift) & 0xf;
                if !out.is_empty() || d != 0 || shift == 0 {
                    out.push(DIGITS[d as usize] as char);
                }
            }
            out
        };
        let mut out = String::from("[");
        let mut i = 0;
        while i < 8 {
            if best.1 >= 2 && i == best.0 {
                out.push_str(if i == 0 { "::" } else { ":" });
                i += best.1;
                continue;
            }
            out.push_str(&hex(address[i]));
            if i < 7 {
                out.push(':');
            }
            i += 1;
        }
        out.push(']');
        Some(out)
    }

    /// A path with `.` and `..` segments resolved (`/` when empty); characters WHATWG would
    /// percent-encode, and percent-encoded dots, are refused.
    fn path_segments(path: &str) -> super::NormalForm {
        check_chars(path, b"\"<>`{}^")
            .map_err(|_| Some("has a character in its path that must be percent-encoded"))?;
        let mut out: Vec<&str> = Vec::new();
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let lower = segment.to_ascii_lowercase();
            if lower.contains("%2e") && lower.replace("%2e", ".").bytes().all(|b| b == b'.') {
                return Err(Some("has a percent-encoded dot segment in its path"));
            }
            match *segment {
                "." | ".." if last => {
                    if *segment == ".." {
                        out.pop();
                    }
                    out.push("");
                }
                "." => {}
                ".." => {
                    out.pop();
                }
                _ => out.push(segment),
            }
        }
        Ok(if out.is_empty() { "/".to_owned() } else { cat!("/", out.join("/")) })
    }

    /// Printable ASCII, none of `extra`, and `%` only before two hex digits.
    fn check_chars(part: &str, extra: &[u8]) -> std::result::Result<(), ()> {
        let bytes = part.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let escape_ok =
                b != b'%' || bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !(b.is_ascii_graphic() && escape_ok) || extra.contains(&b) {
                return Err(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
