//! The engine's providers from the Workers runtime: the time (`Date.now`, `setTimeout`),
//! randomness (`crypto.getRandomValues`) and an event sink (`console.log`). Signing needs no host
//! here: the ES256 keys of this Worker sign inside the crate ([`NoSigner`]).

use js_sys::{Function, Promise};
use tokenfetch::event::Event;
use tokenfetch::{Clock, Events, NoSigner, Providers, Random};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// What a [`tokenfetch::TokenClient`] runs over in this Worker.
pub type WorkerEnv = Providers<WorkerClock, WorkerRandom, NoSigner, ConsoleEvents>;

/// The providers for the client named `client` (the name tags its events).
pub fn worker_env(client: &'static str) -> WorkerEnv {
    Providers { clock: WorkerClock, random: WorkerRandom, signer: NoSigner, events: ConsoleEvents { client } }
}

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues(buf)`, filling `buf` in place.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;

    /// `setTimeout(callback, ms)`.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: f64) -> JsValue;
}

/// `Date.now()`, and `setTimeout` to wait between retries of a failed token request. (workerd
/// advances `Date.now()` only across I/O, which is all the engine needs: token lifetimes.)
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerClock;

impl Clock for WorkerClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn sleep(&self, ms: u64) {
        let promise = Promise::new(&mut |resolve, _reject| {
            set_timeout(&resolve, ms as f64);
        });
        let _ = JsFuture::from(promise).await;
    }
}

/// `crypto.getRandomValues`: DPoP keys, JWT IDs, cache key salts.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerRandom;

impl Random for WorkerRandom {
    fn fill_random(&self, buf: &mut [u8]) {
        // Requests here are small (at most 1 KiB, under the 65,536-byte limit). Without secure
        // randomness there is no safe way on: fail closed.
        if get_random_values(buf).is_err() {
            wasm_bindgen::throw_str("crypto.getRandomValues is not available");
        }
    }
}

/// Each client event as one `console.log` line, `tokenfetch-event {"client":…,"type":…}`: the
/// event's type and numbers, never a cache key or URL (a log pipeline or `wrangler tail` picks
/// them up; a metrics sink would count them instead).
#[derive(Clone, Copy, Debug)]
pub struct ConsoleEvents {
    /// The client's name in this Worker (`api1`, `api2`).
    pub client: &'static str,
}

impl Events for ConsoleEvents {
    fn event(&self, event: Event) {
        let mut line = serde_json::json!({ "client": self.client, "type": event.kind() });
        match &event {
            Event::TokenRequest { duration_ms, attempts, error, .. } => {
                line["attempts"] = (*attempts).into();
                line["durationMs"] = (*duration_ms).into();
                if let Some(code) = error {
                    line["error"] = (*code).into();
                }
            }
            Event::NonceRetry { at, .. } => line["at"] = (*at).into(),
            _ => {}
        }
        web_sys::console::log_1(&format!("tokenfetch-event {line}").into());
    }
}
