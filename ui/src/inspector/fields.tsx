/**
 * Form fields that keep a local draft and commit on blur (or Enter), so one field edit is one
 * step in the undo history, not one per keystroke.
 */
import { useEffect, useId, useState, type ReactNode } from "react";
import type { Json } from "../backend/types";

export function Field({ label, hint, children, error }: { label: string; hint?: string; children: ReactNode; error?: string | null }) {
  return (
    <label className={`field${error ? " field-error" : ""}`}>
      <span className="field-label" title={hint}>
        {label}
      </span>
      {children}
      {hint ? <span className="field-hint">{hint}</span> : null}
      {error ? <span className="field-problem">{error}</span> : null}
    </label>
  );
}

export function TextInput({
  value,
  onCommit,
  placeholder,
  list,
  validate,
  ariaLabel,
}: {
  value: string;
  onCommit: (v: string) => void;
  placeholder?: string;
  list?: string;
  validate?: (v: string) => string | null;
  ariaLabel?: string;
}) {
  const [draft, setDraft] = useState(value);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setDraft(value), [value]);
  const commit = () => {
    if (draft === value) return;
    const problem = validate?.(draft) ?? null;
    setError(problem);
    if (problem) return;
    onCommit(draft);
  };
  return (
    <>
      <input
        type="text"
        value={draft}
        placeholder={placeholder}
        list={list}
        aria-label={ariaLabel}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          // Enter commits and keeps the keyboard here: a committed edit never moves focus.
          if (e.key === "Enter") {
            e.preventDefault();
            commit();
          }
          if (e.key === "Escape") {
            setDraft(value);
            setError(null);
          }
        }}
      />
      {error ? <span className="field-problem">{error}</span> : null}
    </>
  );
}

export function NumberInput({
  value,
  onCommit,
  integer,
  placeholder,
  ariaLabel,
}: {
  value: number | undefined;
  onCommit: (v: number | undefined) => void;
  integer?: boolean;
  placeholder?: string;
  ariaLabel?: string;
}) {
  const shown = value === undefined ? "" : String(value);
  const [draft, setDraft] = useState(shown);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setDraft(shown), [shown]);
  const commit = () => {
    if (draft === shown) return;
    if (draft.trim() === "") {
      setError(null);
      onCommit(undefined);
      return;
    }
    const n = Number(draft);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      setError(integer ? "A whole number, please." : "A number, please.");
      return;
    }
    setError(null);
    onCommit(n);
  };
  return (
    <>
      <input
        type="text"
        inputMode="numeric"
        value={draft}
        placeholder={placeholder ?? "default"}
        aria-label={ariaLabel}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            commit();
          }
        }}
      />
      {error ? <span className="field-problem">{error}</span> : null}
    </>
  );
}

export function JsonInput({
  value,
  onCommit,
  placeholder,
  rows = 4,
  ariaLabel,
}: {
  value: Json | undefined;
  onCommit: (v: Json | undefined) => void;
  placeholder?: string;
  rows?: number;
  ariaLabel?: string;
}) {
  const shown = value === undefined ? "" : JSON.stringify(value, null, 2);
  const [draft, setDraft] = useState(shown);
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  useEffect(() => setDraft(shown), [shown]);
  const commit = () => {
    if (draft === shown) return;
    if (draft.trim() === "") {
      setError(null);
      onCommit(undefined);
      return;
    }
    try {
      const parsed = JSON.parse(draft) as Json;
      setError(null);
      onCommit(parsed);
    } catch (e) {
      setError(`Not valid JSON: ${(e as Error).message}`);
    }
  };
  return (
    <>
      <textarea
        id={id}
        className="mono"
        aria-label={ariaLabel}
        rows={rows}
        value={draft}
        placeholder={placeholder ?? "JSON"}
        spellCheck={false}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
      />
      {error ? <span className="field-problem">{error}</span> : null}
    </>
  );
}
