import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';

export default defineConfig({
  plugins: [react()],
  server: { port: 5173, strictPort: true },
  preview: { port: 5173, strictPort: true },
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
