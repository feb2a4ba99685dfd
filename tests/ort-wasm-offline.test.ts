/**
 * The browser build serves ONNX Runtime's WebAssembly files itself: transformersEnv.ts' `configureTransformers`
 * imports them with Vite `?url`, so a production build emits them as assets and points
 * `env.backends.onnx.wasm.wasmPaths` at them (transformers.js would otherwise fetch them from a CDN).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'ort-wasm-build-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('ONNX Runtime wasm files are part of the build', () => {
  it('a build of the transformers.js set-up emits the .wasm/.mjs pair and sets wasmPaths to them', async () => {
    await build({
      root: ROOT,
      configFile: false,
      publicDir: false,
      logLevel: 'silent',
      build: {
        outDir: out,
        emptyOutDir: true,
        minify: false,
        rolldownOptions: { input: { env: join(ROOT, 'src/models/transformersEnv.ts') }, preserveEntrySignatures: 'strict' },
      },
    });
    const assets = readdirSync(join(out, 'assets'));
    const wasm = assets.find((f) => /^ort-wasm-simd-threaded\.asyncify-[\w-]+\.wasm$/.test(f));
    const mjs = assets.find((f) => /^ort-wasm-simd-threaded\.asyncify-[\w-]+\.mjs$/.test(f));
    expect(wasm, assets.join(', ')).toBeDefined();
    expect(mjs, assets.join(', ')).toBeDefined();
    const dist = join(ROOT, 'node_modules/onnxruntime-web/dist');
    expect(Buffer.compare(readFileSync(join(out, 'assets', wasm!)), readFileSync(join(dist, 'ort-wasm-simd-threaded.asyncify.wasm')))).toBe(0);
    expect(Buffer.compare(readFileSync(join(out, 'assets', mjs!)), readFileSync(join(dist, 'ort-wasm-simd-threaded.asyncify.mjs')))).toBe(0);
    // The URL modules that configureTransformers imports resolve to those same-origin assets.
    const js = assets.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(out, 'assets', f), 'utf8'));
    expect(js.some((code) => code.includes(`/assets/${wasm}`) && /export\s*\{/.test(code) && code.length < 500)).toBe(true);
    expect(js.some((code) => code.includes(`/assets/${mjs}`) && code.length < 500)).toBe(true);
    expect(js.some((code) => /wasmPaths\s*=\s*\{\s*wasm:/.test(code))).toBe(true);
  });
});
