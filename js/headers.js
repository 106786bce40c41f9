// The headers the engine decided for an API request, written into the call's header record
// (js/fetch.mjs sends it): imported by the wasm module (src/wasm/client.rs, `JsTokenClient::set`).
// One plain JS function instead of a Reflect call per header from wasm: a cached call's share of
// the boundary (see BENCHMARKS.md).

/** `record.authorization = authorization`; `record.dpop = dpop`, or no `dpop` when undefined. */
export function setHeaders(record, authorization, dpop) {
  record.authorization = authorization;
  if (dpop !== undefined) record.dpop = dpop;
  else if (record.dpop !== undefined) delete record.dpop;
}
