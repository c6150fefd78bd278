/** The step types, grouped by kind and searchable. Drag one onto the canvas, or click to add it in view. */
import { useMemo, useState } from "react";
import type { StepKind, StepTypeInfo } from "../backend/types";
import { useApp } from "../store/app";
import { STEP_MIME } from "../canvas/Canvas";

const GROUPS: { kind: StepKind; label: string }[] = [
  { kind: "instrument", label: "Instruments" },
  { kind: "operator", label: "Operators" },
  { kind: "addon", label: "Addons" },
  { kind: "cue", label: "Cues" },
];

export function matches(t: StepTypeInfo, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [t.name, t.title, t.description, t.group].some((s) => s.toLowerCase().includes(q));
}

export function Palette({ onAdd }: { onAdd: (t: StepTypeInfo) => void }) {
  const types = useApp((s) => s.types);
  const [query, setQuery] = useState("");
  const shown = useMemo(() => types.filter((t) => matches(t, query)), [types, query]);
  return (
    <aside className="palette" aria-label="Step palette">
      <input
        className="palette-search"
        type="search"
        placeholder="Search steps…"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      <div className="palette-list">
        {GROUPS.map(({ kind, label }) => {
          const list = shown.filter((t) => t.kind === kind);
          return (
            <section key={kind} className={`palette-group kind-${kind}`}>
              <h3>
                {label} <span className="count">{list.length}</span>
              </h3>
              {list.length === 0 ? (
                <p className="muted small">{query ? "No match." : "None in this build yet."}</p>
              ) : (
                list.map((t) => (
                  <button
                    key={t.name}
                    type="button"
                    className="palette-item"
                    draggable
                    data-type={t.name}
                    title={`${t.description}\n\nDrag onto the canvas, or click to add.`}
                    onDragStart={(e) => {
                      e.dataTransfer.setData(STEP_MIME, t.name);
                      e.dataTransfer.effectAllowed = "copy";
                    }}
                    onClick={() => onAdd(t)}
                  >
                    <span className="palette-title">{t.title}</span>
                    <span className="palette-name">{t.name}</span>
                  </button>
                ))
              )}
            </section>
          );
        })}
      </div>
    </aside>
  );
}
