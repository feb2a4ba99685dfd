import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { DEFAULT_NODE_BACKEND, startNodeBackend } from '../scripts/lib/nodeBackend';
import { FIXTURE_MODELS, fixtureSource } from '../scripts/lib/nodeModelSource';
import { loadTfjsEngine } from '../src/models/tfjs/engine';
import { aspo } from './setup/aspoCli';

describe('npm run aspo -- logprobs', () => {
  it('prints the same ids, offsets and log-probs as the engine, for an image prompt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aspo-cli-'));
    const png = join(dir, 'square.png');
    const pixels = new Uint8ClampedArray(16 * 16 * 3).map((_, i) => (i % 3 === 0 ? 200 : 40));
    await new RawImage(pixels, 16, 16, 3).save(png);
    const model = join(FIXTURE_MODELS, 'tiny-smolvlm');
    const { code, stdout } = await aspo(['logprobs', '--model', model, '--image', png, '--prompt', 'Colour?', '--response', 'Red. Quite red.']);
    expect(code).toBe(0);
    const printed = JSON.parse(stdout);
    expect(Object.keys(printed).sort()).toEqual(['backend', 'inputIds', 'responseStart', 'tokens', 'total']);
    expect(printed.backend).toEqual({ name: 'wasm', threads: 1 });

    await startNodeBackend(DEFAULT_NODE_BACKEND);
    const engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'));
    const [direct] = await engine.logprobs({ prompt: 'Colour?', responses: ['Red. Quite red.'], image: await RawImage.read(png) });
    engine.dispose();
    expect(printed.inputIds).toEqual(direct.inputIds);
    expect(printed.responseStart).toBe(direct.responseStart);
    expect(printed.tokens.map((t: { start: number; end: number }) => [t.start, t.end])).toEqual(direct.tokens.map((t) => [t.start, t.end]));
    printed.tokens.forEach((t: { logp: number }, k: number) => expect(t.logp).toBeCloseTo(direct.tokens[k].logp, 6));
    expect(printed.total).toBeCloseTo(direct.total, 5);
  });

  it('a response longer than the model window is scored up to it, and stderr says how many tokens were cut', async () => {
    const model = join(FIXTURE_MODELS, 'tiny-smollm2');
    const long = Array.from({ length: 2_000 }, (_, i) => `The bus ${i} is red.`).join(' ');
    const { code, stdout, stderr } = await aspo(['logprobs', '--model', model, '--prompt', 'Colour?', '--response', 'Red.', '--response', long]);
    expect(code).toBe(0);
    const [short, cut] = JSON.parse(stdout) as { responseStart: number; tokens: unknown[] }[];
    expect(cut.responseStart + cut.tokens.length).toBe(512);
    expect(short.tokens.length).toBeLessThan(10);
    expect(stderr).toMatch(
      new RegExp(
        `aspo logprobs: --response 2: only the first ${cut.tokens.length} of its \\d+ tokens were scored, \\d+ cut \\(the model's window \\(max_position_embeddings in config.json\\) is 512 tokens and the prompt takes ${cut.responseStart}\\)`,
      ),
    );
    expect(stderr).not.toContain('--response 1');
  });

  it('a missing option exits 2 with the usage; a folder without config.json exits 1 naming it', async () => {
    const missing = await aspo(['logprobs', '--model', join(FIXTURE_MODELS, 'tiny-smollm2'), '--prompt', 'x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--response is required');
    expect(missing.stderr).toContain('usage:');
    const notAModel = await aspo(['logprobs', '--model', tmpdir(), '--prompt', 'x', '--response', 'y']);
    expect(notAModel.code).toBe(1);
    expect(notAModel.stderr).toContain(`${tmpdir()} is not a model folder: it has no config.json`);
  });
});
