//! Messages, keys and header values built by concatenation, without `core::fmt`; and the one
//! cleaning of foreign text ([`clean`]) before it goes into an error or an event.
//!
//! A `format!` costs the wasm module a formatting call and an argument table per call site, and
//! keeps core's formatting machinery (padding, integer `Display`) in it; the crate's texts are
//! string pieces and a few integers, so [`cat!`] joins pieces and [`decimal`] writes integers
//! (1.6 KB gzip less than `format!` at the crate's ~80 call sites).

/// The pieces, each a `&str` or anything that is `AsRef<str>` (a `String`, a `&String`), joined:
/// `cat!("\"", name, "\" must be a string")`.
macro_rules! cat {
    ($($piece:expr),+ $(,)?) => {
        [$(::core::convert::AsRef::<str>::as_ref(&$piece)),+].concat()
    };
}

/// The number `text` writes in ASCII decimal digits (no sign, no space); `None` when it is
/// anything else or does not fit a `u64`. One small reader for every decimal the crate parses
/// (`Retry-After`, a string `expires_in`, IPv4 octets): `str::parse` links core's integer parser.
pub fn digits(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// The decimal digits of `n`.
pub fn decimal(n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[at..].iter().map(|&d| char::from(d)).collect()
}

/// `items` joined by single spaces (a `scope` value, RFC 6749 §3.3). `[String]::join` would put a
/// second copy of std's join code in the module beside the one `cat!` uses (0.3 KB gzip).
pub fn spaced(items: &[String]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(item);
    }
    out
}

/// How many characters of a value quoted in a message are kept (an option name, a `kty`, a
/// server's `issuer`): enough to recognize it.
pub const QUOTED: usize = 40;

/// How many characters of a host's error (a `fetch` rejection, a store adapter's or a signer's
/// error) a message keeps.
#[cfg_attr(not(all(target_arch = "wasm32", feature = "js")), allow(dead_code))]
pub const DETAIL: usize = 200;

/// Text from outside (a server's `error` or `error_description`, a host's error message, a
/// caller's value quoted back) made safe for a [`crate::TokenError`] field, a message or an
/// event, where it may reach a terminal or a log: control characters (C0, DEL, C1 and the
/// line and paragraph separators U+2028, U+2029) become spaces, bidirectional formatting
/// characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) are dropped, the ends are
/// trimmed, and past `cap` characters the rest is cut off and marked with `…`.
pub fn clean(s: &str, cap: usize) -> String {
    let mut out = String::new();
    let kept = s.trim().chars().filter(|&c| !is_bidi_control(c));
    for (n, c) in kept.enumerate() {
        if n == cap {
            out.push('…');
            break;
        }
        out.push(if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') { ' ' } else { c });
    }
    out.trim().to_owned()
}

/// Unicode's bidirectional formatting characters (UAX #9 §2): marks, embeddings, overrides and
/// isolates, which can make a log line read other than it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_reads_plain_decimals_only() {
        assert_eq!(digits("0"), Some(0));
        assert_eq!(digits("0042"), Some(42));
        assert_eq!(digits("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "+5", "-1", " 5", "5 ", "1.5", "1e3", "18446744073709551616", "٣"] {
            assert_eq!(digits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn clean_turns_controls_into_spaces_drops_bidi_and_trims() {
        let table = [
            ("plain", "plain"),
            ("a\nb\r\tc\0d\u{7f}e\u{85}f\u{2028}g\u{2029}h", "a b  c d e f g h"),
            ("\u{202e}evil\u{202c} \u{2066}x\u{2069}\u{200e}\u{200f}\u{061c}y", "evil xy"),
            ("  \n padded \u{7}", "padded"),
            ("é😀", "é😀"),
            ("\u{202a}\u{202b}\u{202d}", ""),
        ];
        for (raw, want) in table {
            assert_eq!(clean(raw, 100), want, "{raw:?}");
        }
    }

    #[test]
    fn clean_caps_in_characters_and_marks_the_cut() {
        assert_eq!(clean(&"é".repeat(5000), 200), format!("{}…", "é".repeat(200)));
        assert_eq!(clean("abc", 3), "abc");
        assert_eq!(clean("abcd", 3), "abc…");
        // Bidi characters do not count, so they cannot push the visible text out.
        assert_eq!(clean(&format!("{}ab", "\u{202e}".repeat(50)), 2), "ab");
    }

    #[test]
    fn decimal_matches_display() {
        for n in [0, 7, 10, 99, 100, 65_535, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    #[test]
    fn spaced_joins_like_join() {
        let three = ["".to_owned(), "b c".to_owned(), "d".to_owned()];
        for items in [&[][..], &["a".to_owned()], &three] {
            assert_eq!(spaced(items), items.join(" "));
        }
    }

    #[test]
    fn cat_joins_strs_and_strings() {
        let name = String::from("kty");
        assert_eq!(cat!("\"", name, "\" is ", &name, "!", decimal(3)), "\"kty\" is kty!3");
    }
}
