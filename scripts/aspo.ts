/**
 * Headless use of the workbench: `npm run aspo -- <command> [options]`. Runs the same engine code as the tab,
 * on TF.js' CPU backend, and prints JSON on stdout.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import { loadTfjsEngine } from '../src/models/tfjs/engine';
import { nodeFolderSource } from './lib/nodeModelSource';

const USAGE = `usage:
  npm run aspo -- logprobs --model DIR [--image PNG] --prompt TEXT --response TEXT [--response TEXT ...] [--reference]

  logprobs   per-token log-probs of each response, teacher-forced through the model's chat template;
             prints { inputIds, responseStart, tokens: [{ id, text, start, end, logp }], total }
             (an array when several --response are given). --reference turns the LoRA adapters off.`;

class UsageError extends Error {}

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

async function logprobs(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      image: { type: 'string' },
      prompt: { type: 'string' },
      response: { type: 'string', multiple: true },
      reference: { type: 'boolean', default: false },
    },
  });
  const responses = values.response ?? [];
  if (responses.length === 0) throw new UsageError('--response is required');
  const engine = await loadTfjsEngine(nodeFolderSource(required(values, 'model')));
  try {
    const image = values.image ? await RawImage.read(values.image) : undefined;
    const scored = await engine.logprobs({
      image,
      prompt: required(values, 'prompt'),
      responses,
      adapters: !values.reference,
    });
    const out = scored.map(({ inputIds, responseStart, tokens, total }) => ({ inputIds, responseStart, tokens, total }));
    return out.length === 1 ? out[0] : out;
  } finally {
    engine.dispose();
  }
}

const COMMANDS: Record<string, (args: string[]) => Promise<unknown>> = { logprobs };

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const run = command ? COMMANDS[command] : undefined;
  if (!run) throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  await tf.setBackend('cpu');
  const result = await run(rest);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(err instanceof UsageError ? `aspo: ${err.message}\n${USAGE}\n` : `aspo: ${err.message}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
