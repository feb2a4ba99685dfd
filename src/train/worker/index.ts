/// <reference lib="webworker" />
/**
 * The training Web Worker's entry: TF.js (WebGPU, else WebGL, else WASM, else CPU) and the Trainer run here, so the
 * page never freezes. The page talks to it through `../client.ts` (protocol described there); this file answers each
 * request with one reply. One model (`model.ts`) and at most one active run (`runLifecycle.ts`) at a time; the
 * before/after comparison is `compare.ts`.
 */
import { listCheckpoints } from '../checkpointStore';
import type { ReplyValues, WorkerMessage, WorkerRequest } from '../client';
import { initBackend } from '../../tf/backend';
import { compare } from './compare';
import { exportAdapter, importAdapter, loadModel } from './model';
import { deleteRun, halt, resume, start } from './runLifecycle';
import type { WorkerState } from './state';

declare const self: DedicatedWorkerGlobalScope;

function post(msg: WorkerMessage, transfer: Transferable[] = []) {
  self.postMessage(msg, transfer);
}

const state: WorkerState = { model: null, run: null, inject: null, emit: (event) => post({ type: 'event', event }) };

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.type) {
    case 'init': {
      const choice = await initBackend();
      state.emit({ kind: 'backend', backend: choice.backend, reason: choice.reason });
      return { backend: choice.backend, reason: choice.reason };
    }
    case 'load':
      return loadModel(state, req.model, req.files);
    case 'start':
      return start(state, req);
    case 'resume':
      return resume(state, req.runId, req.checkpointEvery, req.files);
    case 'pause':
      return halt(state, 'pause');
    case 'stop':
      return halt(state, 'stop');
    case 'compare':
      return compare(state, req.runId, req);
    case 'exportAdapter':
      return exportAdapter(state);
    case 'importAdapter':
      return importAdapter(state, req.files);
    case 'deleteCheckpoint':
      return deleteRun(state, req.runId);
    case 'checkpoints':
      return listCheckpoints();
    case 'injectNonFinite':
      state.inject = req.which;
      return null;
  }
}

self.onmessage = (e: MessageEvent<WorkerRequest>) => {
  const req = e.data;
  handle(req).then(
    (value) => {
      // The adapter's bytes move to the page instead of being copied.
      const transfer = req.type === 'exportAdapter' && value ? [(value as ReplyValues['exportAdapter'])['adapter_model.safetensors'].buffer as ArrayBuffer] : [];
      post({ type: 'reply', id: req.id, ok: true, value }, transfer);
    },
    (err: unknown) => post({ type: 'reply', id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
};
