//! Events to the caller's `onEvent` hook, as plain objects with the host's `time`.

use js_sys::Function;
use wasm_bindgen::prelude::*;

use crate::event::Event;
use crate::providers::Events;

/// The caller's `onEvent(event)`, if any. A hook that throws does not break the client.
#[derive(Clone, Default)]
pub struct JsEvents {
    /// The caller's `onEvent`.
    pub on_event: Option<Function>,
}

impl Events for JsEvents {
    fn event(&self, event: crate::event::Event) {
        let Some(hook) = &self.on_event else {
            return;
        };
        let o = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &v);
        };
        set("type", event.kind().into());
        set("time", js_sys::Date::now().into());
        match &event {
            Event::CacheHit { key } => set("cacheKey", key.as_str().into()),
            Event::TokenRequest { key, duration_ms, attempts, error, .. } => {
                set("cacheKey", key.as_str().into());
                set("durationMs", (*duration_ms as f64).into());
                set("attempts", (*attempts).into());
                if let Some(code) = error {
                    set("code", (*code).into());
                }
            }
            Event::NonceRetry { at, url } => {
                set("at", (*at).into());
                set("url", url.as_str().into());
            }
            Event::InvalidTokenRetry { url } => set("url", url.as_str().into()),
            Event::StoreHit { key, waited_ms } => {
                set("cacheKey", key.as_str().into());
                set("waitedMs", (*waited_ms as f64).into());
            }
            Event::StoreError { key, op, message } => {
                set("cacheKey", key.as_str().into());
                set("op", (*op).into());
                set("message", message.as_str().into());
            }
            Event::StaleIfError { key, error, expires_in_ms } => {
                set("cacheKey", key.as_str().into());
                set("code", (*error).into());
                set("expiresInMs", (*expires_in_ms as f64).into());
            }
            Event::ClockSkew { origin, offset_ms } => {
                set("origin", origin.as_str().into());
                set("offsetMs", (*offset_ms as f64).into());
            }
        }
        // A throwing hook must not break the client.
        let _ = hook.call1(&JsValue::UNDEFINED, &o);
    }
}
