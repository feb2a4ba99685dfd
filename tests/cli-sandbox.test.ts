/** `npm run aspo -- sandbox render|judge|eval` in a child process, as a user runs them, against the library's own results. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_NODE_BACKEND, startNodeBackend } from '../scripts/lib/nodeBackend';
import { FIXTURE_MODELS, fixtureSource } from '../scripts/lib/nodeModelSource';
import type { MllmEngine } from '../src/models/engine';
import { loadOnnxEngine } from '../src/models/onnx/engine';
import { loadTfjsEngine } from '../src/models/tfjs/engine';
import { describeScene, DESCRIBE_PROMPT } from '../src/sandbox/captions';
import { descriptionMetrics, judgeDescription, popeMetrics } from '../src/sandbox/judge';
import { renderScene } from '../src/sandbox/render';
import { parseScene, type Scene } from '../src/sandbox/scene';
import { HELD_OUT_SET } from '../src/sandbox/splits';
import type { SandboxEvaluation } from '../src/state/sandbox/evaluate';
import { aspo } from './setup/aspoCli';

const SCENE = '{"background":"black","groups":[{"count":3,"colour":"yellow","shape":"triangle","side":"left"},{"count":1,"colour":"green","shape":"circle","side":"right"}]}';
const dir = mkdtempSync(join(tmpdir(), 'aspo-cli-sandbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run aspo -- sandbox render', () => {
  it('writes the PNG of renderScene for the scene and seed, and prints the scene and its description', async () => {
    const out = join(dir, 'pictures', 'scene.png');
    const r = await aspo(['sandbox', 'render', '--scene', SCENE, '--seed', '42', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const scene = parseScene(SCENE);
    expect(JSON.parse(r.stdout)).toEqual({ out, width: 64, height: 64, seed: 42, scene, description: describeScene(scene) });
    const png = await RawImage.read(out);
    expect([png.width, png.height, png.channels]).toEqual([64, 64, 3]);
    expect(Buffer.from(png.data).equals(Buffer.from(renderScene(scene, 42).data))).toBe(true);
  });

  it('draws seed 0 when no seed is given, and replaces a file only with --overwrite', async () => {
    const out = join(dir, 'mine.png');
    writeFileSync(out, 'my own picture');
    const refused = await aspo(['sandbox', 'render', '--scene', SCENE, '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`aspo: --out ${out} already exists; add --overwrite to replace it`);
    expect(readFileSync(out, 'utf8')).toBe('my own picture');
    const r = await aspo(['sandbox', 'render', '--scene', SCENE, '--out', out, '--overwrite']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).seed).toBe(0);
    expect(Buffer.from((await RawImage.read(out)).data).equals(Buffer.from(renderScene(parseScene(SCENE), 0).data))).toBe(true);
  });
});

describe('npm run aspo -- sandbox judge', () => {
  it('prints each sentence with its span and verdict, the facts stated and the figures', async () => {
    const text = 'There are three yellow triangles. The yellow triangles are on the right. There is one green square. There is a cat. Nice.';
    const r = await aspo(['sandbox', 'judge', '--scene', SCENE, '--text', text]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sentences.map((s: { start: number; end: number; verdict: string; kind?: string }) => [text.slice(s.start, s.end).trim(), s.verdict, s.kind ?? null])).toEqual([
      ['There are three yellow triangles.', 'correct', null],
      ['The yellow triangles are on the right.', 'hallucinated', 'side'],
      ['There is one green square.', 'hallucinated', 'shape'],
      ['There is a cat.', 'hallucinated', 'absent-object'],
      ['Nice.', 'unparsed', null],
    ]);
    expect(out.facts.filter((f: { stated: boolean }) => f.stated).map((f: { sentence: string }) => f.sentence)).toEqual(['There are three yellow triangles.']);
    expect(out.metrics).toMatchObject({ descriptions: 1, sentences: 5, claims: 4, chairS: 1, chairI: 3 / 4, recall: 1 / 5, unparsed: 1 / 5 });
    expect(out.metrics.kinds).toMatchObject({ side: 1, shape: 1, 'absent-object': 1, colour: 0 });
  });

  it('refuses a scene that is not one of the world, naming the field, with exit 2', async () => {
    const r = await aspo(['sandbox', 'judge', '--scene', SCENE.replace('"count":1', '"count":4'), '--text', 'There is a cat.']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('aspo: --scene: field "groups[1].count" must be one of 1, 2, 3, got 4');
    expect(r.stdout).toBe('');
  });
});

const MODEL = join(FIXTURE_MODELS, 'tiny-smolvlm');

/** Each scene's greedy description and answers, from the engine itself on the scene's picture. */
async function answersOf(engine: MllmEngine, perScene: SandboxEvaluation['perScene'], maxNewTokens: number) {
  const answers = [];
  for (const [i, s] of perScene.entries()) {
    const { scene, seed } = HELD_OUT_SET[i];
    const pixels = renderScene(scene, seed);
    const image = new RawImage(pixels.data, pixels.width, pixels.height, pixels.channels);
    const say = async (prompt: string) => (await engine.generate({ image, prompt, maxNewTokens, greedy: true })).text;
    const each = async (questions: { question: string }[]) => {
      const said = [];
      for (const q of questions) said.push(await say(q.question));
      return said;
    };
    answers.push({ description: await say(DESCRIBE_PROMPT), yesNo: await each(s.yesNo), howMany: await each(s.howMany) });
  }
  return answers;
}

