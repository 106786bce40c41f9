//! JavaScript glue: JS options and values in, Rust engine in the middle, Promises, plain objects
//! and `TokenError`s out. `fetch`, the clock and randomness come from the host here, nowhere else.

mod client;
mod clock;
mod error;
mod events;
mod guard;
mod helpers;
mod hooks;
mod signer;
mod store;
mod transport;

use std::future::Future;
use std::pin::Pin;

use wasm_bindgen::prelude::*;

/// What the engine runs over in JavaScript: `Date.now()`, `crypto.getRandomValues`, the host
/// signers (node:crypto, WebCrypto) and the caller's `onEvent`.
pub type JsEnv = crate::Providers<clock::JsClock, clock::JsRandom, signer::JsSigner, events::JsEvents>;

/// The allocator: talc instead of the default dlmalloc, smaller in the module and faster
/// (single-threaded wasm, growing linear memory as needed).
#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// `JSON.parse(JSON.stringify(value))` as a JSON value: drops functions and `undefined`, as options
/// such as `fetch` and `store` are read separately. Whatever throws on the way (a BigInt, a cycle,
/// a getter, a Proxy) or is over 1 MiB of JSON is an `invalid_argument` naming `field`.
fn to_json(field: &str, value: &JsValue) -> Result<crate::json::Value, crate::TokenError> {
    const MAX_JSON_CHARS: u32 = 1 << 20;
    if value.is_undefined() || value.is_null() {
        return Ok(crate::json::Value::Null);
    }
    let unusable = || crate::TokenError::argument(field, "must be a plain JSON-serializable object");
    // A function or a symbol stringifies to `undefined`, which has no length to read.
    let text = js_sys::JSON::stringify(value).ok().filter(|t| t.is_string()).ok_or_else(unusable)?;
    if text.length() > MAX_JSON_CHARS {
        return Err(crate::TokenError::argument(field, "is too large (over 1 MiB as JSON)"));
    }
    let text = text.as_string().ok_or_else(unusable)?;
    crate::json::parse(text.as_bytes()).ok_or_else(unusable)
}

/// A Promise rejected with `e`: how a method reports a bad argument found before its work starts.
fn rejected(e: crate::TokenError) -> js_sys::Promise {
    js_sys::Promise::reject(&e.into())
}

/// `wasm_bindgen_futures::future_to_promise` over one boxed future type: every async export
/// shares one copy of the promise and task machinery instead of one per future type.
fn future_to_promise(future: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> js_sys::Promise {
    let future: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(future);
    wasm_bindgen_futures::future_to_promise(future)
}

/// A property of a JS object (`undefined` when absent or unreadable).
fn get(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Bytes of wasm linear memory (for the bench's memory-flatness check). Internal (the `hooks`
/// feature).
#[cfg(feature = "hooks")]
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
fn json_to_js(value: Option<&crate::json::Value>) -> JsValue {
    value.and_then(|v| js_sys::JSON::parse(&crate::jose::text(v)).ok()).unwrap_or(JsValue::NULL)
}

#[cfg(test)]
mod tests;
