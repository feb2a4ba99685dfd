import { useId, useState, type ChangeEvent } from 'react';

export interface NumberFieldProps {
  label: string;
  value: number;
  onChange: (value: number) => void;
  step?: number;
  min?: number;
  /** `min` itself is refused */
  aboveMin?: boolean;
  max?: number;
  integer?: boolean;
  /** Also show a range slider: over [min, max] when true, or over the range given. */
  slider?: boolean | { min: number; max: number };
  /** Show the value rounded to this many decimals (a model's numbers have more than a reader wants). */
  decimals?: number;
  /** A line under the field, replaced by the error while the typed text is refused. */
  hint?: string;
  testId?: string;
  /** The label is the input's accessible name only (in a table row that says what the column is). */
  hideLabel?: boolean;
  /** Label above the input (a grid of fields) rather than beside it. */
  stacked?: boolean;
}

/** Why `text` is not a value the field takes, or null when it is. */
function problemOf(text: string, { min, max, aboveMin, integer }: Pick<NumberFieldProps, 'min' | 'max' | 'aboveMin' | 'integer'>): string | null {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) return 'not a number';
  if (integer && !Number.isInteger(v)) return 'must be a whole number';
  const belowMin = min !== undefined && (aboveMin ? v <= min : v < min);
  const aboveMax = max !== undefined && v > max;
  if (!belowMin && !aboveMax) return null;
  if (min !== undefined && max !== undefined) return `must be between ${min} and ${max}`;
  if (min !== undefined) return `must be ${aboveMin ? '>' : '≥'} ${min}`;
  return `must be ≤ ${max}`;
}

/**
 * A labelled number input that lets the user pass through unparseable states ("-", "0.") while typing and
 * commits only valid, in-range numbers, so a half-typed value never reaches the method or a run.
 */
export function NumberField({ label, value, onChange, step, min, aboveMin, max, integer, slider, decimals, hint, testId, hideLabel, stacked }: NumberFieldProps) {
  const id = useId();
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const commit = (text: string) => {
    setDraft(text);
    const problem = problemOf(text, { min, max, aboveMin, integer });
    setError(problem);
    if (!problem) onChange(Number(text));
  };
  const stepBy = step ?? (integer ? 1 : 0.01);
  const range = slider === true ? (min !== undefined && max !== undefined ? { min, max } : undefined) : slider || undefined;
  // A draft that no longer matches the stored value (an example was loaded meanwhile) gives way to the value.
  const stored = decimals === undefined ? String(value) : String(Number(value.toFixed(decimals)));
  const shown = draft !== null && (error !== null || Number(draft) === value) ? draft : stored;
  const noteId = `${id}-note`;
  const Frame = stacked ? 'div' : 'span';
  return (
    <Frame className={stacked ? 'train-field' : 'number-field'}>
      {!hideLabel && (
        <label htmlFor={id} className={stacked ? undefined : 'number-field-label'}>
          {label}
        </label>
      )}
      {range && (
        <input
          type="range"
          aria-label={`${label} slider`}
          min={range.min}
          max={range.max}
          step={stepBy}
          value={value}
          data-testid={testId ? `${testId}-slider` : undefined}
          onChange={(e: ChangeEvent<HTMLInputElement>) => {
            setDraft(null);
            setError(null);
            onChange(Number(e.target.value));
          }}
        />
      )}
      <input
        id={id}
        type="number"
        aria-label={hideLabel ? label : undefined}
        aria-invalid={error ? true : undefined}
        aria-describedby={hint || error ? noteId : undefined}
        step={stepBy}
        min={min}
        max={max}
        value={shown}
        data-testid={testId}
        onChange={(e) => commit(e.target.value)}
        onBlur={() => {
          setDraft(null);
          setError(null);
        }}
      />
      {(hint || error) && (
        <span id={noteId} className={error ? 'field-error' : 'train-hint'} role={error ? 'alert' : undefined}>
          {error ? `${label}: ${error}` : hint}
        </span>
      )}
    </Frame>
  );
}
