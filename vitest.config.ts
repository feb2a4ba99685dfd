import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { CHROMIUM_FLAGS, findChromium } from './scripts/lib/chromium';

/**
 * Three projects: every unit test under Node on TF.js' WASM backend (the command line's default); the method and
 * small model tests again under Node on the pure-JS CPU backend, the last fallback of the tab; and the model and
 * method tests in a real Chromium on WebGPU. The same assertions hold on all three backends.
 */
export default defineConfig({
  test: {
    testTimeout: 120_000,
    projects: [
      {
        test: {
          name: 'node',
          include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'node-cpu',
          // Only the tests that run TF.js: the rest of src/aspo is plain arithmetic, the same on any backend.
          include: ['src/aspo/*.tf.test.ts', 'src/tf/*.test.ts', 'src/models/tfjs/{llama,idefics3,lora,weights}.test.ts'],
          environment: 'node',
          env: { ASPO_TEST_BACKEND: 'cpu' },
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'chromium-webgpu',
          include: [
            'src/aspo/*.test.ts',
            'src/models/safetensors.test.ts',
            'src/models/config.test.ts',
            'src/tf/*.test.ts',
            'src/models/tfjs/{llama,idefics3,lora,weights}.test.ts',
            'src/train/backends.test.ts',
          ],
          testTimeout: 300_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({ launchOptions: { executablePath: findChromium(), args: CHROMIUM_FLAGS } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