function pairwiseAuroc(pos: number[], neg: number[]): number | null {
  if (pos.length === 0 || neg.length === 0) return null;
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

function separationOf(sentences: { verdict: string; simNorm: number; pplNorm: number; weight: number }[]) {
  const pos = sentences.filter((s) => s.verdict === 'correct');
  const neg = sentences.filter((s) => s.verdict === 'hallucinated');
  const area = (k: 'simNorm' | 'pplNorm' | 'weight') => pairwiseAuroc(pos.map((s) => s[k]), neg.map((s) => s[k]));
  return { correct: pos.length, hallucinated: neg.length, simNorm: area('simNorm'), pplNorm: area('pplNorm'), weight: area('weight') };
}

describe('npm run aspo -- sandbox eval', () => {
  it("prints the judge's figures of the model's own greedy answers and the AUROCs of its per-sentence numbers", async () => {
    const r = await aspo(['sandbox', 'eval', '--model', MODEL, '--scenes', '2', '--max-new-tokens', '6', '--seed', '3', '--alpha', '0.25', '--per-scene']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('aspo sandbox eval: 2 of 2 scenes');
    const out = JSON.parse(r.stdout) as SandboxEvaluation & Record<string, unknown>;
    expect(out).toMatchObject({ scenes: 2, seed: 3, maxNewTokens: 6, cutDescriptions: 2, model: MODEL, adapter: null, clip: join(FIXTURE_MODELS, 'sandbox-clip'), engine: { kind: 'tfjs' } });
    expect(out.settings.alpha).toBe(0.25);
    expect(out.perScene.map((s) => s.scene)).toEqual(HELD_OUT_SET.slice(0, 2).map((h) => h.scene));

    await startNodeBackend(DEFAULT_NODE_BACKEND);
    const engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { use: 'inference' });
    const own = await answersOf(engine, out.perScene, 6);
    engine.dispose();
    expect(out.perScene.map((s) => s.greedy.text)).toEqual(own.map((o) => o.description));
    expect(out.perScene.map((s) => s.yesNo.map((q) => q.answer))).toEqual(own.map((o) => o.yesNo));
    expect(out.perScene.map((s) => s.howMany.map((q) => q.answer))).toEqual(own.map((o) => o.howMany));

    // The random tiny model's descriptions are not the language: every sentence unparsed, as the judge says of them.
    const judged = out.perScene.map((s, i) => judgeDescription(HELD_OUT_SET[i].scene as Scene, s.greedy.text));
    expect(out.descriptions).toEqual(descriptionMetrics(judged));
    expect(out.descriptions.unparsed).toBe(1);
    expect(out.yesNo).toEqual(popeMetrics(out.perScene.flatMap((s) => s.yesNo)));

    const greedy = out.perScene.flatMap((s) => s.greedy.sentences);
    const corrupted = out.perScene.flatMap((s) => s.corrupted.sentences);
    expect(out.separation.greedy).toEqual(separationOf(greedy));
    expect(out.separation.greedy.weight).toBeNull();
    expect(out.separation.pooled).toEqual(separationOf([...greedy, ...corrupted]));
    expect(out.separation.pooled.hallucinated).toBe(2);
    for (const s of corrupted) expect(s.weight).toBeCloseTo(0.25 * s.simNorm + 0.75 * s.pplNorm, 12);
  });

  it('--engine onnx --dtype q8 evaluates the quantized ONNX files', async () => {
    const r = await aspo(['sandbox', 'eval', '--model', MODEL, '--engine', 'onnx', '--dtype', 'q8', '--scenes', '1', '--max-new-tokens', '4', '--per-scene']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as SandboxEvaluation & Record<string, unknown>;
    expect(out).toMatchObject({ scenes: 1, engine: { kind: 'onnx', dtype: 'q8' }, backend: { name: 'onnxruntime-node' } });
    const engine = await loadOnnxEngine(fixtureSource('tiny-smolvlm'), { device: 'cpu', dtype: 'q8' });
    const [own] = await answersOf(engine, out.perScene, 4);
    engine.dispose();
    expect(out.perScene[0].greedy.text).toBe(own.description);
    expect(out.perScene[0].yesNo.map((q) => q.answer)).toEqual(own.yesNo);
  });

  it('refuses bad options with exit 2, naming the option and what it must be', async () => {
    const cases: [string[], string][] = [
      [['--scenes', '2'], 'aspo: --model is required'],
      [['--model', MODEL, '--scenes', '0'], 'aspo: --scenes must be a decimal integer from 1 to 120, got "0"'],
      [['--model', MODEL, '--scenes', '121'], 'aspo: --scenes must be a decimal integer from 1 to 120, got "121"'],
      [['--model', MODEL, '--alpha', '1.5'], 'aspo: --alpha: alpha (α) must be in [0, 1], got 1.5'],
    ];
    for (const [args, message] of cases) {
      const r = await aspo(['sandbox', 'eval', ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe('');
    }
    const noClip = await aspo(['sandbox', 'eval', '--model', MODEL, '--clip', tmpdir()]);
    expect(noClip.code).toBe(1);
    expect(noClip.stderr).toContain(`aspo: ${tmpdir()} is not a model folder: it has no config.json`);
  });
});
