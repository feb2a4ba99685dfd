import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { CHROMIUM_FLAGS, findChromium } from './scripts/lib/chromium';

/**
 * Two projects: every unit test under Node (TF.js CPU backend), and the model and method tests again in a real
 * Chromium on WebGPU, so the same assertions hold on both backends.
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
          name: 'chromium-webgpu',
          include: [
            'src/aspo/*.test.ts',
            'src/models/safetensors.test.ts',
            'src/models/config.test.ts',
            'src/tf/*.test.ts',
            'src/models/tfjs/{llama,idefics3,lora,weights}.test.ts',
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
