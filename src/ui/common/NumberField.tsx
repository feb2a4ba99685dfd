import { useState, type ChangeEvent } from 'react';

interface NumberFieldProps {
  label: string;
  value: number;
  onChange: (value: number) => void;
  step?: number;
  min?: number;
  max?: number;
  /** Also show a range slider; needs min and max. */
  slider?: boolean;
  testId?: string;
  hideLabel?: boolean;
}

/**
 * A number input that lets the user pass through unparseable states ("-", "0.") while typing and
 * commits only valid, in-range numbers, so a half-typed value never reaches the method.
 */
export function NumberField({ label, value, onChange, step = 0.01, min, max, slider, testId, hideLabel }: NumberFieldProps) {
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const commit = (text: string) => {
    setDraft(text);
    const parsed = Number(text);
    if (text.trim() === '' || !Number.isFinite(parsed)) {
      setError(`${label}: not a number`);
      return;
    }
    if ((min !== undefined && parsed < min) || (max !== undefined && parsed > max)) {
      setError(`${label}: must be between ${min ?? '−∞'} and ${max ?? '∞'}`);
      return;
    }
    setError(null);
    onChange(parsed);
  };

  // A draft that no longer matches the stored value (an example was loaded meanwhile) gives way to the value.
  const shown = draft !== null && (error !== null || Number(draft) === value) ? draft : String(Number(value.toFixed(4)));
  return (
    <span className="number-field">
      {!hideLabel && <span className="number-field-label">{label}</span>}
      {slider && min !== undefined && max !== undefined && (
        <input
          type="range"
          aria-label={`${label} slider`}
          min={min}
          max={max}
          step={step}
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
        type="number"
        aria-label={label}
        aria-invalid={error ? true : undefined}
        title={error ?? undefined}
        step={step}
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
      {error && (
        <span role="alert" className="field-error">
          {error}
        </span>
      )}
    </span>
  );
}
