/** A folding section of the step debugger; which sections are folded is kept across steps. */
import { useState, type ReactNode } from "react";
import { formatCount } from "../format";

/** Which sections are folded, kept across steps. */
const folded = new Map<string, boolean>();

export function Section({ title, label, count, defaultOpen = true, children }: { title: string; label: string; count?: number; defaultOpen?: boolean; children: ReactNode }) {
  const [open, setOpen] = useState(() => !(folded.get(title) ?? !defaultOpen));
  const toggle = () => {
    folded.set(title, open);
    setOpen(!open);
  };
  return (
    <section className={`dbg-section${open ? "" : " folded"}`} aria-label={label}>
      <h3>
        <button type="button" className="dbg-toggle" aria-expanded={open} onClick={toggle}>
          <span className="dbg-caret">{open ? "▾" : "▸"}</span> {title}
          {count !== undefined ? <span className="count"> {formatCount(count)}</span> : null}
        </button>
      </h3>
      {open ? <div className="dbg-body">{children}</div> : null}
    </section>
  );
}
