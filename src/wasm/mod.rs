//! JavaScript glue: JS options and values in, Rust engine in the middle, Promises, plain objects
//! and `TokenError`s out. `fetch`, the clock and randomness come from the host here, nowhere else.

mod client;
mod error;
mod helpers;
mod host;
mod signer;

use wasm_bindgen::prelude::*;

/// `JSON.parse(JSON.stringify(value))` into serde: drops functions and `undefined`, as options
/// such as `fetch` and `store` are read separately.
fn to_json(field: &str, value: &JsValue) -> Result<serde_json::Value, crate::TokenError> {
    if value.is_undefined() || value.is_null() {
        return Ok(serde_json::Value::Null);
    }
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| crate::TokenError::argument(field, "must be a plain JSON-serializable object"))?;
    // from_slice, as for response bodies: one parser instantiation in the module, not two.
    serde_json::from_slice(text.as_bytes())
        .map_err(|_| crate::TokenError::argument(field, "must be a plain JSON-serializable object"))
}

/// A property of a JS object (`undefined` when absent or unreadable).
fn get(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Bytes of wasm linear memory (for the bench's memory-flatness check).
#[wasm_bindgen(js_name = __wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    (core::arch::wasm32::memory_size(0) * 65536) as f64
}

/// A plain JS object with these properties, in this order.
fn object(members: &[(&str, JsValue)]) -> JsValue {
    let o: JsValue = js_sys::Object::new().into();
    for (name, value) in members {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(name), value);
    }
    o
}

/// A JSON value as a plain JS value (`JSON.parse` of its text; `null` for `None`).
fn json_to_js(value: Option<&serde_json::Value>) -> JsValue {
    value.and_then(|v| js_sys::JSON::parse(&crate::jose::text(v)).ok()).unwrap_or(JsValue::NULL)
}

#[cfg(test)]
mod tests;
