//! JSON: the data model ([`Value`], [`Map`], [`Number`]), parsing and compact text. The one
//! place the crate parses and writes JSON (token, error and metadata responses, options and JWKs
//! handed over as text; JOSE headers and claims, JWKs and store records written out).
//!
//! Natively serde_json parses, and the result is read into a [`Value`]. In wasm the host's
//! `JSON.parse` does: the module then carries no JSON parser of its own (serde_json's
//! deserializer, its float parsing and error messages are about a tenth of the module). Both are
//! strict RFC 8259 parsers; the differences are bounded here: numbers become `u64`/`i64` when
//! integral and in range (serde_json keeps `3600.0` a float; every reader of numbers here
//! accepts both), and in wasm every number passed through a double first (an integer above 2^53
//! loses precision; no member the crate reads is one); 128 nested levels are refused the same
//! way, and so are invalid UTF-8 and unpaired surrogate escapes (`"\ud800"`).
//! tests/js/json-corpus.test.mjs holds the two to this over the fuzz corpora and edge inputs.

mod value;
mod write;

pub use value::{Map, Number, Value};
pub use write::{string as push_string, text};

/// Parse JSON text; `None` when it is not valid JSON.
pub fn parse(text: &[u8]) -> Option<Value> {
    imp::parse(text)
}

/// `json!` for tests: serde_json's macro, read into a [`Value`].
#[cfg(test)]
macro_rules! json {
    ($($json:tt)+) => {
        $crate::json::Value::from(serde_json::json!($($json)+))
    };
}
#[cfg(test)]
pub(crate) use json;

/// Tests put our values inside `json!`, which serializes them.
#[cfg(test)]
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let theirs: serde_json::Value = serde_json::from_str(&text(self)).expect("our text is JSON");
        theirs.serialize(serializer)
    }
}

/// serde_json's value as ours (native parsing, tests, and Rust hosts that hold serde_json values).
#[cfg(any(test, not(all(target_arch = "wasm32", feature = "js"))))]
impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), ..) => u.into(),
                (None, Some(i), _) => i.into(),
                (.., f) => f.and_then(Number::from_f64).unwrap_or(0u64.into()),
            }),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", feature = "js")))]
mod imp {
    pub fn parse(text: &[u8]) -> Option<super::Value> {
        serde_json::from_slice::<serde_json::Value>(text).ok().map(Into::into)
    }
}

#[cfg(all(target_arch = "wasm32", feature = "js"))]
mod imp {
    use js_sys::{Array, Object, JSON};
    use wasm_bindgen::{JsCast, JsValue};

    use super::{Map, Number, Value};

    /// serde_json's recursion limit (it refuses the 128th nested array or object): deeper
    /// documents are refused, not walked.
    const MAX_DEPTH: u32 = 127;

    pub fn parse(text: &[u8]) -> Option<Value> {
        let text = std::str::from_utf8(text).ok()?;
        from_js(&JSON::parse(text).ok()?, 0)
    }

    fn from_js(v: &JsValue, depth: u32) -> Option<Value> {
        if let Some(s) = v.as_string() {
            return string(v, s).map(Value::String);
        }
        if let Some(n) = v.as_f64() {
            return Some(Value::Number(number(n)?));
        }
        if let Some(b) = v.as_bool() {
            return Some(Value::Bool(b));
        }
        if v.is_null() {
            return Some(Value::Null);
        }
        if depth >= MAX_DEPTH {
            return None;
        }
        if Array::is_array(v) {
            let items: &Array = v.unchecked_ref();
            return items
                .iter()
                .map(|item| from_js(&item, depth + 1))
                .collect::<Option<_>>()
                .map(Value::Array);
        }
        let mut map = Map::new();
        for entry in Object::entries(v.unchecked_ref()).iter() {
            let entry: Array = entry.unchecked_into();
            let key = entry.get(0);
            map.insert(string(&key, key.as_string()?)?, from_js(&entry.get(1), depth + 1)?);
        }
        Some(Value::Object(map))
    }

    /// A JS string as Rust text; `None` when it has an unpaired surrogate (`"\ud800"` is valid
    /// JSON text to `JSON.parse`, not to serde_json, and it has no UTF-8 form). The conversion
    /// puts U+FFFD in its place, so a string with U+FFFD is checked: it must come back the same.
    fn string(s: &JsValue, text: String) -> Option<String> {
        let replaced = text.as_bytes().windows(3).any(|w| w == "\u{fffd}".as_bytes());
        (!replaced || JsValue::from_str(&text) == *s).then_some(text)
    }

    /// Integral numbers in range as integers (as serde_json reads `3600`), others as floats.
    fn number(n: f64) -> Option<Number> {
        if n.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&n) {
            Some(Number::from(n as u64))
        } else if n.fract() == 0.0 && (-9_223_372_036_854_775_808.0..0.0).contains(&n) {
            Some(Number::from(n as i64))
        } else {
            Number::from_f64(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objects_and_refuses_what_is_not_json() {
        let v = parse(br#"{"a":[1,-2,1.5,"x",true,null],"b":{}}"#).unwrap();
        assert_eq!(v["a"][0].as_u64(), Some(1));
        assert_eq!(v["a"][1].as_i64(), Some(-2));
        assert_eq!(v["a"][2].as_f64(), Some(1.5));
        assert_eq!(v["a"][3], "x");
        assert!(v["b"].is_object());
        assert!(parse(b"{\"a\":").is_none());
        assert!(parse(b"\xff").is_none());
        assert!(parse(&[b'['; 200]).is_none());
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(deep(100).as_bytes()).is_some());
        assert!(parse(deep(1000).as_bytes()).is_none());
    }
}
