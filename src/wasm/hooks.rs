//! Internal exports for the tests (the `hooks` feature: `scripts/build.sh` builds with it, the
//! release build without).
#![cfg(feature = "hooks")]

use wasm_bindgen::prelude::*;

/// The wasm JSON front end on `bytes`: [`crate::json::parse`] (here the host's `JSON.parse`, see
/// src/json.rs) written back with [`crate::json::text`], or `undefined` when `bytes` are not
/// JSON. tests/js/json-corpus.test.mjs compares it with the native front end (serde_json) over
/// the fuzz corpora.
#[wasm_bindgen(js_name = __jsonCanonical)]
pub fn json_canonical(bytes: &[u8]) -> Option<String> {
    crate::json::parse(bytes).map(|value| crate::json::text(&value))
}
