import type { TrainEvent } from '../client';
import type { LoadedModel } from './model';
import type { ActiveRun } from './runLifecycle';

/** What the worker holds between messages: one model, at most one run, and where its events go. */
export interface WorkerState {
  model: LoadedModel | null;
  run: ActiveRun | null;
  /** test hook: the next step's loss or gradient is made NaN (the Trainer must skip and report it) */
  inject: 'loss' | 'gradient' | null;
  emit(event: TrainEvent): void;
}

/** Disposes the run the worker holds, if any (its checkpoint stays). */
export function dropRun(s: WorkerState) {
  s.run?.trainer.dispose();
  s.run = null;
}
