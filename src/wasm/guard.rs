//! The calls into JavaScript that can throw on a value the caller controls (a Proxy, a getter, a
//! `toString` that throws, a revoked Proxy, a thenable whose `then` throws), imported with
//! `catch`: a JS exception must never unwind through a wasm frame, where it would leave a Promise
//! unsettled and the module's state half-updated. Callers turn the `Err` into a `TokenError`.

use js_sys::{Array, Object, Promise};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `String(value)`: runs the value's `Symbol.toPrimitive`, `toString` or `valueOf`.
    #[wasm_bindgen(js_name = String, catch)]
    fn js_string(value: &JsValue) -> Result<JsValue, JsValue>;

    /// `Object.keys(value)`: a Proxy's `ownKeys` trap may throw.
    #[wasm_bindgen(js_namespace = Object, js_name = keys, catch)]
    pub fn keys(value: &JsValue) -> Result<Array, JsValue>;

    /// `Object.entries(value)`: getters and Proxy traps run.
    #[wasm_bindgen(js_namespace = Object, js_name = entries, catch)]
    pub fn entries(value: &JsValue) -> Result<Array, JsValue>;

    /// `Object.assign(target, source)`: the source's getters and Proxy traps run.
    #[wasm_bindgen(js_namespace = Object, js_name = assign, catch)]
    pub fn assign(target: &Object, source: &JsValue) -> Result<Object, JsValue>;

    /// `Array.isArray(value)`: throws for a revoked Proxy.
    #[wasm_bindgen(js_namespace = Array, js_name = isArray, catch)]
    pub fn is_array(value: &JsValue) -> Result<bool, JsValue>;
}

/// `String(value)`, or `None` when converting it throws or gives no string.
pub fn string_of(value: &JsValue) -> Option<String> {
    js_string(value).ok()?.as_string()
}

/// A Promise that settles as `value` does (a value, a Promise or any thenable). Unlike
/// `Promise.resolve(value)`, which reads a promise's `constructor` and hands back the same object
/// (whose own `then` may throw when awaited), this adopts `value` through a resolve function,
/// which turns every exception into a rejection.
pub fn adopt(value: &JsValue) -> Promise {
    Promise::new(&mut |resolve, _| {
        let _ = resolve.call1(&JsValue::UNDEFINED, value);
    })
}

/// The strings of an array-like option (a key's `usages`), read through JSON so that a Proxy or
/// a getter cannot throw here; empty for anything else.
pub fn strings(value: &JsValue) -> Vec<String> {
    match super::to_json("value", value) {
        Ok(crate::json::Value::Array(items)) => {
            items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        }
        _ => Vec::new(),
    }
}
