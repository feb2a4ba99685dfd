/**
 * The bad-input corpus for the command line (issue 9, item 10). Each row runs `scripts/aspo.ts` in a child
 * process, as a user would, in a folder of its own, and checks: the exit code; that stderr names the file, line or
 * field (and no stack trace or internal URL leaks); that every file the user had is unchanged and nothing is
 * created outside `creates`; and that the command ends within its bound (it is killed after `boundS`).
 *
 * Add rows to the array of your topic; each array is one item of the issue.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS } from '../../scripts/lib/nodeModelSource';
import { parseSafetensors, serializeSafetensors, type SafetensorsTensor } from '../../src/models/safetensors';
import { ONE_PER_SCRIPT } from '../fixtures/sentenceScripts';
import { changes, copyModel, cut, earlierRun, snapshot, write, writePng } from './fixtures';

const ROOT = resolve(import.meta.dirname, '..', '..');
// The case's folder is the working directory, so tsx is named by its path.
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const SMOLLM2 = join(FIXTURE_MODELS, 'tiny-smollm2');
const SMOLVLM = join(FIXTURE_MODELS, 'tiny-smolvlm');
const CLIP = join(FIXTURE_MODELS, 'tiny-clip');

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

interface CliCase {
  name: string;
  /** What the user has in the case's folder before the command runs. */
  setup?: (dir: string) => void | Promise<void>;
  /** The command line after `npm run aspo --`, given the case's folder. */
  args: (dir: string) => string[];
  exit: number;
  /** Each must match stderr: the message names the file, line or field, and the fix where there is one. */
  stderr?: RegExp[];
  /** Paths (relative to the case's folder) the command may create; nothing else may appear or change. */
  creates?: string[];
  check?: (result: CliResult, dir: string) => void;
  /** Seconds before the command is killed and the row fails as a hang (default 30). */
  boundS?: number;
}

/** `train` with a good command line into a new --out, then `extra` (a later option wins). */
const trainWith = (extra: string[]) => (d: string) => [
  'train', '--model', SMOLLM2, '--pairs', join(d, 'pairs.jsonl'), '--objective', 'dpo', '--steps', '1', '--seed', '1', '--out', join(d, 'run'), ...extra,
];
const GOOD_PAIR = '{"prompt": "Hi.", "chosen": "Hello there. Nice day.", "rejected": "Go away."}';
const withPairs = (d: string) => void write(join(d, 'pairs.jsonl'), `${GOOD_PAIR}\n`);

