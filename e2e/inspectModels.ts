import { expect, type Page } from '@playwright/test';

/** In the Inspect tab, loads the bundled tiny SmolVLM on the ONNX engine and the tiny CLIP, and waits until both run. */
export async function loadOnnxAndClip(page: Page) {
  await page.getByTestId('mllm-choice').selectOption('tiny-smolvlm');
  await page.getByTestId('mllm-engine').selectOption('onnx');
  await page.getByTestId('mllm-load').click();
  await page.getByTestId('clip-choice').selectOption('tiny-clip');
  await page.getByTestId('clip-load').click();
  await expect(page.getByTestId('mllm-status')).toHaveAttribute('data-status', 'ready', { timeout: 90_000 });
  await expect(page.getByTestId('clip-status')).toHaveAttribute('data-status', 'ready', { timeout: 90_000 });
  // Where each model runs is shown: ONNX Runtime's WebGPU, or WASM when WebGPU fails.
  await expect(page.getByTestId('mllm-device')).toHaveAttribute('data-device', /^(webgpu|wasm)$/);
  await expect(page.getByTestId('clip-device')).toHaveAttribute('data-device', /^(webgpu|wasm)$/);
}
