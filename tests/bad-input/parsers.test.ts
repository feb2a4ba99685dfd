/**
 * The bad-input corpus for the parsers (issue 9, item 10): safetensors, JSONL pairs, config.json, tokenizer files,
 * ONNX files, numbers on the command line, and the sentence splitter on text in every script. A row either rejects
 * bad input (its message must match every pattern, which name the file, line or field) or accepts good input and
 * checks what came out. Each row is bounded in time.
 *
 * Add rows to the array of your topic; each array is one item of the issue.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { integerOption, numberOption, SEED_RANGE } from '../../scripts/cli/args';
import { nodeFolderSource } from '../../scripts/lib/nodeModelSource';
import { splitSentences } from '../../src/aspo/sentences';
import { parsePairsJsonl } from '../../src/data/pairs';
import { decodeUtf8 } from '../../src/data/utf8';
import { loadClipScorer } from '../../src/models/clip';
import { parseModelConfig } from '../../src/models/config';
import { loadOnnxEngine } from '../../src/models/onnx/engine';
import { parseSafetensors } from '../../src/models/safetensors';
import { hubSource, type ModelSource } from '../../src/models/sources';
import { loadTfjsEngine } from '../../src/models/tfjs/engine';
import { loadProcessor, loadTokenizer } from '../../src/models/transformersEnv';
import { parseScene } from '../../src/sandbox/scene';
import { SCRIPT_CASES } from '../fixtures/sentenceScripts';
import { copyModel, cut, rawSafetensors, type FixtureModel } from './fixtures';

interface ParserCase {
  name: string;
  run: () => void | Promise<void>;
  /** Seconds the row may take (default 30). */
  boundS?: number;
}

/** What `fn` threw (or the promise it returned rejected with); fails the row if it accepted the input. */
async function messageOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err, 'an Error, not a bare value').toBeInstanceOf(Error);
    return (err as Error).message;
  }
  throw new Error('the bad input was accepted');
}

function expectNamed(message: string, patterns: RegExp[]): void {
  for (const pattern of patterns) expect(message).toMatch(pattern);
  expect(message, 'no internal URL').not.toContain('aspo-workbench.invalid');
  expect(message, 'no stringified object').not.toContain('[object Object]');
}

/** A row that feeds `fn` bad input and expects a message matching every pattern. */
const rejects = (name: string, fn: () => unknown, patterns: RegExp[], boundS?: number): ParserCase => ({
  name,
  run: async () => expectNamed(await messageOf(fn), patterns),
  boundS,
});

const SAFETENSORS = 'bad.safetensors';
const safetensors = (bytes: Uint8Array) => () => parseSafetensors(bytes, SAFETENSORS);
const inFile = new RegExp(`"${SAFETENSORS}"`);

