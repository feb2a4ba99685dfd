import { parseArgs } from 'node:util';
import { RawImage } from '@huggingface/transformers';
import { cutNotice, type MllmEngine } from '../../src/models/engine';
import { loadOnnxEngine } from '../../src/models/onnx/engine';
import { loadTfjsEngine } from '../../src/models/tfjs/engine';
import { nodeFolderSource } from '../lib/nodeModelSource';
import { requiredString, UsageError, type Command } from './args';
import { BACKEND_HELP, BACKEND_OPTION, BACKEND_USAGE, backendOption, ONNX_RUNTIME, refuseBackend, startBackend, type BackendRecord } from './backend';

export const logprobsCommand: Command = {
  usage: `logprobs --model DIR [--image PNG] --prompt TEXT --response TEXT [--response TEXT ...] [--reference] [--engine tfjs|onnx]
      [${BACKEND_USAGE}]
      per-token log-probs of each response, teacher-forced through the model's chat template; prints
      { inputIds, responseStart, tokens: [{ id, text, start, end, logp }], total, backend: { name, threads? } }
      (an array for several --response). --reference turns the LoRA adapters off.
      ${BACKEND_HELP}
      --engine onnx runs the folder's onnx/*.onnx (fp32) through transformers.js on ONNX Runtime (onnxruntime-node,
      on the CPU) instead of TF.js on model.safetensors (default tfjs); same JSON, and it takes no --backend.
      A response longer than the model's window is scored up to it, and stderr says how many tokens were cut.`,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        prompt: { type: 'string' },
        response: { type: 'string', multiple: true },
        reference: { type: 'boolean', default: false },
        engine: { type: 'string', default: 'tfjs' },
        ...BACKEND_OPTION,
      },
    });
    const responses = values.response ?? [];
    if (responses.length === 0) throw new UsageError('--response is required');
    const prompt = requiredString(values, 'prompt');
    const kind = values.engine;
    if (kind !== 'tfjs' && kind !== 'onnx') throw new UsageError(`--engine must be tfjs or onnx, got "${kind}"`);
    if (kind === 'onnx') refuseBackend(values, '--engine onnx');
    const backendName = kind === 'tfjs' ? backendOption(values) : null;
    const source = nodeFolderSource(requiredString(values, 'model'));
    let backend: BackendRecord = ONNX_RUNTIME;
    let engine: MllmEngine;
    if (backendName) {
      backend = await startBackend(backendName);
      // Scoring is a forward pass: a model too large to train on this backend may still score on it.
      engine = await loadTfjsEngine(source, { use: 'inference' });
    } else {
      engine = await loadOnnxEngine(source, { device: 'cpu' });
    }
    try {
      const image = values.image ? await RawImage.read(values.image) : undefined;
      const scored = await engine.logprobs({ image, prompt, responses, adapters: !values.reference });
      scored.forEach((r, i) => {
        const notice = cutNotice(`--response ${i + 1}`, r);
        if (notice) process.stderr.write(`aspo logprobs: ${notice}\n`);
      });
      const out = scored.map(({ inputIds, responseStart, tokens, total }) => ({ inputIds, responseStart, tokens, total, backend }));
      return out.length === 1 ? out[0] : out;
    } finally {
      engine.dispose();
    }
  },
};
