/**
 * Cross-origin isolation: with these two headers on the page and its workers' scripts, they get SharedArrayBuffer,
 * so TF.js' WASM backend and ONNX Runtime's WebAssembly run on several threads. `credentialless` rather than
 * `require-corp`: a cross-origin resource fetched without CORS still loads (without cookies) instead of needing
 * its host to send Cross-Origin-Resource-Policy; hub downloads are CORS requests and work under either.
 * vite.config.ts sends them from the dev and preview servers; docs/hosting.md says how to send them elsewhere.
 */
export const ISOLATION_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'credentialless',
};
