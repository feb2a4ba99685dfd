import { describeScene, DESCRIBE_PROMPT } from '../../sandbox/captions';
import { BACKGROUNDS, COLOURS, COUNTS, SHAPES } from '../../sandbox/scene';
import { HELD_OUT_SET } from '../../sandbox/splits';
import { useInspect } from '../../state/inspectStore';
import {
  HELD_OUT_REASON_WORDS,
  pickerSelection,
  sceneSummary,
  SEED_RANGE,
  type GroupDraft,
  type PickMode,
  type ScenePicker as Picker,
} from '../../state/inspect/sandboxScene';
import { NumberField } from '../common/NumberField';
import { SelectField } from '../common/SelectField';
import { GenerateResponse } from './GenerateResponse';
import { sceneImage } from './sceneImage';

const MODES: { value: PickMode; label: string }[] = [
  { value: 'random', label: 'Random scene' },
  { value: 'hand', label: 'Set by hand' },
  { value: 'held-out', label: 'Held-out scenes' },
];

const choices = <T extends string | number>(values: readonly T[]) => values.map((v) => ({ value: String(v), label: String(v) }));
const HELD_OUT_CHOICES = HELD_OUT_SET.map((h, i) => ({ value: String(i), label: `${i + 1}. ${sceneSummary(h.scene)} — ${HELD_OUT_REASON_WORDS[h.reason]}` }));

function SeedField({ label, value, testId, onChange }: { label: string; value: number; testId: string; onChange: (v: number) => void }) {
  return <NumberField label={label} value={value} integer min={SEED_RANGE.min} max={SEED_RANGE.max} step={1} testId={testId} onChange={onChange} />;
}

function GroupFields({ index, group, onChange }: { index: number; group: GroupDraft; onChange: (g: GroupDraft) => void }) {
  const where = index === 0 ? 'First group' : 'Second group';
  return (
    <fieldset className="scene-group" data-testid={`scene-group-${index}`}>
      <legend>{where}</legend>
      <SelectField label="Count" value={String(group.count)} choices={choices(COUNTS)} testId={`scene-group-${index}-count`} onChange={(v) => onChange({ ...group, count: Number(v) as GroupDraft['count'] })} />
      <SelectField label="Colour" value={group.colour} choices={choices(COLOURS)} testId={`scene-group-${index}-colour`} onChange={(v) => onChange({ ...group, colour: v as GroupDraft['colour'] })} />
      <SelectField label="Shape" value={group.shape} choices={choices(SHAPES)} testId={`scene-group-${index}-shape`} onChange={(v) => onChange({ ...group, shape: v as GroupDraft['shape'] })} />
    </fieldset>
  );
}

/** The sandbox scene picker: a scene from a seed, set by hand, or held out; the scene chosen becomes the pair's image. */
export function ScenePicker() {
  const { scenePicker: picker, sandbox, setScenePicker, showScene, fillFromScene } = useInspect();
  const picked = pickerSelection(picker);
  const show = (next: Picker) => {
    const result = pickerSelection(next);
    if ('selection' in result) showScene(result.selection, sceneImage(result.selection));
  };
  // A change of the scene's fields shows the scene at once; an invalid hand-set scene keeps the one shown.
  const update = (patch: Partial<Picker>) => {
    setScenePicker(patch);
    show({ ...picker, ...patch });
  };
  const { draft } = picker;
  const setGroup = (i: number, g: GroupDraft) => update({ draft: { ...draft, groups: draft.groups.map((old, k) => (k === i ? g : old)) } });
  const setGroupCount = (n: number) => {
    const second = draft.groups[1] ?? { ...draft.groups[0], colour: COLOURS.find((c) => c !== draft.groups[0].colour)! };
    update({ draft: { ...draft, groups: n === 1 ? [draft.groups[0]] : [draft.groups[0], second] } });
  };

  return (
    <section className="scene-picker" aria-label="Sandbox scene">
      <span className="field-title">Sandbox scene</span>
      <fieldset className="scene-modes">
        <legend className="sr-only">How to pick the scene</legend>
        {MODES.map((m) => (
          <label key={m.value}>
            <input type="radio" name="scene-mode" value={m.value} checked={picker.mode === m.value} data-testid={`scene-mode-${m.value}`} onChange={() => update({ mode: m.value })} />{' '}
            {m.label}
          </label>
        ))}
      </fieldset>
      {picker.mode === 'random' && (
        <div className="scene-fields">
          <SeedField label="Seed" value={picker.randomSeed} testId="scene-seed" onChange={(v) => update({ randomSeed: v })} />
          <button type="button" data-testid="scene-next-seed" onClick={() => update({ randomSeed: (picker.randomSeed + 1) % (SEED_RANGE.max + 1) })}>
            Next seed
          </button>
        </div>
      )}
      {picker.mode === 'hand' && (
        <>
          <div className="scene-fields">
            <SelectField label="Background" value={draft.background} choices={choices(BACKGROUNDS)} testId="scene-background" onChange={(v) => update({ draft: { ...draft, background: v as typeof draft.background } })} />
            <SelectField
              label="Groups"
              value={String(draft.groups.length)}
              choices={[
                { value: '1', label: 'one (in the centre)' },
                { value: '2', label: 'two (left and right)' },
              ]}
              testId="scene-group-count"
              onChange={(v) => setGroupCount(Number(v))}
            />
            <SeedField label="Render seed" value={picker.handSeed} testId="scene-render-seed" onChange={(v) => update({ handSeed: v })} />
          </div>
          <div className="scene-fields">
            {draft.groups.map((g, i) => (
              <GroupFields key={i} index={i} group={g} onChange={(next) => setGroup(i, next)} />
            ))}
          </div>
        </>
      )}
      {picker.mode === 'held-out' && (
        <SelectField label="Held-out scene" value={String(picker.heldOutIndex)} choices={HELD_OUT_CHOICES} testId="scene-held-out" onChange={(v) => update({ heldOutIndex: Number(v) })} />
      )}
      {'error' in picked ? (
        <p role="alert" className="field-error" data-testid="scene-error">
          {picked.error}
        </p>
      ) : (
        <button type="button" data-testid="scene-show" onClick={() => show(picker)}>
          Show this scene
        </button>
      )}
      {sandbox && (
        <div className="scene-truth" data-testid="scene-truth" aria-label="Ground truth">
          <p className="hint">
            Ground truth of the image ({sandbox.origin}
            {sandbox.heldOutReason ? `; held out: ${HELD_OUT_REASON_WORDS[sandbox.heldOutReason]}` : ''}):
          </p>
          <p data-testid="scene-description">{describeScene(sandbox.scene)}</p>
          <pre className="scene-json" data-testid="scene-json">
            {JSON.stringify(sandbox.scene)}
          </pre>
          <div className="scene-fill">
            <SeedField label="Corruption seed" value={picker.corruptionSeed} testId="corruption-seed" onChange={(v) => setScenePicker({ corruptionSeed: v })} />
            <button type="button" data-testid="scene-fill" title={`Also sets the prompt to "${DESCRIBE_PROMPT}"`} onClick={fillFromScene}>
              Fill responses: correct description → chosen, corrupted → rejected
            </button>
          </div>
        </div>
      )}
      <GenerateResponse />
    </section>
  );
}
