/**
 * The q4 tiny SmolVLM (`onnx/*_q4.onnx`: com.microsoft MatMulNBits) loads through the app's ONNX engine in Chromium
 * onto ONNX Runtime Web's WebGPU execution provider, with the dtype option the Hub's SmolVLMs are loaded with, and
 * scores as on WebAssembly.
 */
import { test, expect, type Page } from '@playwright/test';
import type { ResponseLogprobs } from '../src/models/engine';
import type { OnnxDtypeOption } from '../src/models/onnx/engine';
import type { ImagePixels, OnnxLogprobsArgs, OnnxLogprobsResult } from '../src/harness/protocol';

const PROMPT = 'What is in the picture?';
const RESPONSES = ['A red square. It sits on blue ground, 3 cm wide.', 'A green circle!'];
const Q4: OnnxDtypeOption = { vision_encoder: 'q4', embed_tokens: 'q4', decoder_model_merged: 'q4' };

/** Measured WebGPU (SwiftShader) against WASM for the q4 model: 4.9e-7 per token at most. */
const WEBGPU_TOLERANCE = 1e-4;
/** src/models/onnx/quantized.test.ts' bound of q4 against fp32 (measured 5.4e-2 there on the CPU, 5.3e-2 here on WASM). */
const Q4_TOLERANCE = 0.07;

/** 32×32 (the tiny SmolVLM's longest edge, so the processor does not resize): a red square on a blue ground. */
function image(): ImagePixels {
  const data: number[] = [];
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) data.push(...(x >= 8 && x < 20 && y >= 8 && y < 24 ? [220, 30, 30] : [20, 40, 200]));
  }
  return { data, width: 32, height: 32, channels: 3 };
}

function maxLogpDiff(a: ResponseLogprobs[], b: ResponseLogprobs[]): number {
  expect(a.map((r) => r.inputIds)).toEqual(b.map((r) => r.inputIds));
  let m = 0;
  a.forEach((r, i) => r.tokens.forEach((t, k) => (m = Math.max(m, Math.abs(t.logp - b[i].tokens[k].logp)))));
  return m;
}

function score(page: Page, device: OnnxLogprobsArgs['device'], dtype: OnnxDtypeOption, verboseLoad = false): Promise<OnnxLogprobsResult> {
  const args: OnnxLogprobsArgs = { modelUrl: '/models/tiny-smolvlm', prompt: PROMPT, responses: RESPONSES, imagePixels: image(), device, dtype, verboseLoad };
  return page.evaluate((a) => window.aspoHarness!.onnxLogprobs(a), args);
}

test('the q4 tiny SmolVLM runs on WebGPU with the log-probs it has on WASM', async ({ page }) => {
  const errors: string[] = [];
  const logs: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => logs.push(m.text()));
  await page.goto('/harness.html');
  await page.waitForFunction(() => window.aspoHarness !== undefined, null, { timeout: 60_000 });

  const gpu = await score(page, 'webgpu', Q4, true);
  expect(gpu.device).toBe('webgpu');
  expect(gpu.fallbackReason).toBeNull();
  const wasm = await score(page, 'wasm', Q4);
  expect(wasm.device).toBe('wasm');
  const fp32 = await score(page, 'wasm', 'fp32');

  const logps = gpu.results.flatMap((r) => r.tokens.map((t) => t.logp));
  expect(logps.length).toBeGreaterThan(10);
  for (const v of logps) expect(v).toBeLessThan(0);
  const gpuVsWasm = maxLogpDiff(gpu.results, wasm.results);
  const q4VsFp32 = maxLogpDiff(wasm.results, fp32.results);
  test.info().annotations.push({ type: 'max |Δ logp|', description: `q4 WebGPU vs WASM ${gpuVsWasm.toExponential(2)}; q4 vs fp32 on WASM ${q4VsFp32.toExponential(2)}` });
  expect(gpuVsWasm).toBeLessThan(WEBGPU_TOLERANCE);
  expect(q4VsFp32).toBeLessThan(Q4_TOLERANCE);
  // The q4 files were really the ones run.
  expect(q4VsFp32).toBeGreaterThan(1e-6);
  expect(errors).toEqual([]);

  // Every MatMulNBits runs on WebGPU; ONNX Runtime keeps only the small integer and shape ops (the mask, the
  // positions, the padding-image test) on the CPU, as it does by design.
  const placed = placements(logs);
  const onCpu = placed.get('CPUExecutionProvider') ?? [];
  const onGpu = placed.get('WebGpuExecutionProvider') ?? [];
  expect(onGpu.filter((op) => op === 'MatMulNBits')).toHaveLength(MATMULS);
  expect(onCpu.filter((op) => !CPU_OPS.has(op))).toEqual([]);
  test.info().annotations.push({ type: 'node placement', description: `WebGPU ${onGpu.length} nodes; CPU ${onCpu.length}: ${[...new Set(onCpu)].sort().join(', ')}` });
});

/** Linear layers of tiny-smolvlm: decoder 2 × 7 + lm_head, vision 2 × 6 + the connector. */
const MATMULS = 15 + 13;
const CPU_OPS = new Set(['Shape', 'Squeeze', 'Unsqueeze', 'Range', 'Cast', 'ReduceSum', 'Equal', 'Sub', 'Add', 'LessOrEqual', 'Greater', 'Or', 'And', 'Not', 'Compress']);

/** Op types by execution provider, from ONNX Runtime's verbose "Node(s) placed on [EP]" lines of every session. */
function placements(logs: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let ep: string | null = null;
  for (const line of logs.flatMap((l) => l.split('\n'))) {
    const header = /(?:All nodes|Node\(s\)) placed on \[(\w+)\]/.exec(line);
    if (header) {
      ep = header[1];
      if (!out.has(ep)) out.set(ep, []);
      continue;
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\] {3}(\w+) \(/.exec(line);
    if (node && ep) out.get(ep)!.push(node[1]);
    else if (!/VerifyEachNodeIsAssignedToAnEp/.test(line)) ep = null;
  }
  return out;
}
