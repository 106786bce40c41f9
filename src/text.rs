//! Messages, keys and header values built by concatenation, without `core::fmt`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_matches_display() {
        for n in [0, 7, 10, 99, 100, 65_535, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    #[test]
    fn cat_joins_strs_and_strings() {
        let name = String::from("kty");
        assert_eq!(cat!("\"", name, "\" is ", &name, "!", decimal(3)), "\"kty\" is kty!3");
    }
}
