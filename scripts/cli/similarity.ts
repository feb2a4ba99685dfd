import { parseArgs } from 'node:util';
import { RawImage } from '@huggingface/transformers';
import { splitSentences } from '../../src/aspo';
import { clipCutNotice, loadClipScorer } from '../../src/models/clip';
import { ONNX_DTYPE_SUFFIX, type OnnxDtype } from '../../src/models/onnx/engine';
import { nodeFolderSource } from '../lib/nodeModelSource';
import { requiredString, UsageError, type Command } from './args';
import { BACKEND_OPTION, ONNX_RUNTIME, refuseBackend } from './backend';

export const similarityCommand: Command = {
  usage: `similarity --clip DIR --image PNG --text TEXT [--dtype fp32|q8|...]
      splits TEXT into sentences and scores each against the image with the CLIP in DIR (onnx/text_model.onnx,
      onnx/vision_model.onnx; all sentences in one batch; cosine of the L2-normalised embeddings); prints
      { sentences: [{ text, start, end, similarity, truncated }], backend: { name: "onnxruntime-node" } }; truncated
      marks a sentence longer than CLIP's text window (stderr names them). CLIP runs on ONNX Runtime
      (onnxruntime-node, on the CPU), not TF.js, so this command takes no --backend.`,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        clip: { type: 'string' },
        image: { type: 'string' },
        text: { type: 'string' },
        dtype: { type: 'string', default: 'fp32' },
        ...BACKEND_OPTION,
      },
    });
    refuseBackend(values, 'similarity (CLIP)');
    const dtype = values.dtype as OnnxDtype;
    if (!(dtype in ONNX_DTYPE_SUFFIX)) {
      throw new UsageError(`--dtype must be one of ${Object.keys(ONNX_DTYPE_SUFFIX).join(', ')}, got "${values.dtype}"`);
    }
    const text = requiredString(values, 'text');
    const imagePath = requiredString(values, 'image');
    const scorer = await loadClipScorer(nodeFolderSource(requiredString(values, 'clip')), { device: 'cpu', dtype });
    try {
      const image = await RawImage.read(imagePath);
      const spans = splitSentences(text);
      const scores = await scorer.similarity(
        image,
        spans.map((s) => s.text),
      );
      const notice = clipCutNotice('--text', scores, scorer.contextLength);
      if (notice) process.stderr.write(`aspo similarity: ${notice}\n`);
      return {
        sentences: spans.map((s, i) => ({ text: s.text, start: s.start, end: s.end, ...scores[i] })),
        backend: ONNX_RUNTIME,
      };
    } finally {
      scorer.dispose();
    }
  },
};
