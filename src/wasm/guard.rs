//! The calls into JavaScript that can throw on a value the caller controls (a Proxy, a getter, a
//! `toString` that throws, a revoked Proxy, a thenable whose `then` throws), imported with
//! `catch`: a JS exception must never unwind through a wasm frame, where it would leave a Promise
//! unsettled and the module's state half-updated. Callers turn the `Err` into a `TokenError`.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

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
