import { beforeEach, describe, expect, it } from 'vitest';
import type { StepReport } from '../train/optimizerStep';
import { DEFAULT_COMPARE } from '../train/client';
import { DEFAULT_TRAIN_SETTINGS } from '../train/settings';
import { storage } from '../../tests/setup/memoryStorage';

const { useTrain, methodName, settingsSummary, DEFAULT_FORM, OLD_SANDBOX_NOTICE } = await import('./trainStore');

function report(step: number, loss: number, skipped?: string): StepReport {
  return {
    step,
    lr: 0.01,
    metrics: {
      loss,
      'rewards/chosen': 0.1,
      'rewards/rejected': -0.1,
      'rewards/margins': 0.2,
      'rewards/accuracies': 1,
      'logps/chosen': -5,
      'logps/rejected': -6,
      'aspo/margin': 0.2,
      'aspo/lambda': 1,
      'aspo/weight_mean': 1,
      'aspo/weight_std': 0.1,
    },
    gradNorm: 0.5,
    clipped: false,
    ...(skipped ? { skipped } : {}),
    notices: skipped ? [`step ${step} skipped: ${skipped}`] : [],
    ms: 10,
    pairs: [0],
    epoch: 0,
  };
}

function addRun(id: string) {
  useTrain.getState().addRun({ id, name: id, createdAt: 0, settings: structuredClone(DEFAULT_FORM), data: 'sandbox', pairs: 24, model: { kind: 'catalog', entryId: 'tiny-smolvlm' } });
}

