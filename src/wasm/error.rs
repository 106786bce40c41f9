//! `TokenError` for JavaScript: a real `Error` (with a stack) carrying `code`, `status`, `error`
//! and `errorDescription`, whose prototype is the package's `TokenError` class once registered.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::TokenError;

thread_local! {
    static PROTOTYPE: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

/// Called once by the package entry with its `TokenError` class, so errors are `instanceof` it.
#[wasm_bindgen(js_name = __registerTokenError)]
pub fn register_token_error(class: &JsValue) {
    let prototype = super::get(class, "prototype");
    PROTOTYPE.with(|p| *p.borrow_mut() = Some(prototype));
}

/// Convert to a JS `TokenError`.
pub fn to_js(e: TokenError) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    err.set_name("TokenError");
    let value: JsValue = err.into();
    PROTOTYPE.with(|p| {
        if let Some(proto) = p.borrow().as_ref() {
            let _ = js_sys::Reflect::set_prototype_of(
                value.unchecked_ref::<js_sys::Object>(),
                proto.unchecked_ref::<js_sys::Object>(),
            );
        }
    });
    let set = |name: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&value, &JsValue::from_str(name), &v);
    };
    set("code", JsValue::from_str(e.code.as_str()));
    if let Some(status) = e.status {
        set("status", JsValue::from(status));
    }
    if let Some(error) = &e.error {
        set("error", JsValue::from_str(error));
    }
    if let Some(description) = &e.error_description {
        set("errorDescription", JsValue::from_str(description));
    }
    value
}
