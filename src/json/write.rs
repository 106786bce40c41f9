//! Compact JSON text (RFC 8259), byte for byte what serde_json writes for the same value:
//! members in [`Map`] order, no whitespace, strings escaped as RFC 8259 §7 requires and no more.

use super::value::{Map, Number, Value};

/// The compact JSON text of `value`.
pub fn text(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => number(out, n),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => object(out, map),
    }
}

fn object(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (i, (name, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, name);
        out.push(':');
        write(out, value);
    }
    out.push('}');
}

/// Append a string literal: `"` and `\` escaped, control characters as `\n`-style or `\u00XX`
/// escapes.
pub fn string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        start = i + 1;
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn number(out: &mut String, n: &Number) {
    match n.as_integer() {
        Some((negative, magnitude)) => {
            if negative {
                out.push('-');
            }
            out.push_str(&crate::text::decimal(magnitude));
        }
        None => out.push_str(&float::text(n.as_f64().unwrap_or(0.0))),
    }
}

/// A finite float's shortest round-tripping text. In wasm the host's `String(n)` (what
/// `JSON.stringify` writes: `1e+300`), natively serde_json's (`1e300`); both are valid JSON
/// for the same number. Floats only occur in values a caller passed in (claims).
#[cfg(all(target_arch = "wasm32", feature = "js"))]
mod float {
    pub fn text(n: f64) -> String {
        js_sys::Number::from(n).to_string_with_radix(10).map(String::from).unwrap_or_default()
    }
}

#[cfg(not(all(target_arch = "wasm32", feature = "js")))]
mod float {
    pub fn text(n: f64) -> String {
        serde_json::Number::from_f64(n).map(|n| n.to_string()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn writes_compact_sorted_text_like_serde_json() {
        let cases = [
            r#"{"b":[1,-2,1.5,true,false,null],"a":{"y":"","x":{}},"c":[]}"#,
            r#""quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f nul \u0000 us \u001f del \u007f é 😀""#,
            "18446744073709551615",
            "-9223372036854775808",
            "1e300",
            "0.1",
        ];
        for case in cases {
            let value = parse(case.as_bytes()).unwrap();
            let ours = text(&value);
            let theirs =
                serde_json::to_string(&serde_json::from_str::<serde_json::Value>(case).unwrap()).unwrap();
            assert_eq!(ours, theirs, "{case}");
        }
    }
}
