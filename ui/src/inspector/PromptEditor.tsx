/**
 * A template editor: `{{references}}` are highlighted in place, green when the step can see
 * them and red (with the reason listed below) when it cannot. A one-line template (a path, a
 * URL) is a one-line box where Enter commits. The "Can use" chips insert their reference where
 * the cursor is.
 */
import { useEffect, useMemo, useRef, useState, type KeyboardEvent as ReactKeyboardEvent, type ReactNode } from "react";
import { checkRef, holes, type Scope } from "../model/templates";

export function PromptEditor({
  value,
  onCommit,
  scope,
  ariaLabel,
  singleLine = false,
}: {
  value: string;
  onCommit: (v: string) => void;
  scope: Scope;
  ariaLabel: string;
  singleLine?: boolean;
}) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  const backdrop = useRef<HTMLDivElement>(null);
  const box = useRef<HTMLTextAreaElement & HTMLInputElement>(null);
  const commit = (text: string) => {
    if (text !== value) onCommit(text);
  };
  /** Puts `{{ref}}` at the cursor (or the end), commits, and leaves the cursor after it. */
  const insert = (ref: string) => {
    const el = box.current;
    const at = el?.selectionStart ?? draft.length;
    const to = el?.selectionEnd ?? at;
    const hole = `{{${ref}}}`;
    const next = draft.slice(0, at) + hole + draft.slice(to);
    setDraft(next);
    commit(next);
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(at + hole.length, at + hole.length);
    });
  };
  const { parts, issues } = useMemo(() => {
    const parts: ReactNode[] = [];
    const issues: string[] = [];
    let at = 0;
    for (const h of holes(draft)) {
      parts.push(draft.slice(at, h.start));
      const problem = checkRef(h.ref, scope);
      if (problem) issues.push(`{{${h.ref}}}: ${problem}`);
      parts.push(
        <mark key={h.start} className={problem ? "ref bad" : "ref ok"}>
          {draft.slice(h.start, h.end)}
        </mark>,
      );
      at = h.end;
    }
    parts.push(draft.slice(at));
    // A trailing newline needs a character after it to take up height in the backdrop.
    parts.push("\u200b");
    return { parts, issues };
  }, [draft, scope]);
  // An upstream step hidden by an input port of the same name is read through that port.
  const all = [...scope.ports, ...scope.extra, ...scope.runInputs, ...[...scope.upstream].filter((s) => !scope.ports.has(s)).map((s) => `${s}.${scope.outputs.get(s)?.[0] ?? "output"}`)];
  const SHOWN = 10;
  const visible = all.slice(0, SHOWN);
  // `{{` completion: what was typed after an open hole at the cursor, and the names that fit.
  const [open, setOpen] = useState<{ at: number; typed: string } | null>(null);
  const [pick, setPick] = useState(0);
  const choices = open ? all.filter((n) => n.toLowerCase().includes(open.typed.toLowerCase())).slice(0, 8) : [];
  const track = (text: string, caret: number | null) => {
    const before = text.slice(0, caret ?? text.length);
    const m = /\{\{\s*([A-Za-z0-9_.-]*)$/.exec(before);
    setOpen(m ? { at: before.length - m[1]!.length, typed: m[1]! } : null);
    setPick(0);
  };
  /** Completes the open hole with `name`, closing it with `}}` unless it is closed already. */
  const complete = (name: string) => {
    if (!open) return;
    const el = box.current;
    const caret = el?.selectionStart ?? draft.length;
    const rest = draft.slice(caret);
    const close = /^\s*\}\}/.test(rest) ? "" : "}}";
    const next = draft.slice(0, open.at) + name + close + rest;
    const at = open.at + name.length + close.length;
    setDraft(next);
    setOpen(null);
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(at, at);
    });
  };
  const completionKeys = (e: ReactKeyboardEvent) => {
    if (!open || choices.length === 0) return false;
    if (e.key === "ArrowDown") setPick((i) => Math.min(i + 1, choices.length - 1));
    else if (e.key === "ArrowUp") setPick((i) => Math.max(i - 1, 0));
    else if (e.key === "Enter" || e.key === "Tab") complete(choices[pick] ?? choices[0]!);
    else if (e.key === "Escape") setOpen(null);
    else return false;
    e.preventDefault();
    return true;
  };
  return (
    <div className={`prompt-editor${singleLine ? " single-line" : ""}`}>
      {singleLine ? (
        <input
          ref={box}
          type="text"
          className="mono"
          aria-label={ariaLabel}
          value={draft}
          spellCheck={false}
          onChange={(e) => {
            setDraft(e.target.value);
            track(e.target.value, e.target.selectionStart);
          }}
          onBlur={() => {
            setOpen(null);
            commit(draft);
          }}
          onKeyDown={(e) => {
            if (completionKeys(e)) return;
            if (e.key === "Enter") {
              e.preventDefault();
              commit(draft);
            } else if (e.key === "Escape") setDraft(value);
          }}
        />
      ) : (
        <div className="prompt-stack">
          <div className="prompt-backdrop mono" ref={backdrop} aria-hidden>
            {parts}
          </div>
          <textarea
            ref={box}
            className="prompt-input mono"
            aria-label={ariaLabel}
            value={draft}
            rows={6}
            spellCheck={false}
            onChange={(e) => {
              setDraft(e.target.value);
              track(e.target.value, e.target.selectionStart);
            }}
            onKeyDown={(e) => void completionKeys(e)}
            onScroll={(e) => {
              if (backdrop.current) backdrop.current.scrollTop = e.currentTarget.scrollTop;
            }}
            onBlur={() => {
              setOpen(null);
              commit(draft);
            }}
          />
        </div>
      )}
      {open && choices.length > 0 ? (
        <ul className="completions" role="listbox" aria-label="Can use">
          {choices.map((c, i) => (
            <li key={c} role="option" aria-selected={i === pick}>
              <button type="button" className={`mono${i === pick ? " active" : ""}`} onMouseDown={(e) => e.preventDefault()} onClick={() => complete(c)}>
                {c}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {issues.length > 0 ? (
        <ul className="prompt-issues">
          {issues.map((m) => (
            <li key={m}>{m}</li>
          ))}
        </ul>
      ) : null}
      <div className="prompt-scope small muted">
        Can use:{" "}
        {visible.length === 0
          ? "nothing yet (connect an input or declare a run input)"
          : visible.map((v) => (
              <button
                type="button"
                key={v}
                className="chip mono"
                title={`Insert {{${v}}} at the cursor`}
                // Keep the cursor where it is in the box: the click must not take focus first.
                onMouseDown={(e) => e.preventDefault()}
                onClick={() => insert(v)}
              >
                {`{{${v}}}`}
              </button>
            ))}
        {all.length > SHOWN ? <span>and {all.length - SHOWN} more</span> : null}
      </div>
    </div>
  );
}