const usageCases: CliCase[] = [
  { name: 'an unknown command', args: () => ['frobnicate'], exit: 2, stderr: [/unknown command "frobnicate"/, /usage: npm run aspo -- <command>/] },
  { name: 'a command name inherited from Object', args: () => ['constructor'], exit: 2, stderr: [/unknown command "constructor"/, /usage: npm run aspo -- <command>/] },
  { name: 'no command', args: () => [], exit: 2, stderr: [/no command given/, /usage:/] },
  { name: 'logprobs without --response', args: () => ['logprobs', '--model', SMOLLM2, '--prompt', 'x'], exit: 2, stderr: [/--response is required/] },
  { name: 'an unknown option', args: () => ['logprobs', '--model', SMOLLM2, '--prompt', 'x', '--response', 'y', '--bogus'], exit: 2, stderr: [/Unknown option '--bogus'/] },
  { name: 'an unknown engine', args: () => ['logprobs', '--model', SMOLLM2, '--prompt', 'x', '--response', 'y', '--engine', 'gguf'], exit: 2, stderr: [/--engine must be tfjs or onnx, got "gguf"/] },
  { name: 'an unknown backend', args: () => ['logprobs', '--model', SMOLLM2, '--prompt', 'x', '--response', 'y', '--backend', 'webgl'], exit: 2, stderr: [/--backend must be one of wasm, cpu, webgpu, got "webgl"/] },
  { name: 'train on an unknown backend', setup: withPairs, args: trainWith(['--backend', 'gpu']), exit: 2, stderr: [/--backend must be one of wasm, cpu, webgpu, got "gpu"/] },
  {
    name: '--backend with --engine onnx',
    args: () => ['logprobs', '--model', SMOLLM2, '--prompt', 'x', '--response', 'y', '--engine', 'onnx', '--backend', 'wasm'],
    exit: 2,
    stderr: [/--backend chooses TF\.js' backend, and --engine onnx runs on ONNX Runtime \(onnxruntime-node, on the CPU\) instead; leave out --backend/],
  },
  {
    name: 'similarity with --backend',
    setup: (d) => writePng(join(d, 'a.png')).then(() => undefined),
    args: (d) => ['similarity', '--clip', CLIP, '--image', join(d, 'a.png'), '--text', 'Hi.', '--backend', 'cpu'],
    exit: 2,
    stderr: [/--backend chooses TF\.js' backend, and similarity \(CLIP\) runs on ONNX Runtime/],
  },
  {
    name: 'an unknown ONNX dtype',
    setup: (d) => writePng(join(d, 'a.png')).then(() => undefined),
    args: (d) => ['similarity', '--clip', CLIP, '--image', join(d, 'a.png'), '--text', 'Hi.', '--dtype', 'q3'],
    exit: 2,
    stderr: [/--dtype must be one of fp32, .*, got "q3"/],
  },
  { name: 'train without --objective', setup: withPairs, args: (d) => trainWith([])(d).filter((a, i, all) => a !== '--objective' && all[i - 1] !== '--objective'), exit: 2, stderr: [/--objective is required/] },
  { name: 'an unknown objective', setup: withPairs, args: trainWith(['--objective', 'ppo']), exit: 2, stderr: [/--objective must be one of dpo, aspo, got "ppo"/] },
  { name: 'an unknown normalisation', setup: withPairs, args: trainWith(['--normalization', 'weird']), exit: 2, stderr: [/--normalization must be one of mean, reward-ratio, none, got "weird"/] },
  { name: 'an unknown granularity', setup: withPairs, args: trainWith(['--granularity', 'word']), exit: 2, stderr: [/--granularity must be one of sentence, response, token, got "word"/] },
];

const numberCases: CliCase[] = [
  { name: '--steps that is not a number', setup: withPairs, args: trainWith(['--steps', 'abc']), exit: 2, stderr: [/--steps must be .*, got "abc"/] },
  { name: '--lr that is not a number', setup: withPairs, args: trainWith(['--lr', 'abc']), exit: 2, stderr: [/--lr must be .*, got "abc"/] },
  { name: '--alpha out of [0, 1]', setup: withPairs, args: trainWith(['--alpha', '2']), exit: 2, stderr: [/alpha \(α\) must be in \[0, 1\], got 2/] },
  { name: '--beta of 0', setup: withPairs, args: trainWith(['--beta', '0']), exit: 2, stderr: [/beta \(β\) must be a positive number, got 0/] },
];

const modelFolderCases: CliCase[] = [
  { name: 'a model folder that does not exist', args: (d) => ['logprobs', '--model', join(d, 'nope'), '--prompt', 'x', '--response', 'y'], exit: 1, stderr: [/\/nope is not a model folder: it has no config\.json/] },
  {
    name: 'a config.json that is not JSON',
    setup: (d) => void copyModel(d, 'tiny-smollm2', 'm', (m) => writeFileSync(join(m, 'config.json'), '{"model_type": "llama", ')),
    args: (d) => ['logprobs', '--model', join(d, 'm'), '--prompt', 'x', '--response', 'y'],
    exit: 1,
    stderr: [/folder m: file config\.json is not valid JSON/],
  },
  {
    // transformers.js reads the tokenizer: it said only "Unexpected end of JSON input".
    name: 'a tokenizer.json cut off',
    setup: (d) => void copyModel(d, 'tiny-smolvlm', 'm', (m) => writeFileSync(join(m, 'tokenizer.json'), '{\n  "version": "1.0",\n  "truncation": null,\n  "padding": nu')),
    args: (d) => ['logprobs', '--model', join(d, 'm'), '--prompt', 'x', '--response', 'y', '--engine', 'onnx'],
    exit: 1,
    stderr: [/^aspo: folder m: file tokenizer\.json is not valid JSON \(line 4, column 16: the file ends before its JSON does, as a cut-off download would\); replace tokenizer\.json with the original from the model's repository$/m],
  },
  {
    name: "a CLIP's tokenizer_config.json in Latin-1 (it was read as U+FFFD)",
    setup: async (d) => {
      copyModel(d, 'tiny-clip', 'clip', (m) => {
        const file = join(m, 'tokenizer_config.json');
        const latin1 = readFileSync(file, 'utf8').replace('{\n', '{\n  "_comment": "Caf\u00e9",\n');
        writeFileSync(file, Uint8Array.from(latin1, (c) => c.charCodeAt(0)));
      });
      await writePng(join(d, 'a.png'));
    },
    args: (d) => ['similarity', '--clip', join(d, 'clip'), '--image', join(d, 'a.png'), '--text', 'Hi.'],
    exit: 1,
    stderr: [/folder clip: file tokenizer_config\.json is not valid JSON: line 2 is not valid UTF-8 \(byte 0xe9 at offset 20\); save the file as UTF-8/],
  },
  {
    name: 'an unsupported model_type',
    setup: (d) => void copyModel(d, 'tiny-smollm2', 'm', (m) => writeFileSync(join(m, 'config.json'), '{"model_type": "qwen2"}')),
    args: (d) => ['logprobs', '--model', join(d, 'm'), '--prompt', 'x', '--response', 'y'],
    exit: 1,
    stderr: [/config\.json: unsupported model_type "qwen2" \(supported: idefics3, smolvlm, llama\)/],
  },
  {
    name: 'a model folder without model.safetensors',
    setup: (d) => void copyModel(d, 'tiny-smollm2', 'm', (m) => unlinkSync(join(m, 'model.safetensors'))),
    args: (d) => ['logprobs', '--model', join(d, 'm'), '--prompt', 'x', '--response', 'y'],
    exit: 1,
    stderr: [/folder m has no file model\.safetensors \(it holds: .*config\.json/],
  },
  {
    name: 'a truncated model.safetensors',
    setup: (d) => void copyModel(d, 'tiny-smollm2', 'm', (m) => cut(join(m, 'model.safetensors'), 1000)),
    args: (d) => ['logprobs', '--model', join(d, 'm'), '--prompt', 'x', '--response', 'y'],
    exit: 1,
    stderr: [/"folder m\/model\.safetensors".*past the end of the file \(1000 bytes\)/],
  },
  {
    name: 'truncated ONNX files of the MLLM',
    setup: (d) => void copyModel(d, 'tiny-smolvlm', 'm', (m) => cut(join(m, 'onnx', 'vision_encoder.onnx'), 3000)),
    args: (d) => ['logprobs', '--model', join(d, 'm'), '--prompt', 'x', '--response', 'y', '--engine', 'onnx'],
    exit: 1,
    stderr: [/folder m: onnx\/vision_encoder\.onnx is not a usable ONNX model \(the file is truncated .*\); download it again or rebuild the folder/],
  },
  {
    name: 'a truncated CLIP text tower',
    setup: async (d) => {
      copyModel(d, 'tiny-clip', 'clip', (m) => cut(join(m, 'onnx', 'text_model.onnx'), 5000));
      await writePng(join(d, 'a.png'));
    },
    args: (d) => ['similarity', '--clip', join(d, 'clip'), '--image', join(d, 'a.png'), '--text', 'Hi.'],
    exit: 1,
    stderr: [/folder clip: onnx\/text_model\.onnx is not a usable ONNX model \(the file is truncated/],
  },
  {
    name: 'a CLIP folder without its vision tower',
    setup: async (d) => {
      copyModel(d, 'tiny-clip', 'clip', (m) => unlinkSync(join(m, 'onnx', 'vision_model.onnx')));
      await writePng(join(d, 'a.png'));
    },
    args: (d) => ['similarity', '--clip', join(d, 'clip'), '--image', join(d, 'a.png'), '--text', 'Hi.'],
    exit: 1,
    stderr: [/folder clip has no file onnx\/vision_model\.onnx/],
  },
  {
    name: 'an MLLM given as the CLIP',
    setup: (d) => writePng(join(d, 'a.png')).then(() => undefined),
    args: (d) => ['similarity', '--clip', SMOLVLM, '--image', join(d, 'a.png'), '--text', 'Hi.'],
    exit: 1,
    stderr: [/model type "idefics3" is not a CLIP model/],
  },
  {
    name: 'train on a broken model folder',
    setup: (d) => {
      withPairs(d);
      copyModel(d, 'tiny-smollm2', 'm', (m) => unlinkSync(join(m, 'model.safetensors')));
    },
    args: (d) => trainWith(['--model', join(d, 'm')])(d),
    exit: 1,
    stderr: [/folder m has no file model\.safetensors/],
  },
];

const pairsFileCases: CliCase[] = [
  {
    name: 'a pairs file with no valid line',
    setup: (d) => void write(join(d, 'pairs.jsonl'), '{"prompt": "p", "chosen": "c"\n[1, 2]\n'),
    args: trainWith([]),
    exit: 1,
    stderr: [/skipped line 1: .*pairs\.jsonl:1: not valid JSON/, /skipped line 2: .*pairs\.jsonl:2: expected a JSON object .*got an array/, /pairs\.jsonl holds no valid pair/],
  },
  { name: 'a pairs file that does not exist', args: trainWith([]), exit: 1, stderr: [/pairs\.jsonl/, /no such file/] },
  {
    name: 'malformed lines among good ones are skipped by number and field',
    setup: (d) =>
      void write(
        join(d, 'pairs.jsonl'),
        [GOOD_PAIR, '{"prompt": "p", "chosen": "c"', '{"prompt": "p", "chosen": "c"}', '{"prompt": "p", "chosen": 3, "rejected": "r"}', '', GOOD_PAIR].join('\n'),
      ),
    args: (d) => ['train', '--model', SMOLLM2, '--pairs', join(d, 'pairs.jsonl'), '--objective', 'dpo', '--steps', '1', '--rank', '2', '--out', join(d, 'new')],
    exit: 0,
    stderr: [/skipped line 2: .*:2: not valid JSON/, /skipped line 3: .*:3: field "rejected" is missing/, /skipped line 4: .*:4: field "chosen" must be a string, got a number/],
    creates: ['new'],
    check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ pairs: 2, skippedLines: [2, 3, 4], steps: 1 }),
    boundS: 60,
  },
];

/** Item 9: a text in each script splits into its sentences (so ASPO is not DPO on it). */
const splitScriptCases: CliCase[] = ONE_PER_SCRIPT.map((c) => ({
  name: `sentences in ${c.script}`,
  setup: (d) => writePng(join(d, 'a.png')).then(() => undefined),
  args: (d) => ['similarity', '--clip', CLIP, '--image', join(d, 'a.png'), '--text', c.input],
  exit: 0,
  check: (r) => expect((JSON.parse(r.stdout) as { sentences: { text: string }[] }).sentences.map((s) => s.text)).toEqual(c.expected),
}));

const longPair = (sentences: number) =>
  JSON.stringify({ prompt: 'Colour?', chosen: Array.from({ length: sentences }, (_, i) => `The bus ${i} is red.`).join(' '), rejected: 'It is blue.' });

/** Item 3 (h3): long input is cut to the model's window before any per-token work, and the cut is said. */
const boundedWorkCases: CliCase[] = [
  {
    name: 'train on a 10,000-sentence response (it hung with no output)',
    setup: (d) => void write(join(d, 'pairs.jsonl'), `${longPair(10_000)}\n`),
    args: (d) => [
      'train', '--model', SMOLLM2, '--pairs', join(d, 'pairs.jsonl'), '--objective', 'dpo', '--steps', '1', '--rank', '2', '--max-seq-len', '64', '--out', join(d, 'new'),
    ],
    exit: 0,
    stderr: [
      /pairs\.jsonl:1: chosen response truncated from \d{6} to \d+ tokens \(maxSeqLen is 64 tokens and the prompt takes \d+\)/,
      /pairs\.jsonl:1: \d+ of 10000 chosen sentences cut off entirely by the truncation/,
    ],
    creates: ['new'],
    check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ pairs: 1, steps: 1 }),
    boundS: 90,
  },
  {
    name: "a sentence longer than CLIP's text window",
    setup: (d) => writePng(join(d, 'a.png')).then(() => undefined),
    args: (d) => ['similarity', '--clip', CLIP, '--image', join(d, 'a.png'), '--text', `${'A very long sentence with many words '.repeat(40)}end. Short one.`],
    exit: 0,
    stderr: [/--text: sentence 1 is longer than CLIP's text window of 16 tokens; only the beginning was compared with the image/],
    check: (r) => expect((JSON.parse(r.stdout) as { sentences: { truncated: boolean }[] }).sentences.map((s) => s.truncated)).toEqual([true, false]),
  },
];
/** Item 5 (h5): an earlier run is never overwritten or emptied by a run that does not start. */
const runFolderCases: CliCase[] = [
  { name: 'train into an earlier run without --overwrite', setup: (d) => void (withPairs(d), earlierRun(d)), args: trainWith([]), exit: 1, stderr: [/--out .*run already holds files \(.*metrics\.jsonl\); .*add --overwrite/] },
  {
    name: 'train --overwrite into an earlier run, failing while preparing',
    setup: (d) => void (withPairs(d), earlierRun(d)),
    args: trainWith(['--objective', 'aspo', '--overwrite']),
    exit: 1,
    stderr: [/pairs\.jsonl:1: the pair has no similarity\.chosen/, /--alpha 0/],
  },
  { name: '--out that is a file', setup: (d) => void (withPairs(d), write(join(d, 'run'), 'my notes\n')), args: trainWith([]), exit: 1, stderr: [/--out .*run is a file; give a folder/] },
  { name: '--resume of a folder that is no run', setup: (d) => void mkdirSync(join(d, 'data')), args: (d) => ['train', '--resume', join(d, 'data')], exit: 1, stderr: [/--resume .*data: the folder has no run\.json/] },
];
/** Item 6, log-probs (h6): a model whose weights are NaN. */
const nanWeights = (m: string) => {
  const path = join(m, 'model.safetensors');
  const { metadata, tensors } = parseSafetensors(readFileSync(path), path);
  const all: Record<string, SafetensorsTensor> = Object.fromEntries(tensors);
  const norm = all['model.norm.weight'];
  all['model.norm.weight'] = { ...norm, data: new Float32Array(norm.data.length).fill(NaN) };
  writeFileSync(path, serializeSafetensors(all, metadata));
};
const nonFiniteCases: CliCase[] = [
  {
    name: 'logprobs of a model with NaN weights',
    setup: (d) => void copyModel(d, 'tiny-smollm2', 'nan', nanWeights),
    args: (d) => ['logprobs', '--model', join(d, 'nan'), '--prompt', 'Hi.', '--response', 'Hello there.'],
    exit: 1,
    stderr: [/folder nan gives a non-finite log-prob \(NaN\) for token 0 /, /Load the model again from its original files/],
    check: (r) => expect(r.stdout).toBe(''),
  },
  {
    name: 'train with --lr 1e30 (step 2 crashed on NaN)',
    setup: withPairs,
    args: trainWith(['--steps', '3', '--rank', '2', '--lr', '1e30']),
    exit: 0,
    // Said on stderr as each step is skipped, not only in metrics.jsonl and the summary afterwards.
    stderr: [/aspo train: step 2 of 3 skipped: the policy log-prob .*pairs\.jsonl:1 is NaN .*update not applied\n/, /aspo train: step 3 of 3 skipped: /],
    creates: ['run'],
    check: (r, d) => {
      expect(JSON.parse(r.stdout)).toMatchObject({ steps: 3, skippedSteps: 2 });
      const metrics = readFileSync(join(d, 'run', 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { skipped?: string });
      expect(metrics.map((m) => m.skipped ?? '')).toEqual(['', expect.stringMatching(/pairs\.jsonl:1 is NaN .*update not applied/), expect.stringMatching(/is NaN/)]);
    },
  },
];
/** The fixture's model.safetensors with its header length `short` bytes less: it stops inside the header's space padding. */
const shortHeader = (short: number) => (m: string) => {
  const path = join(m, 'model.safetensors');
  const bytes = readFileSync(path);
  bytes.writeBigUInt64LE(bytes.readBigUInt64LE(0) - BigInt(short), 0);
  writeFileSync(path, bytes);
};
/** Item 7 (h6): a model file the reference safetensors reader refuses, a pairs file not in UTF-8, integers not decimal. */
const parserStrictnessCases: CliCase[] = [
  {
    name: 'a model.safetensors with bytes appended',
    setup: (d) => void copyModel(d, 'tiny-smollm2', 'm', (m) => appendFileSync(join(m, 'model.safetensors'), 'trailing')),
    args: (d) => ['logprobs', '--model', join(d, 'm'), '--prompt', 'x', '--response', 'y'],
    exit: 1,
    stderr: [/"folder m\/model\.safetensors": the tensors cover \d+ bytes but the data buffer holds \d+: the last 8 bytes of the file belong to no tensor/],
  },
  {
    name: 'a model.safetensors whose header length stops inside its padding',
    setup: (d) => void copyModel(d, 'tiny-smollm2', 'm', shortHeader(4)),
    args: (d) => ['logprobs', '--model', join(d, 'm'), '--prompt', 'x', '--response', 'y'],
    exit: 1,
    stderr: [/"folder m\/model\.safetensors": header length \d+ stops 4 bytes short of the header's padding/],
  },
  {
    name: 'a pairs file in Latin-1',
    setup: (d) => void write(join(d, 'pairs.jsonl'), Uint8Array.from(`${GOOD_PAIR}\n{"prompt": "Caf\u00e9?", "chosen": "Oui.", "rejected": "Non."}\n`, (c) => c.charCodeAt(0))),
    args: trainWith([]),
    exit: 1,
    stderr: [/pairs\.jsonl: line 2 is not valid UTF-8 \(byte 0xe9 at offset \d+\); save the file as UTF-8/],
  },
  { name: 'a hexadecimal --steps', setup: withPairs, args: trainWith(['--steps', '0x10']), exit: 2, stderr: [/--steps must be a decimal integer ≥ 1, got "0x10"/] },
  { name: 'a --seed of 2^32', setup: withPairs, args: trainWith(['--seed', '4294967296']), exit: 2, stderr: [/--seed must be a decimal integer from 0 to 4294967295, got "4294967296"/] },
  { name: 'a fractional --rank', setup: withPairs, args: trainWith(['--rank', '2.5']), exit: 2, stderr: [/--rank must be a decimal integer ≥ 1, got "2.5"/] },
];
const messageCases: CliCase[] = [
  // Item 8, model folders (h6): transformers.js' own message would name an internal URL.
  {
    name: 'a model folder without tokenizer.json',
    setup: (d) => void copyModel(d, 'tiny-smolvlm', 'm', (m) => unlinkSync(join(m, 'tokenizer.json'))),
    args: (d) => ['logprobs', '--model', join(d, 'm'), '--prompt', 'x', '--response', 'y'],
    exit: 1,
    stderr: [/folder m has no file tokenizer\.json \(it holds: .*config\.json/, /copy tokenizer\.json into the folder from the model's original repository/],
  },
  // Item 8, pairs files (h5).
  {
    name: '--pairs that is a folder',
    setup: (d) => void write(join(d, 'data', 'train.jsonl'), `${GOOD_PAIR}\n`),
    args: (d) => [...trainWith([])(d), '--pairs', join(d, 'data')],
    exit: 1,
    stderr: [/--pairs .*data is a folder; give a JSONL file/],
  },
  {
    name: 'lines whose image is missing or not an image are skipped by file and line',
    setup: async (d) => {
      await writePng(join(d, 'good.png'));
      write(join(d, 'notes.png'), 'my notes, not a picture\n');
      const line = (image: string) => JSON.stringify({ prompt: 'Describe the image.', chosen: 'A red square. On blue.', rejected: 'A cat.', image });
      write(join(d, 'pairs.jsonl'), [line('missing.png'), line('notes.png'), line('good.png')].join('\n'));
    },
    args: (d) => ['train', '--model', SMOLVLM, '--pairs', join(d, 'pairs.jsonl'), '--objective', 'dpo', '--steps', '1', '--rank', '2', '--out', join(d, 'new')],
    exit: 0,
    stderr: [/pairs\.jsonl:1 left out: image "missing\.png" did not load: no such file/, /pairs\.jsonl:2 left out: image "notes\.png" did not load: .*notes\.png is not an image/],
    creates: ['new'],
    check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ pairs: 1, steps: 1 }),
    boundS: 60,
  },
];

/** Issue 12: scenes and files for `sandbox render` and `sandbox judge`, refused before anything is drawn or written. */
const SANDBOX_SCENE = '{"background":"white","groups":[{"count":2,"colour":"red","shape":"circle","side":"left"},{"count":1,"colour":"blue","shape":"square","side":"right"}]}';
const renderTo = (out: string, extra: string[] = []) => ['sandbox', 'render', '--scene', SANDBOX_SCENE, '--out', out, ...extra];
const sandboxCases: CliCase[] = [
  { name: 'sandbox render with a --scene cut off', args: (d) => ['sandbox', 'render', '--scene', '{"background": "white",', '--out', join(d, 'a.png')], exit: 2, stderr: [/aspo: --scene: the scene is not valid JSON \(line 1, column 24: expected /] },
  {
    name: 'sandbox judge with "color" for "colour"',
    args: () => ['sandbox', 'judge', '--scene', '{"background":"white","groups":[{"count":1,"color":"red","shape":"circle","side":"center"}]}', '--text', 'There is a dog.'],
    exit: 2,
    stderr: [/--scene: unknown field "groups\[0\]\.color" \(the world spells it "colour"\)/],
  },
  { name: 'sandbox judge with both groups on the left', args: () => ['sandbox', 'judge', '--scene', SANDBOX_SCENE.replace('"right"', '"left"'), '--text', 'Hi.'], exit: 2, stderr: [/--scene: fields "groups\[0\]\.side" and "groups\[1\]\.side" are both "left"/] },
  { name: 'sandbox judge without --text', args: () => ['sandbox', 'judge', '--scene', SANDBOX_SCENE], exit: 2, stderr: [/--text is required/] },
  { name: 'sandbox render to a .jpg', args: (d) => renderTo(join(d, 'a.jpg')), exit: 2, stderr: [/--out must name a \.png file, got ".*a\.jpg"/] },
  { name: 'sandbox render to a folder', setup: (d) => void mkdirSync(join(d, 'pics.png')), args: (d) => renderTo(join(d, 'pics.png')), exit: 2, stderr: [/--out .*pics\.png is a folder; give a \.png file/] },
  { name: 'sandbox render over a picture of the user', setup: (d) => void write(join(d, 'a.png'), 'my picture'), args: (d) => renderTo(join(d, 'a.png')), exit: 2, stderr: [/--out .*a\.png already exists; add --overwrite/] },
  { name: 'sandbox render with a --seed of 2^32', args: (d) => renderTo(join(d, 'a.png'), ['--seed', '4294967296']), exit: 2, stderr: [/--seed must be a decimal integer from 0 to 4294967295, got "4294967296"/] },
  { name: 'sandbox render with --backend', args: (d) => renderTo(join(d, 'a.png'), ['--backend', 'wasm']), exit: 2, stderr: [/--backend chooses TF\.js' backend, and sandbox render runs no TF\.js; leave out --backend/] },
  { name: 'an unknown sandbox subcommand', args: () => ['sandbox', 'draw'], exit: 2, stderr: [/unknown sandbox subcommand "draw" \(known: render, judge, eval\)/] },
  {
    name: 'sandbox render into a folder that does not exist yet',
    args: (d) => renderTo(join(d, 'new', 'a.png'), ['--seed', '5']),
    exit: 0,
    creates: ['new'],
    check: (r, d) => expect(JSON.parse(r.stdout)).toMatchObject({ out: join(d, 'new', 'a.png'), seed: 5, width: 64 }),
  },
];

const CLI_CASES: Record<string, CliCase[]> = {
  usageCases,
  numberCases,
  modelFolderCases,
  pairsFileCases,
  splitScriptCases,
  boundedWorkCases,
  runFolderCases,
  nonFiniteCases,
  parserStrictnessCases,
  messageCases,
  sandboxCases,
};

function aspo(args: string[], cwd: string, boundS: number): Promise<CliResult> {
  const started = performance.now();
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', TSX, join(ROOT, 'scripts', 'aspo.ts'), ...args],
      { cwd, encoding: 'utf8', timeout: boundS * 1000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
        done({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
          seconds: (performance.now() - started) / 1000,
        });
      },
    );
  });
}

const base = mkdtempSync(join(tmpdir(), 'aspo-bad-cli-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe.each(Object.entries(CLI_CASES).filter(([, rows]) => rows.length > 0))('bad input on the command line: %s', (topic, rows) => {
  it.each(rows.map((row, i) => ({ ...row, label: row.name, i })))(
    '$label',
    async (row) => {
      const dir = join(base, `${topic}-${row.i}`);
      mkdirSync(dir, { recursive: true });
      await row.setup?.(dir);
      const before = snapshot(dir);
      const boundS = row.boundS ?? 30;
      const result = await aspo(row.args(dir), dir, boundS);
      expect(result.signal, `killed after ${boundS} s (a hang), stderr: ${result.stderr.slice(-500)}`).toBeNull();
      expect(result.code, `exit code; stderr: ${result.stderr.slice(-800)}`).toBe(row.exit);
      for (const pattern of row.stderr ?? []) expect(result.stderr).toMatch(pattern);
      expect(result.stderr, 'no stack trace').not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      expect(result.stderr, 'no internal URL').not.toContain('aspo-workbench.invalid');
      expect(changes(before, snapshot(dir), row.creates)).toEqual([]);
      row.check?.(result, dir);
    },
    (Math.max(...rows.map((row) => row.boundS ?? 30)) + 30) * 1000,
  );
});
