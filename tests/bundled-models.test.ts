import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import { bundledModels, FIXTURE_MODELS } from '../scripts/lib/bundledModels';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));
}

describe('bundled models (kept once in tests/fixtures/models)', () => {
  let server: ViteDevServer;
  let origin: string;

  beforeAll(async () => {
    server = await createServer({ configFile: false, root: tmpdir(), logLevel: 'silent', plugins: [bundledModels()], server: { port: 0, host: '127.0.0.1' } });
    await server.listen();
    const address = server.httpServer!.address() as { port: number };
    origin = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await server.close();
  });

  it('the dev server serves every file at /models/<name>/<file>, byte for byte', async () => {
    for (const file of files(FIXTURE_MODELS)) {
      const res = await fetch(`${origin}/models/${relative(FIXTURE_MODELS, file).split('\\').join('/')}`);
      expect(res.status, file).toBe(200);
      expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), readFileSync(file)), file).toBe(0);
    }
  });

  it('a path that is no file of the models falls through to Vite (no file outside the folder is served)', async () => {
    const missing = await fetch(`${origin}/models/tiny-smolvlm/nothing.json`);
    expect(missing.headers.get('content-type') ?? '').not.toBe('application/octet-stream');
    const outside = await fetch(`${origin}/models/tiny-smolvlm/..%2F..%2F..%2F..%2Fpackage.json`);
    expect(outside.headers.get('content-type') ?? '').not.toBe('application/octet-stream');
  });

  it('a build gets the same files under <outDir>/models/', () => {
    const out = mkdtempSync(join(tmpdir(), 'aspo-build-'));
    try {
      const plugin = bundledModels();
      (plugin.writeBundle as (options: { dir: string }) => void)({ dir: out });
      const built = files(join(out, 'models')).map((f) => relative(join(out, 'models'), f)).sort();
      expect(built).toEqual(files(FIXTURE_MODELS).map((f) => relative(FIXTURE_MODELS, f)).sort());
      for (const f of built) expect(Buffer.compare(readFileSync(join(out, 'models', f)), readFileSync(join(FIXTURE_MODELS, f))), f).toBe(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
