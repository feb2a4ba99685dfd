import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';
import { bundledModels } from './scripts/lib/bundledModels';
import { ISOLATION_HEADERS } from './scripts/lib/isolationHeaders';
import { tfjsWasmThreads } from './scripts/lib/tfjsWasmThreads';

export default defineConfig({
  plugins: [react(), bundledModels(), tfjsWasmThreads()],
  // The only public files were the bundled models, now served by bundledModels() from tests/fixtures/models.
  publicDir: false,
  server: { port: 5173, strictPort: true, headers: ISOLATION_HEADERS },
  preview: { port: 5173, strictPort: true, headers: ISOLATION_HEADERS },
  // The training worker is bundled on its own, with only these plugins; the dev server pre-bundles node_modules.
  worker: { plugins: () => [tfjsWasmThreads()] },
  optimizeDeps: { rolldownOptions: { plugins: [tfjsWasmThreads()] } },
  build: {
    outDir: 'dist',
    chunkSizeWarningLimit: 4096,
    // Two pages: the app, and the engine test-and-benchmark harness (e2e/engine.spec.ts, scripts/bench-engine.ts).
    rolldownOptions: {
      input: {
        main: resolve(import.meta.dirname, 'index.html'),
        harness: resolve(import.meta.dirname, 'harness.html'),
      },
    },
  },
});
