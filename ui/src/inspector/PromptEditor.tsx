/**
 * A template editor: `{{references}}` are highlighted in place, green when the step can see
 * them and red (with the reason listed below) when it cannot. A one-line template (a path, a
 * URL) is a one-line box where Enter commits. The "Can use" chips insert their reference where
 * the cursor is.
 */
import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
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
          onChange={(e) => setDraft(e.target.value)}
          onBlur={() => commit(draft)}
          onKeyDown={(e) => {
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
            onChange={(e) => setDraft(e.target.value)}
            onScroll={(e) => {
              if (backdrop.current) backdrop.current.scrollTop = e.currentTarget.scrollTop;
            }}
            onBlur={() => commit(draft)}
          />
        </div>
      )}
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
