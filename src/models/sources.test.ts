import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinySmolVLM } from '../../scripts/tiny-models/smolvlm';
import { parseSafetensors } from './safetensors';
import {
  ModelFileError,
  folderSource,
  hubSource,
  loadFiles,
  memoSource,
  memoryCache,
  urlPrefixSource,
  type FileProgress,
  type TotalProgress,
} from './sources';

const MODEL_ID = 'test-org/tiny-smolvlm';
const model = makeTinySmolVLM();
const files: Record<string, Uint8Array> = Object.fromEntries(
  Object.entries(model.files).map(([k, v]) => [k, typeof v === 'string' ? new TextEncoder().encode(v) : v]),
);
files['onnx/vision encoder.onnx'] = new Uint8Array([1, 2, 3, 4, 5]);

function same(a: Uint8Array | null | undefined, b: Uint8Array): boolean {
  return a != null && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

let server: Server;
let base = '';
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    hits.push(url);
    const hub = url.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    const bundled = url.match(/^\/models\/tiny-smolvlm\/(.+)$/);
    let name: string | null = null;
    if (hub && hub[1] === MODEL_ID && hub[2] === 'main') name = hub[3];
    else if (bundled) name = bundled[1];
    else if (url.startsWith('/spa/')) {
      // like a dev server's index.html fallback
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>app</title>');
      return;
    } else if (url.startsWith('/private/')) {
      res.writeHead(401, 'Unauthorized');
      res.end();
      return;
    } else if (url.startsWith('/broken/')) {
      res.writeHead(500, 'Internal Server Error');
      res.end();
      return;
    }
    const body = name === null ? undefined : files[name];
    if (!body) {
      res.writeHead(404, 'Not Found', { 'content-type': 'text/plain' });
      res.end('Entry not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    // send in several chunks so progress has intermediate events
    const step = Math.max(1, Math.ceil(body.length / 4));
    let at = 0;
    const pump = () => {
      if (at >= body.length) return res.end();
      res.write(Buffer.from(body.subarray(at, at + step)));
      at += step;
      setImmediate(pump);
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const NAMES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'model.safetensors'];

describe('hubSource', () => {
  it('downloads through a hub mirror with progress, then serves a second load from the cache', async () => {
    const cache = memoryCache();
    const src = hubSource(MODEL_ID, { endpoint: base, cache });
    expect(src.url('onnx/vision encoder.onnx')).toBe(`${base}/${MODEL_ID}/resolve/main/onnx/vision%20encoder.onnx`);

    hits.length = 0;
    const events: FileProgress[] = [];
    const weights = await src.getFile('model.safetensors', (p) => events.push(p));
    expect(same(weights, files['model.safetensors'])).toBe(true);
    expect(events.length).toBeGreaterThan(2);
    const total = files['model.safetensors'].length;
    expect(events.every((e) => e.file === 'model.safetensors' && !e.fromCache)).toBe(true);
    expect(events.some((e) => e.loaded > 0 && e.loaded < total)).toBe(true);
    for (let i = 1; i < events.length; i++) expect(events[i].loaded).toBeGreaterThanOrEqual(events[i - 1].loaded);
    expect(events[events.length - 1]).toMatchObject({ loaded: total, total });
    expect(hits).toEqual([`/${MODEL_ID}/resolve/main/model.safetensors`]);
    parseSafetensors(weights, 'model.safetensors');

    // all files with a combined progress report
    const totals: TotalProgress[] = [];
    const got = await loadFiles(src, NAMES, (p) => totals.push(p));
    for (const n of NAMES) expect(same(got[n], files[n])).toBe(true);
    const last = totals[totals.length - 1];
    const sum = NAMES.reduce((s, n) => s + files[n].length, 0);
    expect(last).toMatchObject({ loaded: sum, total: sum, filesDone: NAMES.length, filesTotal: NAMES.length });
    for (const t of totals) expect(t.loaded).toBeLessThanOrEqual(t.total);
    expect(hits.length).toBe(NAMES.length); // model.safetensors came from the cache

    // a fresh source over the same cache: zero requests
    hits.length = 0;
    const again = hubSource(MODEL_ID, { endpoint: base, cache });
    const events2: TotalProgress[] = [];
    const got2 = await loadFiles(again, NAMES, (p) => events2.push(p));
    for (const n of NAMES) expect(same(got2[n], files[n])).toBe(true);
    expect(hits).toEqual([]);
    expect(events2[events2.length - 1]).toMatchObject({ loaded: sum, total: sum });
    expect(Object.values(events2[events2.length - 1].perFile).every((p) => p.fromCache)).toBe(true);
    expect((await again.getJson<{ model_type: string }>('config.json')).model_type).toBe('idefics3');
    expect(hits).toEqual([]);
  });

  it('without a cache every load downloads', async () => {
    const src = hubSource(MODEL_ID, { endpoint: base, cache: null });
    hits.length = 0;
    await src.getText('config.json');
    await src.getText('config.json');
    expect(hits.length).toBe(2);
  });

  it('shares one download between concurrent requests for the same file', async () => {
    const src = hubSource(MODEL_ID, { endpoint: base, cache: memoryCache() });
    hits.length = 0;
    const [a, b] = await Promise.all([src.getFile('tokenizer.json'), src.getFile('tokenizer.json')]);
    expect(same(a, b)).toBe(true);
    expect(hits.length).toBe(1);
  });

  it('names the model, the file, the status and the URL when a file is missing', async () => {
    const cache = memoryCache();
    const src = hubSource(MODEL_ID, { endpoint: base, cache });
    const err = await src.getFile('onnx/decoder_model_merged_q4f16.onnx').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.message).toBe(
      `model ${MODEL_ID} has no file onnx/decoder_model_merged_q4f16.onnx (HTTP 404 at ${base}/${MODEL_ID}/resolve/main/onnx/decoder_model_merged_q4f16.onnx)`,
    );
    expect(err.status).toBe(404);
    expect(err.reason).toBe('missing');
    expect(cache.size).toBe(0); // errors are not cached
    expect(await src.tryGetFile('nope.json')).toBeNull();
    // an unknown revision is a 404 too
    const rev = hubSource(MODEL_ID, { endpoint: base, revision: 'v9', cache: null });
    await expect(rev.getFile('config.json')).rejects.toThrow(/has no file config\.json \(HTTP 404 at .*\/resolve\/v9\/config\.json\)/);
  });

  it('reports refused, server and network failures', async () => {
    const refused = hubSource('private/x', { endpoint: base, cache: null, fetch: (u) => fetch(u.replace(`${base}/`, `${base}/private/`)) });
    await expect(refused.getFile('config.json')).rejects.toThrow(/access to config\.json was refused \(HTTP 401 Unauthorized at .*\); the model may be private or gated/);
    const broken = hubSource('broken/x', { endpoint: base, cache: null, fetch: (u) => fetch(u.replace(`${base}/`, `${base}/broken/`)) });
    await expect(broken.getFile('config.json')).rejects.toThrow(/model broken\/x: could not download config\.json \(HTTP 500 Internal Server Error at /);
    const offline = hubSource(MODEL_ID, { endpoint: 'http://127.0.0.1:1', cache: null });
    const err = await offline.getFile('config.json').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.reason).toBe('network');
    expect(err.message).toMatch(/could not download config\.json from http:\/\/127\.0\.0\.1:1\/.*network error/);
    const invalid = hubSource(MODEL_ID, { endpoint: base, cache: null });
    await expect(invalid.getJson('model.safetensors')).rejects.toThrow(/file model\.safetensors is not valid JSON/);
  });

  it('rejects bad ids and file names', () => {
    expect(() => hubSource('../etc', { cache: null })).toThrow(/invalid Hugging Face model id/);
    const src = hubSource(MODEL_ID, { endpoint: base, cache: null });
    expect(() => src.url('../secret')).toThrow(/invalid model file name/);
  });

  it('sends an access token when given one', async () => {
    let seen: string | null = null;
    const src = hubSource(MODEL_ID, {
      endpoint: base,
      cache: null,
      token: 'hf_abc',
      fetch: (u, init) => {
        seen = new Headers(init?.headers).get('authorization');
        return fetch(u, init);
      },
    });
    await src.getFile('config.json');
    expect(seen).toBe('Bearer hf_abc');
  });
});

function withPath(name: string, rel: string, bytes: Uint8Array): File {
  const f = new File([bytes as Uint8Array<ArrayBuffer>], name);
  Object.defineProperty(f, 'webkitRelativePath', { value: rel });
  return f;
}

describe('folderSource', () => {
  const picked = Object.entries(files).map(([name, bytes]) =>
    withPath(name.split('/').pop()!, `my-tiny-model/${name}`, bytes),
  );

  it('reads the files of a picked folder, offline, with progress', async () => {
    const src = folderSource(picked);
    expect(src.kind).toBe('folder');
    expect(src.label).toBe('folder my-tiny-model');
    expect(src.list()).toContain('onnx/vision encoder.onnx');
    const events: FileProgress[] = [];
    const w = await src.getFile('model.safetensors', (p) => events.push(p));
    expect(same(w, files['model.safetensors'])).toBe(true);
    expect(events[events.length - 1]).toMatchObject({ loaded: w.length, total: w.length, fromCache: true });
    expect(same(await src.getFile('onnx/vision encoder.onnx'), files['onnx/vision encoder.onnx'])).toBe(true);
    expect((await src.getJson<{ image_seq_len: number }>('processor_config.json')).image_seq_len).toBe(4);
    const all = await loadFiles(src, NAMES, undefined, { optional: ['generation_config.json', 'missing.json'] });
    expect(all['missing.json']).toBeNull();
    expect(same(all['config.json'], files['config.json'])).toBe(true);
  });

  it('finds the model root when a parent folder was picked', async () => {
    const nested = Object.entries(files).map(([name, bytes]) =>
      withPath(name.split('/').pop()!, `models/tiny/${name}`, bytes),
    );
    nested.push(withPath('notes.txt', 'models/notes.txt', new Uint8Array([65])));
    const src = folderSource(nested);
    expect(src.label).toBe('folder tiny');
    expect(await src.getText('config.json')).toBe(new TextDecoder().decode(files['config.json']));
  });

  it('works with plain Files (no relative path) and names the missing file', async () => {
    const src = folderSource([new File([files['config.json'] as Uint8Array<ArrayBuffer>], 'config.json')], { label: 'drop' });
    expect((await src.getJson<{ model_type: string }>('config.json')).model_type).toBe('idefics3');
    const err = await src.getFile('tokenizer.json').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.message).toBe('folder drop has no file tokenizer.json (it holds: config.json)');
  });
});

describe('urlPrefixSource', () => {
  it('loads a bundled model from a URL prefix', async () => {
    const src = urlPrefixSource(`${base}/models/tiny-smolvlm/`);
    hits.length = 0;
    const events: FileProgress[] = [];
    const w = await src.getFile('model.safetensors', (p) => events.push(p));
    expect(same(w, files['model.safetensors'])).toBe(true);
    expect(events[events.length - 1]).toMatchObject({ loaded: w.length, total: w.length });
    expect(hits).toEqual(['/models/tiny-smolvlm/model.safetensors']);
    expect((await src.getJson<{ model_type: string }>('config.json')).model_type).toBe('idefics3');
    expect(same(await src.getFile('onnx/vision encoder.onnx'), files['onnx/vision encoder.onnx'])).toBe(true);
  });

  it('names the missing file, also behind an index.html fallback', async () => {
    const src = urlPrefixSource(`${base}/models/tiny-smolvlm`);
    await expect(src.getFile('onnx/model.onnx')).rejects.toThrow(
      `bundled model at ${base}/models/tiny-smolvlm has no file onnx/model.onnx (HTTP 404 at ${base}/models/tiny-smolvlm/onnx/model.onnx)`,
    );
    const spa = urlPrefixSource(`${base}/spa/models/x`);
    const err = await spa.getFile('config.json').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.reason).toBe('missing');
    expect(err.message).toMatch(/has no file config\.json \(the server answered with an HTML page/);
  });

  it('shares one download between concurrent requests for the same file', async () => {
    const src = urlPrefixSource(`${base}/models/tiny-smolvlm/`);
    hits.length = 0;
    const [a, b] = await Promise.all([src.getFile('tokenizer.json'), src.getFile('tokenizer.json')]);
    expect(same(a, b)).toBe(true);
    expect(hits).toEqual(['/models/tiny-smolvlm/tokenizer.json']);
  });

  it('needs an absolute prefix outside a page', () => {
    expect(() => urlPrefixSource('/models/tiny-smolvlm')).toThrow(/relative prefix needs a page/);
  });
});

describe('memoSource', () => {
  it('reads each file once, a missing one included, and keeps the source\'s own messages', async () => {
    const memo = memoSource(urlPrefixSource(`${base}/models/tiny-smolvlm/`));
    expect(memo.kind).toBe('url');
    expect(memo.label).toBe(`bundled model at ${base}/models/tiny-smolvlm`);
    hits.length = 0;
    for (let i = 0; i < 2; i++) {
      expect(same(await memo.getFile('model.safetensors'), files['model.safetensors'])).toBe(true);
      expect((await memo.getJson<{ model_type: string }>('./config.json')).model_type).toBe('idefics3');
      expect(await memo.tryGetFile('onnx/model.onnx')).toBeNull();
    }
    expect(hits).toEqual(['/models/tiny-smolvlm/model.safetensors', '/models/tiny-smolvlm/config.json', '/models/tiny-smolvlm/onnx/model.onnx']);
    await expect(memo.getFile('onnx/model.onnx')).rejects.toThrow(
      `bundled model at ${base}/models/tiny-smolvlm has no file onnx/model.onnx (HTTP 404 at ${base}/models/tiny-smolvlm/onnx/model.onnx)`,
    );
    await expect(memo.getJson('model.safetensors')).rejects.toThrow(
      new RegExp(`^bundled model at ${base}/models/tiny-smolvlm: file model\\.safetensors is not valid JSON`),
    );
  });

  it('reads a file again after a failure', async () => {
    let calls = 0;
    const flaky = urlPrefixSource(`${base}/models/tiny-smolvlm/`, {
      fetch: (u) => (++calls === 1 ? Promise.reject(new Error('connection reset')) : fetch(u)),
    });
    const memo = memoSource(flaky);
    await expect(memo.getFile('config.json')).rejects.toThrow(/could not download config\.json .*network error \(connection reset\)/);
    expect(same(await memo.getFile('config.json'), files['config.json'])).toBe(true);
    expect(calls).toBe(2);
  });
});
