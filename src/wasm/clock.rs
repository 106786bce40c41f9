//! The clock and randomness from the JS host: `Date.now()`, `setTimeout`, `crypto.getRandomValues`.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::providers::{Clock, Random};

#[wasm_bindgen]
extern "C" {
    /// `globalThis.crypto.getRandomValues(view)`, filling `buf` in place.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// `Date.now()`, and `setTimeout` to wait.
#[derive(Clone, Copy, Default)]
pub struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    /// `new Promise(resolve => setTimeout(resolve, ms))`.
    async fn sleep(&self, ms: u64) {
        let set_timeout = super::get(&js_sys::global(), "setTimeout");
        let Ok(set_timeout) = set_timeout.dyn_into::<Function>() else {
            return;
        };
        let promise = Promise::new(&mut |resolve, _| {
            let _ = set_timeout.call2(&JsValue::UNDEFINED, &resolve, &JsValue::from_f64(ms as f64));
        });
        let _ = JsFuture::from(promise).await;
    }
}

/// `crypto.getRandomValues`, with JWT IDs served from a pool.
#[derive(Clone, Copy, Default)]
pub struct JsRandom;

impl Random for JsRandom {
    fn fill_random(&self, buf: &mut [u8]) {
        // crypto.getRandomValues exists in every supported runtime; without it there is no safe
        // way on, so this fails closed. (Called directly: getrandom's fallbacks for old Node
        // added six host imports.) Requests here are at most 1 KiB, under its 65,536 limit.
        if get_random_values(buf).is_err() {
            wasm_bindgen::throw_str("tokenfetch: crypto.getRandomValues is not available");
        }
    }

    fn fill_unique(&self, buf: &mut [u8]) {
        UNIQUE.with(|pool| pool.borrow_mut().take(self, buf));
    }
}

thread_local! {
    static UNIQUE: std::cell::RefCell<UniquePool> = const {
        std::cell::RefCell::new(UniquePool { bytes: [0; UNIQUE_POOL], used: UNIQUE_POOL })
    };
}

/// Bytes of [`UniquePool`]: 64 JWT IDs per `crypto.getRandomValues` call.
const UNIQUE_POOL: usize = 1024;

/// Random bytes for JWT IDs, fetched in batches: `crypto.getRandomValues` costs about 10 µs per
/// call in Node whatever the length (measured: a fifth of a DPoP proof's time). Every byte is
/// handed out once.
struct UniquePool {
    bytes: [u8; UNIQUE_POOL],
    used: usize,
}

impl UniquePool {
    fn take(&mut self, random: &JsRandom, buf: &mut [u8]) {
        if buf.len() > UNIQUE_POOL / 4 {
            return random.fill_random(buf);
        }
        if self.used + buf.len() > UNIQUE_POOL {
            random.fill_random(&mut self.bytes);
            self.used = 0;
        }
        let end = self.used + buf.len();
        buf.copy_from_slice(&self.bytes[self.used..end]);
        self.bytes[self.used..end].fill(0);
        self.used = end;
    }
}
