/**
 * A JSON value as an expandable tree: objects and arrays fold, long strings are cut with a
 * "show all", big arrays show their first hundred entries; a "copy" button copies it as text.
 */
import { memo, useState } from "react";
import type { Json } from "../backend/types";
import { useApp } from "../store/app";
import "./board.css";

const STRING_LIMIT = 300;
const CHILD_LIMIT = 100;

export interface JsonTreeProps {
  value: Json;
  /** Levels open at first (1: the root's entries are shown, folded themselves). */
  expandDepth?: number;
  /** Show the copy button (default true). */
  copy?: boolean;
  /** Accessible name of the tree. */
  label?: string;
}

export const JsonTree = memo(function JsonTree({ value, expandDepth = 1, copy = true, label }: JsonTreeProps) {
  return (
    <div className="json-tree mono" role="group" aria-label={label}>
      {copy ? (
        <button type="button" className="json-copy link small" onClick={() => void copyJson(value)} aria-label="copy JSON">
          copy
        </button>
      ) : null}
      <JsonNode name={null} value={value} depth={0} expandDepth={expandDepth} />
    </div>
  );
});

async function copyJson(value: Json): Promise<void> {
  try {
    await navigator.clipboard.writeText(JSON.stringify(value, null, 2));
    useApp.getState().notify("Copied as JSON");
  } catch {
    useApp.getState().notify("Could not copy: the clipboard is not available here", "error");
  }
}

interface NodeProps {
  name: string | null;
  value: Json;
  depth: number;
  expandDepth: number;
}

function JsonNode({ name, value, depth, expandDepth }: NodeProps) {
  const [open, setOpen] = useState(depth < expandDepth);
  const [limit, setLimit] = useState(CHILD_LIMIT);
  const key = name === null ? null : <span className="json-key">{name}: </span>;
  if (value === null || typeof value !== "object") {
    return (
      <div className="json-row">
        {key}
        <JsonScalar value={value} />
      </div>
    );
  }
  const isArray = Array.isArray(value);
  const entries: [string, Json][] = isArray ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const summary = isArray ? `[${entries.length}]` : `{${entries.length}}`;
  if (entries.length === 0) {
    return (
      <div className="json-row">
        {key}
        <span className="json-punct">{isArray ? "[]" : "{}"}</span>
      </div>
    );
  }
  return (
    <div className="json-node">
      <button type="button" className="json-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span className="json-caret">{open ? "▾" : "▸"}</span>
        {key}
        <span className="json-punct">{summary}</span>
        {!open ? <span className="json-preview">{preview(value)}</span> : null}
      </button>
      {open ? (
        <div className="json-children">
          {entries.slice(0, limit).map(([k, v]) => (
            <JsonNode key={k} name={k} value={v} depth={depth + 1} expandDepth={expandDepth} />
          ))}
          {entries.length > limit ? (
            <button type="button" className="link small" onClick={() => setLimit(limit + 500)}>
              show {Math.min(500, entries.length - limit)} more of {entries.length - limit}
            </button>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

/** A one-line glimpse of a folded value. */
function preview(value: Json): string {
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

function JsonScalar({ value }: { value: string | number | boolean | null }) {
  if (typeof value === "string") return <JsonString value={value} />;
  if (value === null) return <span className="json-null">null</span>;
  return <span className={typeof value === "number" ? "json-num" : "json-bool"}>{String(value)}</span>;
}

function JsonString({ value }: { value: string }) {
  const [all, setAll] = useState(false);
  if (all || value.length <= STRING_LIMIT) return <span className="json-str">&quot;{value}&quot;</span>;
  return (
    <>
      <span className="json-str">&quot;{value.slice(0, STRING_LIMIT)}…&quot;</span>{" "}
      <button type="button" className="link small" onClick={() => setAll(true)}>
        show all ({value.length.toLocaleString("en-US")} chars)
      </button>
    </>
  );
}