describe('trainStore', () => {
  beforeEach(() => {
    useTrain.setState({ runs: [], overlay: [], activeId: null });
  });

  it('defaults the form to DEFAULT_TRAIN_SETTINGS with a step count', () => {
    expect({ ...DEFAULT_FORM, steps: null, epochs: 1 }).toEqual({ ...DEFAULT_TRAIN_SETTINGS });
    expect(DEFAULT_FORM.steps).toBeGreaterThan(0);
    expect(DEFAULT_FORM.epochs).toBeNull();
  });

  it('records one point per step with TRL names, skipped steps and notices; a resume drops later steps', () => {
    addRun('a');
    const s = useTrain.getState();
    s.addStep('a', report(1, 0.69), 1, 1000);
    s.addStep('a', report(2, Number.NaN, 'loss is not finite (NaN); update not applied'), 1, 1000);
    s.addStep('a', report(3, 0.6), 1, 1000);
    let run = useTrain.getState().runs[0];
    expect(run.history.map((p) => p.step)).toEqual([1, 2, 3]);
    expect(run.history[0]['rewards/margins']).toBe(0.2);
    expect(run.history[1].skipped).toBe(true);
    expect(run.skipped).toEqual([{ step: 2, reason: 'loss is not finite (NaN); update not applied' }]);
    expect(run.notices).toEqual(['step 2 skipped: loss is not finite (NaN); update not applied']);
    useTrain.getState().truncateHistory('a', 1);
    run = useTrain.getState().runs[0];
    expect(run.history.map((p) => p.step)).toEqual([1]);
    expect(run.skipped).toEqual([]);
    // A step reported again (after a resume) replaces the old point instead of duplicating it.
    useTrain.getState().addStep('a', report(2, 0.65), 1, 1000);
    useTrain.getState().addStep('a', report(2, 0.64), 1, 1000);
    expect(useTrain.getState().runs[0].history.map((p) => [p.step, p.loss])).toEqual([[1, 0.69], [2, 0.64]]);
  });

  it('persists runs and metrics; a run that was running comes back interrupted', async () => {
    addRun('b');
    useTrain.getState().addStep('b', report(1, 0.69), 1, 1000);
    useTrain.getState().patchRun('b', { checkpointStep: 1 });
    const saved = JSON.parse(storage.get('aspo-workbench/train')!) as { state: { runs: { id: string; status: string }[] } };
    expect(saved.state.runs.map((r) => [r.id, r.status])).toEqual([['b', 'running']]);
    useTrain.setState({ runs: [] });
    storage.set('aspo-workbench/train', JSON.stringify(saved));
    await useTrain.persist.rehydrate();
    const run = useTrain.getState().runs[0];
    expect(run.status).toBe('interrupted');
    expect(run.history).toHaveLength(1);
    expect(run.notices.at(-1)).toMatch(/checkpoint at step 1/);
  });

  it('keeps the comparison options across a reload; a state saved before they existed gets the defaults', async () => {
    useTrain.getState().setCompareOptions({ prompts: 1, heldOutPairs: 2 });
    expect(useTrain.getState().compareOptions).toEqual({ prompts: 1, maxNewTokens: 24, heldOutPairs: 2 });
    const saved = JSON.parse(storage.get('aspo-workbench/train')!) as { state: Record<string, unknown> };
    // (setState persists too, so the saved state is put back before each rehydrate.)
    useTrain.setState({ compareOptions: { ...DEFAULT_COMPARE } });
    storage.set('aspo-workbench/train', JSON.stringify(saved));
    await useTrain.persist.rehydrate();
    expect(useTrain.getState().compareOptions).toEqual({ prompts: 1, maxNewTokens: 24, heldOutPairs: 2 });
    delete saved.state.compareOptions;
    useTrain.setState({ compareOptions: { ...DEFAULT_COMPARE } });
    storage.set('aspo-workbench/train', JSON.stringify(saved));
    await useTrain.persist.rehydrate();
    expect(useTrain.getState().compareOptions).toEqual({ prompts: 3, maxNewTokens: 24, heldOutPairs: 8 });
  });

  it('a state saved by version 1 (the 32×32 sandbox) loads: its resumable sandbox runs are stopped with a notice, the others kept', async () => {
    addRun('old-paused');
    addRun('old-done');
    addRun('inspector');
    useTrain.getState().patchRun('old-paused', { status: 'paused', checkpointStep: 3 });
    useTrain.getState().patchRun('old-done', { status: 'done' });
    useTrain.getState().patchRun('inspector', { status: 'paused', data: 'inspector' });
    useTrain.getState().setSandboxCount(24);
    const saved = JSON.parse(storage.get('aspo-workbench/train')!) as { state: Record<string, unknown>; version: number };
    // (setState persists too, so the old state is put back after it.)
    useTrain.setState({ runs: [] });
    storage.set('aspo-workbench/train', JSON.stringify({ ...saved, state: { ...saved.state, sandboxCount: 32 }, version: 1 }));
    await useTrain.persist.rehydrate();
    const runs = Object.fromEntries(useTrain.getState().runs.map((r) => [r.id, r]));
    expect(runs['old-paused'].status).toBe('stopped');
    expect(runs['old-paused'].notices.at(-1)).toBe(OLD_SANDBOX_NOTICE);
    expect(runs['old-done'].status).toBe('done');
    expect(runs['old-done'].notices.at(-1)).toBe(OLD_SANDBOX_NOTICE);
    expect(runs.inspector.status).toBe('paused');
    expect(runs.inspector.notices).toEqual([]);
    expect(useTrain.getState().sandboxCount).toBe(24);
    // Saved again as version 2, it is not migrated twice.
    expect(JSON.parse(storage.get('aspo-workbench/train')!).version).toBe(2);
  });

  it('toggles runs in the overlay and names methods as the paper does', () => {
    addRun('c');
    addRun('d');
    expect(useTrain.getState().overlay).toEqual(['c', 'd']);
    useTrain.getState().toggleOverlay('c');
    expect(useTrain.getState().overlay).toEqual(['d']);
    expect(methodName({ objective: 'dpo', alpha: 0.5 })).toBe('DPO');
    expect(methodName({ objective: 'aspo', alpha: 1 })).toBe('ASPO-S');
    expect(methodName({ objective: 'aspo', alpha: 0 })).toBe('ASPO-P');
    expect(methodName({ objective: 'aspo', alpha: 0.5 })).toBe('ASPO-S+P (α=0.5)');
    expect(settingsSummary({ ...DEFAULT_FORM, objective: 'dpo' })).not.toMatch(/ppl:/);
  });
});
