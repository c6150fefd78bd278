/** The files the step wrote, each readable from the run, with its changes from the parent run. */
import { memo, useEffect, useState } from "react";
import { errorMessage } from "../../backend";
import type { RunFileContent } from "../../backend/types";
import { api } from "../../app/actions";
import { useRun } from "../../store/run";
import { formatBytes } from "../model";
import type { FileRecord } from "../story";
import { FileDiff } from "./FileDiff";

export const Files = memo(function Files({ files }: { files: FileRecord[] }) {
  const runId = useRun((s) => s.runId);
  const [open, setOpen] = useState<string | null>(null);
  if (files.length === 0) return <p className="muted small">No files written.</p>;
  // The newest write of each path.
  const byPath = new Map<string, FileRecord>();
  for (const f of files) byPath.set(f.path, f);
  return (
    <div className="dbg-files">
      <ul className="dbg-file-list">
        {[...byPath.values()].map((f) => (
          <li key={f.path}>
            <button type="button" className={`link mono${open === f.path ? " active" : ""}`} onClick={() => setOpen(open === f.path ? null : f.path)}>
              {f.path}
            </button>
            <span className="muted small"> {formatBytes(f.bytes)}</span>
          </li>
        ))}
      </ul>
      {open && runId ? <FileView key={open} runId={runId} path={open} /> : null}
    </div>
  );
});

function FileView({ runId, path }: { runId: string; path: string }) {
  const [file, setFile] = useState<RunFileContent | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [mode, setMode] = useState<"diff" | "text">("diff");
  useEffect(() => {
    let live = true;
    api()
      .runFile(runId, path)
      .then((f) => live && setFile(f))
      .catch((e: unknown) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [runId, path]);
  if (error) return <p className="bad small">Could not read {path}: {error}</p>;
  if (!file) return <p className="muted small">Reading {path}…</p>;
  if (file.text === null) return <p className="muted small">{file.note ?? "The file is not text."} ({formatBytes(file.bytes)})</p>;
  const hasPrevious = file.previous !== null;
  return (
    <div className="dbg-file" data-path={path}>
      {hasPrevious ? (
        <span className="seg" role="radiogroup" aria-label="Show the file as">
          <button type="button" role="radio" aria-checked={mode === "diff"} className={mode === "diff" ? "active" : ""} onClick={() => setMode("diff")}>
            Changes from the parent run
          </button>
          <button type="button" role="radio" aria-checked={mode === "text"} className={mode === "text" ? "active" : ""} onClick={() => setMode("text")}>
            Text
          </button>
        </span>
      ) : null}
      {hasPrevious && mode === "diff" ? <FileDiff previous={file.previous ?? ""} text={file.text} /> : <pre className="dbg-pre" aria-label="file text">{file.text}</pre>}
    </div>
  );
}
