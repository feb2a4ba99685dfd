/** A model without a file that transformers.js needs, from each kind of source the tab offers. */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModelMirror, type ModelMirror } from '../../scripts/lib/modelMirror';
import { FIXTURE_MODELS, nodeFolderSource } from '../../scripts/lib/nodeModelSource';
import { hubSource, ModelFileError, urlPrefixSource } from './sources';
import { loadTfjsEngine } from './tfjs/engine';
import { loadTokenizer } from './transformersEnv';

const root = mkdtempSync(join(tmpdir(), 'aspo-missing-'));
let mirror: ModelMirror;

beforeAll(async () => {
  cpSync(join(FIXTURE_MODELS, 'tiny-smollm2'), join(root, 'no-tokenizer'), { recursive: true });
  rmSync(join(root, 'no-tokenizer', 'tokenizer.json'));
  mirror = await startModelMirror(root);
});
afterAll(async () => {
  await mirror.close();
  rmSync(root, { recursive: true, force: true });
});

async function failure(load: Promise<unknown>): Promise<ModelFileError> {
  const err = await load.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelFileError);
  const e = err as ModelFileError;
  expect(e.reason).toBe('missing');
  expect(e.file).toBe('tokenizer.json');
  expect(e.message).not.toContain('aspo-workbench.invalid');
  return e;
}

describe('a missing tokenizer.json', () => {
  it('in a picked folder: names the folder, what it holds and the fix', async () => {
    const e = await failure(loadTfjsEngine(nodeFolderSource(join(root, 'no-tokenizer'))));
    expect(e.message).toBe(
      'folder no-tokenizer has no file tokenizer.json (it holds: README.md, config.json, generation_config.json, model.safetensors, ' +
        'special_tokens_map.json, tokenizer_config.json). transformers.js needs it to load this model: copy tokenizer.json into the ' +
        "folder from the model's original repository, or pick the folder that holds it.",
    );
  });

  it('on the Hub: names the repository and the URL asked for, and the fix', async () => {
    const e = await failure(loadTokenizer(hubSource('someone/no-tokenizer', { endpoint: mirror.url, cache: null })));
    expect(e.message).toBe(
      `model someone/no-tokenizer has no file tokenizer.json (HTTP 404 at ${mirror.url}/someone/no-tokenizer/resolve/main/tokenizer.json). ` +
        'transformers.js needs it to load this model: choose a repository that ships tokenizer.json (a transformers.js-ready copy of the model has it).',
    );
  });

  it('bundled with the app: names the model and the command that writes it', async () => {
    const e = await failure(loadTokenizer(urlPrefixSource(`${mirror.url}/models/no-tokenizer`)));
    expect(e.message).toBe(
      `bundled model at ${mirror.url}/models/no-tokenizer has no file tokenizer.json (HTTP 404 at ${mirror.url}/models/no-tokenizer/tokenizer.json). ` +
        'transformers.js needs it to load this model: the bundled model is incomplete: write it again with `npm run models`.',
    );
  });
});