const safetensorsCases: ParserCase[] = [
  rejects('a file shorter than its 8-byte header length', safetensors(new Uint8Array([1, 2, 3])), [inFile, /shorter than the 8-byte header/]),
  rejects('a header length past the end', safetensors(rawSafetensors('{}', [], 1000n)), [inFile, /header length 1000 runs past the end/]),
  rejects('a header length of 2^63', safetensors(rawSafetensors('{}', [], 2n ** 63n)), [inFile, /runs past the end/]),
  rejects('a header that is not JSON', safetensors(rawSafetensors('{"w": {dtype', [])), [inFile, /not valid UTF-8 JSON/]),
  rejects('a header that is not an object', safetensors(rawSafetensors('[1,2]')), [inFile, /not a JSON object/]),
  rejects('offsets past the data', safetensors(rawSafetensors('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [0, 0, 0, 0])), [inFile, /tensor "w"/, /out of range/]),
  rejects('an unknown dtype', safetensors(rawSafetensors('{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', [0])), [inFile, /tensor "w"/, /unsupported dtype "F8_E4M3"/]),
  rejects('a shape that does not fit its bytes', safetensors(rawSafetensors('{"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}}', new Uint8Array(8))), [inFile, /tensor "w"/, /needs 12 bytes.*hold 8/]),
  rejects('a negative dimension', safetensors(rawSafetensors('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4))), [inFile, /tensor "w"/, /non-negative integers/]),
  rejects('overlapping tensors', safetensors(rawSafetensors('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', new Uint8Array(12))), [inFile, /tensor "b"/, /overlap those of tensor "a"/]),
  rejects('metadata that is not strings', safetensors(rawSafetensors('{"__metadata__":{"a":1}}')), [inFile, /__metadata__/]),
];

const GOOD = '{"prompt": "Describe it.", "chosen": "A red square.", "rejected": "A blue circle."}';

/** A row with a bad line 2 between good lines 1 and 3: that line is named with the file and the field, the others kept. */
const badLine = (name: string, line: string, patterns: RegExp[]): ParserCase => ({
  name,
  run: () => {
    const { pairs, errors, lines } = parsePairsJsonl([GOOD, line, GOOD].join('\n'), 'pairs.jsonl');
    expect(lines).toEqual([1, 3]);
    expect(pairs).toHaveLength(2);
    expect(errors.map((e) => e.line)).toEqual([2]);
    expectNamed(errors[0].message, [/^pairs\.jsonl:2: /, ...patterns]);
  },
});

const pairsCases: ParserCase[] = [
  badLine('a line that is not JSON', '{"prompt": "p", "chosen": "c"', [/not valid JSON/]),
  badLine('a line that is an array', '[1, 2]', [/expected a JSON object with "prompt", "chosen" and "rejected", got an array/]),
  badLine('a line that is a string', '"hello"', [/expected a JSON object/]),
  badLine('a missing field', '{"prompt": "p", "chosen": "c"}', [/field "rejected" is missing/]),
  badLine('a field of the wrong type', '{"prompt": "p", "chosen": 3, "rejected": "r"}', [/field "chosen" must be a string, got a number/]),
  badLine('an empty response', '{"prompt": "p", "chosen": "  ", "rejected": "r"}', [/field "chosen" is empty/]),
  badLine('an image that is not a string', '{"prompt": "p", "chosen": "c", "rejected": "r", "image": 5}', [/field "image"/]),
  badLine('a similarity that is not a number', '{"prompt": "p", "chosen": "c", "rejected": "r", "similarity": {"chosen": [0.1, "x"]}}', [/similarity\.chosen\[1\]/]),
];

const configCases: ParserCase[] = [
  rejects('config.json without model_type', () => parseModelConfig({ hidden_size: 3 }), [/config\.json/, /missing required field "model_type" \(supported: idefics3, smolvlm, llama\)/]),
  rejects('an unsupported model_type', () => parseModelConfig({ model_type: 'qwen2' }), [/config\.json/, /unsupported model_type "qwen2"/]),
  rejects('a fractional hidden_size', () => parseModelConfig({ model_type: 'llama', hidden_size: 57.5 }), [/config\.json/, /field "hidden_size" must be a positive integer, got 57\.5/]),
  rejects('config.json that is not an object', () => parseModelConfig([1]), [/config\.json: expected a JSON object/]),
];

const dir = mkdtempSync(join(tmpdir(), 'aspo-bad-parsers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const onnxCases: ParserCase[] = [
  rejects(
    'a truncated CLIP text tower',
    () => loadClipScorer(nodeFolderSource(copyModel(dir, 'tiny-clip', 'cut-clip', (m) => cut(join(m, 'onnx', 'text_model.onnx'), 5000))), { device: 'cpu' }),
    [/folder cut-clip: onnx\/text_model\.onnx is not a usable ONNX model \(the file is truncated/, /download it again or rebuild the folder/],
  ),
  rejects(
    'a CLIP vision tower cut to its first bytes',
    () => loadClipScorer(nodeFolderSource(copyModel(dir, 'tiny-clip', 'cut-vision', (m) => cut(join(m, 'onnx', 'vision_model.onnx'), 16))), { device: 'cpu' }),
    [/folder cut-vision: onnx\/vision_model\.onnx is not a usable ONNX model/],
  ),
  rejects(
    'a truncated decoder of the MLLM',
    () => loadOnnxEngine(nodeFolderSource(copyModel(dir, 'tiny-smolvlm', 'cut-mllm', (m) => cut(join(m, 'onnx', 'decoder_model_merged.onnx'), 3000))), { device: 'cpu' }),
    [/folder cut-mllm: onnx\/decoder_model_merged\.onnx is not a usable ONNX model \(the file is truncated/],
  ),
  rejects(
    'an MLLM folder without its ONNX files',
    () => loadOnnxEngine(nodeFolderSource(copyModel(dir, 'tiny-smolvlm', 'no-onnx', (m) => unlinkSync(join(m, 'onnx', 'embed_tokens.onnx')))), { device: 'cpu' }),
    [/folder no-onnx has no file onnx\/embed_tokens\.onnx/],
  ),
];

const number = (raw: unknown) => () => numberOption({ steps: raw }, 'steps', 1);
const numberCases: ParserCase[] = [
  rejects('a word', number('abc'), [/--steps must be .*, got "abc"/]),
  rejects('an empty value', number(''), [/--steps must be .*, got ""/]),
  rejects('blanks', number('  '), [/--steps must be .*, got " {2}"/]),
  rejects('NaN', number('NaN'), [/--steps must be .*, got "NaN"/]),
  rejects('Infinity', number('Infinity'), [/--steps must be .*, got "Infinity"/]),
  rejects('a number with a unit', number('3s'), [/--steps must be .*, got "3s"/]),
];

/** Item 9: a pairs file in each script gives back its text, and its chosen response splits into its sentences. */
const splitScriptCases: ParserCase[] = SCRIPT_CASES.map((c) => ({
  name: `${c.script}: ${c.input}`,
  run: () => {
    const line = JSON.stringify({ prompt: 'Describe the image.', chosen: c.input, rejected: 'No.' });
    const bytes = new TextEncoder().encode(`${line}\n`);
    const { pairs, errors } = parsePairsJsonl(new TextDecoder('utf-8', { fatal: true }).decode(bytes), 'pairs.jsonl');
    expect(errors).toEqual([]);
    expect(splitSentences(pairs[0].chosen).map((s) => s.text)).toEqual(c.expected);
  },
}));

/**
 * Keeps a model's JSON file up to just after the first ',' past its middle (an ASCII byte, so no character is cut),
 * as an interrupted download does; returns where the cut text ends: its line and column (1-based, in characters).
 */
function cutJson(file: string): { line: number; column: number } {
  const bytes = readFileSync(file);
  const keep = bytes.indexOf(0x2c, bytes.length >> 1) + 1;
  writeFileSync(file, bytes.subarray(0, keep));
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, keep));
  return { line: text.split('\n').length, column: text.length - text.lastIndexOf('\n') };
}

/** A copy of a fixture model with `file` cut in half; the row expects the folder, the file, where it ends and the fix. */
const cutModelFile = (fixture: FixtureModel, file: string, load: (source: ModelSource) => Promise<unknown>): ParserCase => {
  const name = `cut-${fixture}-${file.replace(/\W/g, '-')}`;
  return {
    name: `${fixture}: ${file} cut off in the middle`,
    run: async () => {
      let end = { line: 0, column: 0 };
      const source = nodeFolderSource(copyModel(dir, fixture, name, (m) => void (end = cutJson(join(m, file)))));
      const message = await messageOf(() => load(source));
      const at = `line ${end.line}, column ${end.column}`;
      expectNamed(message, [
        new RegExp(`^folder ${name}: file ${file.replace('.', '\\.')} is not valid JSON \\(${at}: the file ends before its JSON does`),
        new RegExp(`replace ${file.replace('.', '\\.')} with the original from the model's repository$`),
      ]);
    },
  };
};

/** `text` as Latin-1 bytes: é is the single byte 0xe9, which UTF-8 does not allow there. */
const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
/** Line 2 of a model's JSON file gains a field whose value has an é, saved in Latin-1. */
const inLatin1 = (file: string) => (m: string) => {
  const path = join(m, file);
  const [first, ...rest] = readFileSync(path, 'utf8').split('\n');
  writeFileSync(path, latin1([first, '  "_comment": "Caf\u00e9",', ...rest].join('\n')));
};
const LOAD = {
  tokenizer: (source: ModelSource) => loadTokenizer(source),
  processor: (source: ModelSource) => loadProcessor(source),
  tfjs: (source: ModelSource) => loadTfjsEngine(source),
  onnx: (source: ModelSource) => loadOnnxEngine(source, { device: 'cpu' }),
  clip: (source: ModelSource) => loadClipScorer(source, { device: 'cpu' }),
};

/**
 * A model's JSON files, read by transformers.js (tokenizer, processor, ONNX model) or by us (config.json): a file cut
 * off, in Latin-1, or edited by hand is named with its folder, line and the fix (it was "Unexpected end of JSON
 * input" for transformers.js' files, and Latin-1 was read as U+FFFD).
 */
const tokenizerFileCases: ParserCase[] = [
  cutModelFile('tiny-smolvlm', 'tokenizer.json', LOAD.tokenizer),
  cutModelFile('tiny-smolvlm', 'tokenizer_config.json', LOAD.tfjs),
  cutModelFile('tiny-smolvlm', 'preprocessor_config.json', LOAD.processor),
  cutModelFile('tiny-smolvlm', 'processor_config.json', LOAD.onnx),
  cutModelFile('tiny-smolvlm', 'config.json', LOAD.tfjs),
  cutModelFile('tiny-clip', 'tokenizer.json', LOAD.clip),
  cutModelFile('tiny-clip', 'preprocessor_config.json', LOAD.clip),
  rejects(
    'a tokenizer_config.json in Latin-1',
    () => loadTokenizer(nodeFolderSource(copyModel(dir, 'tiny-smollm2', 'latin1-tokenizer', inLatin1('tokenizer_config.json')))),
    [/^folder latin1-tokenizer: file tokenizer_config\.json is not valid JSON: line 2 is not valid UTF-8 \(byte 0xe9 at offset \d+\); save the file as UTF-8/],
  ),
  rejects(
    'a config.json in Latin-1 (it was read as U+FFFD)',
    () => loadTfjsEngine(nodeFolderSource(copyModel(dir, 'tiny-smollm2', 'latin1-config', inLatin1('config.json')))),
    [/^folder latin1-config: file config\.json is not valid JSON: line 2 is not valid UTF-8 \(byte 0xe9 at offset \d+\)/],
  ),
  rejects(
    'a preprocessor_config.json edited by hand with a trailing comma',
    () =>
      loadClipScorer(
        nodeFolderSource(
          copyModel(dir, 'tiny-clip', 'comma', (m) => writeFileSync(join(m, 'preprocessor_config.json'), '{\n  "do_resize": true,\n  "size": 32,\n}\n')),
        ),
        { device: 'cpu' },
      ),
    [/^folder comma: file preprocessor_config\.json is not valid JSON \(line 4, column 1: expected a property name in double quotes\); replace preprocessor_config\.json/],
  ),
  rejects(
    'a hub repository whose tokenizer.json is cut off',
    () => {
      const files: Record<string, string> = { 'tokenizer_config.json': '{}', 'tokenizer.json': '{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0,' };
      const fetch = async (url: string) => {
        const file = Object.keys(files).find((f) => url.endsWith(`/${f}`));
        return file ? new Response(files[file]) : new Response(null, { status: 404 });
      };
      return loadTokenizer(hubSource('someone/cut-tokenizer', { cache: null, fetch }));
    },
    [/^someone\/cut-tokenizer: file tokenizer\.json is not valid JSON \(line 1, column 62: the file ends before its JSON does/, /choose a repository whose tokenizer\.json is valid, or load the model from a local folder$/],
  ),
];
const F32_PAIR = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
const TWO_FLOATS = [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]; // 1.0f, 2.0f little-endian
const LATIN1_PAIRS = Uint8Array.from(`${GOOD}\n{"prompt": "Caf\u00e9?", "chosen": "Yes.", "rejected": "No."}\n`, (c) => c.charCodeAt(0));
const integer = (name: string, raw: string, range: { min: number; max?: number }) => () => integerOption({ [name]: raw }, name, range);
/** Item 7 (h6): what the reference safetensors reader refuses, text that is not UTF-8, integers that are not decimal. */
const parserStrictnessCases: ParserCase[] = [
  rejects(
    'a header length that stops inside the header padding (weights shifted by 4 bytes)',
    safetensors(rawSafetensors(`${F32_PAIR}    `, TWO_FLOATS, BigInt(F32_PAIR.length))),
    [inFile, new RegExp(`header length ${F32_PAIR.length} stops 4 bytes short of the header's padding`), /should be \d+/],
  ),
  rejects(
    'a gap between two tensors',
    safetensors(rawSafetensors('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', new Uint8Array(12))),
    [inFile, /tensor "b"/, /gap after tensor "a"/, /bytes 4–7/],
  ),
  rejects(
    'a first tensor that does not start at byte 0',
    safetensors(rawSafetensors('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8))),
    [inFile, /tensor "w"/, /must start at byte 0/],
  ),
  rejects(
    'bytes after the last tensor',
    safetensors(rawSafetensors(F32_PAIR, [...TWO_FLOATS, 1, 2, 3])),
    [inFile, /the tensors cover 8 bytes but the data buffer holds 11/],
  ),
  {
    name: 'a header padded with JSON whitespace on both sides, as the reference reader allows',
    run: () => expect(Array.from(parseSafetensors(rawSafetensors(`\n ${F32_PAIR}\t\r `, TWO_FLOATS), SAFETENSORS).tensors.get('w')!.data as Float32Array)).toEqual([1, 2]),
  },
  rejects('a Latin-1 pairs file', () => decodeUtf8(LATIN1_PAIRS, 'pairs.jsonl'), [/^pairs\.jsonl: line 2 is not valid UTF-8 \(byte 0xe9 at offset \d+\); save the file as UTF-8/]),
  rejects('a file cut inside a UTF-8 character', () => decodeUtf8(new TextEncoder().encode('ok\n🚌').subarray(0, 5), 'notes.txt'), [/^notes\.txt: line 2 is not valid UTF-8 \(byte 0xf0 at offset 3\)/]),
  rejects('a hexadecimal --steps', integer('steps', '0x10', { min: 1 }), [/^--steps must be a decimal integer ≥ 1, got "0x10"$/]),
  rejects('an exponent --steps', integer('steps', '1e3', { min: 1 }), [/^--steps must be a decimal integer ≥ 1, got "1e3"$/]),
  rejects('a --steps of 0', integer('steps', '0', { min: 1 }), [/^--steps must be a decimal integer ≥ 1, got "0"$/]),
  rejects('a --seed of 2^32', integer('seed', '4294967296', SEED_RANGE), [/^--seed must be a decimal integer from 0 to 4294967295, got "4294967296"$/]),
  { name: 'the largest --seed', run: () => expect(integer('seed', '4294967295', SEED_RANGE)()).toBe(4294967295) },
  rejects('a hexadecimal number', number('0x10'), [/^--steps must be a decimal number, got "0x10"$/]),
  { name: 'decimal numbers in every notation', run: () => expect(['1', '-2.5', '.5', '3.', '1e-4', '+2E3'].map((v) => number(v)())).toEqual([1, -2.5, 0.5, 3, 1e-4, 2000]) },
];

/** Issue 12: sandbox scenes (`--scene`), refused naming the field or the place. */
const SCENE_GROUP = '{"count":1,"colour":"red","shape":"circle","side":"center"}';
const sandboxSceneCases: ParserCase[] = [
  rejects('a scene cut off', () => parseScene(`{"background":"white","groups":[${SCENE_GROUP}`), [/^the scene is not valid JSON \(line 1, column 92: expected /]),
  rejects('a count given as a string', () => parseScene(`{"background":"white","groups":[${SCENE_GROUP.replace('1', '"1"')}]}`), [/field "groups\[0\]\.count" must be one of 1, 2, 3, got "1"/]),
  rejects('three groups', () => parseScene(`{"background":"white","groups":[${[SCENE_GROUP, SCENE_GROUP, SCENE_GROUP].join(',')}]}`), [/field "groups" must be an array of one or two groups, got 3 groups/]),
  rejects('a lone group on the right', () => parseScene(`{"background":"white","groups":[${SCENE_GROUP.replace('center', 'right')}]}`), [/field "groups\[0\]\.side" must be "center" in a scene of one group, got "right"/]),
  rejects('a scene that is a string', () => parseScene('"two red circles"'), [/^the scene must be a JSON object with fields background, groups, got "two red circles"$/]),
  {
    name: 'a scene with its fields in any order and whitespace around it',
    run: () =>
      expect(parseScene(`\n {"groups":[{"side":"center","shape":"square","colour":"blue","count":3}],"background":"black"} \n`)).toEqual({
        background: 'black',
        groups: [{ count: 3, colour: 'blue', shape: 'square', side: 'center' }],
      }),
  },
];

const PARSER_CASES: Record<string, ParserCase[]> = {
  safetensorsCases,
  pairsCases,
  configCases,
  onnxCases,
  numberCases,
  splitScriptCases,
  tokenizerFileCases,
  parserStrictnessCases,
  sandboxSceneCases,
};

describe.each(Object.entries(PARSER_CASES).filter(([, rows]) => rows.length > 0))('bad input to the parsers: %s', (_topic, rows) => {
  it.each(rows.map((row) => ({ ...row, label: row.name })))(
    '$label',
    async (row) => {
      const boundS = row.boundS ?? 30;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${boundS} s (a hang)`)), boundS * 1000);
      });
      try {
        await Promise.race([Promise.resolve().then(row.run), bound]);
      } finally {
        clearTimeout(timer);
      }
    },
    (Math.max(...rows.map((row) => row.boundS ?? 30)) + 15) * 1000,
  );
});
