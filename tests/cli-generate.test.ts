/** `npm run aspo -- generate` in a child process, against the engines' own `generate` run here on the same model and image. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NODE_BACKEND, startNodeBackend } from '../scripts/lib/nodeBackend';
import { FIXTURE_MODELS, fixtureSource } from '../scripts/lib/nodeModelSource';
import type { GenerateRequest, MllmEngine } from '../src/models/engine';
import { loadOnnxEngine } from '../src/models/onnx/engine';
import { loadTfjsEngine } from '../src/models/tfjs/engine';
import { exportPeftAdapter } from '../src/train/peft';
import { renderScene } from '../src/sandbox/render';
import { HELD_OUT_SET } from '../src/sandbox/splits';
import { aspo } from './setup/aspoCli';

const MODEL = join(FIXTURE_MODELS, 'tiny-smolvlm');
const PROMPT = 'Describe the picture.';
const dir = mkdtempSync(join(tmpdir(), 'aspo-cli-generate-'));
const png = join(dir, 'scene.png');
const adapterDir = join(dir, 'adapter');
let image: RawImage;

interface Printed {
  text: string;
  tokens: { id: number; text: string }[];
  stop: string;
  backend: { name: string; threads?: number };
}

/** The engine's own generation, with the tokens its onToken reports. */
async function direct(engine: MllmEngine, request: Omit<GenerateRequest, 'image' | 'prompt'>) {
  const tokens: { id: number; text: string }[] = [];
  const result = await engine.generate({ image, prompt: PROMPT, ...request, onToken: (t) => tokens.push(t) });
  return { text: result.text, tokens, stop: result.stop, ids: result.ids };
}

async function generate(args: string[]): Promise<Printed> {
  const r = await aspo(['generate', '--model', MODEL, '--image', png, '--prompt', PROMPT, ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  const { scene, seed } = HELD_OUT_SET[0];
  const pixels = renderScene(scene, seed);
  image = new RawImage(pixels.data, pixels.width, pixels.height, pixels.channels);
  await image.save(png);
  await startNodeBackend(DEFAULT_NODE_BACKEND);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run aspo -- generate', () => {
  it('greedy by default: the TF.js engine’s text, every token with its text, and why it stopped', async () => {
    const printed = await generate(['--max-new-tokens', '6']);
    const engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { use: 'inference' });
    const want = await direct(engine, { maxNewTokens: 6, greedy: true });
    engine.dispose();
    expect(printed).toEqual({ text: want.text, tokens: want.tokens, stop: want.stop, backend: { name: 'wasm', threads: 1 } });
    expect(printed.tokens.map((t) => t.id)).toEqual(want.ids);
    expect(printed.tokens).toHaveLength(6);
    expect(printed.stop).toBe('length');
  });

  it('--sample draws with the temperature, top-p and seed given, the tokens the engine draws with them', async () => {
    const args = ['--max-new-tokens', '8', '--sample', '--temperature', '1.5', '--top-p', '0.9', '--seed', '11'];
    const a = await generate(args);
    const engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { use: 'inference' });
    const want = await direct(engine, { maxNewTokens: 8, greedy: false, temperature: 1.5, topP: 0.9, seed: 11 });
    const greedy = await direct(engine, { maxNewTokens: 8, greedy: true });
    engine.dispose();
    expect(a.tokens).toEqual(want.tokens);
    expect(a.tokens.map((t) => t.id)).not.toEqual(greedy.ids);
  });

  it('--engine onnx runs the ONNX files, to the ONNX engine’s tokens', async () => {
    const printed = await generate(['--engine', 'onnx', '--max-new-tokens', '5']);
    const engine = await loadOnnxEngine(fixtureSource('tiny-smolvlm'), { device: 'cpu' });
    const want = await direct(engine, { maxNewTokens: 5, greedy: true });
    engine.dispose();
    expect(printed).toEqual({ text: want.text, tokens: want.tokens, stop: want.stop, backend: { name: 'onnxruntime-node' } });
  });

  it('--adapter loads a PEFT adapter folder as train writes it: the tokens of the model with those adapters', async () => {
    const engine = await loadTfjsEngine(fixtureSource('tiny-smolvlm'), { use: 'inference', lora: { r: 4, alpha: 8 } });
    for (const name of engine.model.lora.names()) {
      const { B } = engine.model.lora.get(name)!;
      B.assign(tf.randomNormal(B.shape, 0, 0.5, 'float32', 7));
    }
    const files = await exportPeftAdapter(engine.model.lora, { baseModel: MODEL });
    mkdirSync(adapterDir);
    for (const [name, data] of Object.entries(files)) writeFileSync(join(adapterDir, name), data);
    const withAdapter = await direct(engine, { maxNewTokens: 6, greedy: true });
    const base = await direct(engine, { maxNewTokens: 6, greedy: true, adapters: false });
    engine.dispose();
    expect(withAdapter.ids).not.toEqual(base.ids);
    const printed = await generate(['--adapter', adapterDir, '--max-new-tokens', '6']);
    expect(printed.tokens).toEqual(withAdapter.tokens);
    expect(printed.text).toBe(withAdapter.text);
  });

  it('refuses bad input with a message naming the option or file', async () => {
    const notPng = join(dir, 'notes.png');
    writeFileSync(notPng, 'not a picture');
    const noConfig = join(dir, 'empty-model');
    mkdirSync(noConfig);
    const halfAdapter = join(dir, 'half-adapter');
    mkdirSync(halfAdapter);
    writeFileSync(join(halfAdapter, 'adapter_config.json'), '{}');
    const cases: [string[], number, string][] = [
      [['--prompt', PROMPT], 2, 'aspo: --model is required'],
      [['--model', MODEL, '--prompt', PROMPT, '--image', join(dir, 'missing.png')], 1, `aspo: --image: no such file ${join(dir, 'missing.png')}`],
      [['--model', MODEL, '--prompt', PROMPT, '--image', notPng], 1, `aspo: --image: ${notPng} is not an image that can be decoded`],
      [['--model', noConfig, '--prompt', PROMPT], 1, `aspo: ${noConfig} is not a model folder: it has no config.json`],
      [['--model', MODEL, '--prompt', PROMPT, '--adapter', halfAdapter], 1, `aspo: --adapter ${halfAdapter} has no adapter_model.safetensors`],
      [['--model', MODEL, '--prompt', PROMPT, '--adapter', halfAdapter, '--engine', 'onnx'], 2, 'aspo: --adapter loads LoRA weights into the TF.js engine'],
      [['--model', MODEL, '--prompt', PROMPT, '--temperature', '0.7'], 2, 'aspo: --temperature applies to sampling; add --sample'],
      [['--model', MODEL, '--prompt', PROMPT, '--max-new-tokens', '0'], 2, 'aspo: --max-new-tokens must be a decimal integer from 1 to 4096, got "0"'],
    ];
    for (const [args, code, message] of cases) {
      const r = await aspo(['generate', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe('');
    }
  });
});
