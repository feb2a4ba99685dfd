import { cpSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { sendModelFile } from './modelMirror';

/** The generated tiny models (scripts/make-tiny-models.ts): the tests load them here, and the app serves them. */
export const FIXTURE_MODELS = resolve(import.meta.dirname, '..', '..', 'tests', 'fixtures', 'models');

/** The URL prefix the app loads its bundled models from (`urlPrefixSource('/models/tiny-smolvlm')`). */
export const BUNDLED_MODELS_URL = '/models';

/**
 * The tiny models are kept once, where the tests read them (tests/fixtures/models); this plugin serves them at
 * /models/ on the dev server and copies them into the build, so `vite preview` (npm start, the e2e tests) serves
 * them from the build folder like any other asset. A missing file falls through to Vite, as a missing public file did.
 */
export function bundledModels(root: string = FIXTURE_MODELS): Plugin {
  const dir = resolve(root);
  return {
    name: 'aspo-bundled-models',
    configureServer(server) {
      server.middlewares.use(BUNDLED_MODELS_URL, (req, res, next) => {
        const match = decodeURIComponent((req.url ?? '').split('?')[0]).match(/^\/([^/]+)\/(.+)$/);
        // Vite's own middlewares add server.headers (cross-origin isolation) to what they send; this one runs first.
        for (const [name, value] of Object.entries(server.config.server.headers ?? {})) if (value !== undefined) res.setHeader(name, value);
        if (!match || !sendModelFile(req, res, dir, match[1], match[2])) next();
      });
    },
    writeBundle(options) {
      if (options.dir) cpSync(dir, join(options.dir, BUNDLED_MODELS_URL), { recursive: true });
    },
  };
}
