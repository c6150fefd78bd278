/** The app's dialogs, drawn from `useApp().dialog`. */
import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { InputDecl, Json, StepDoc, StepTypeInfo } from "../backend/types";
import { useApp, type Dialog } from "../store/app";
import { useDoc } from "../store/doc";
import {
  addNote,
  api,
  canPickFiles,
  connectToConductor,
  copySelection,
  createMelody,
  duplicateSelection,
  exportMelody,
  goHome,
  importShared,
  isMelodyText,
  layoutAll,
  openFromDisk,
  pasteClipboard,
  save,
  saveAs,
  startRun,
  suggestedPath,
} from "../app/actions";
import { matches } from "./Palette";
import { clearBoard } from "../board/actions";
import { compareWith, type CompareWith } from "../app/compare";
import { askToNotify, hasGate } from "../app/notify";
import { ProviderDialog } from "./ProviderDialog";
import { initialDrafts, lastInputs, parseDrafts, rememberInputs, RunInputsForm, type Drafts } from "./RunInputs";
import { keys, SHORTCUTS } from "../app/shortcuts";

export function Modal({ title, children, onClose, wide }: { title: string; children: ReactNode; onClose: () => void; wide?: boolean }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div className="modal-back" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className={`modal${wide ? " wide" : ""}`} role="dialog" aria-modal aria-label={title}>
        <h2>{title}</h2>
        {children}
      </div>
    </div>
  );
}

export function Dialogs({ addStepInView }: { addStepInView: (t: StepTypeInfo) => void }) {
  const dialog = useApp((s) => s.dialog);
  const close = () => useApp.getState().open(null);
  if (!dialog) return null;
  switch (dialog.kind) {
    case "confirm":
      return (
        <Modal title={dialog.title} onClose={() => dialog.resolve(false)}>
          <p>{dialog.body}</p>
          <div className="modal-actions">
            <button type="button" onClick={() => dialog.resolve(false)}>
              {dialog.cancel}
            </button>
            <button type="button" className="primary" onClick={() => dialog.resolve(true)}>
              {dialog.ok}
            </button>
          </div>
        </Modal>
      );
    case "run":
      return <RunDialog onClose={close} />;
    case "permissions":
      return <PermissionsDialog dialog={dialog} />;
    case "export":
      return <ExportDialog text={dialog.text} fileName={dialog.fileName} onClose={close} />;
    case "saveAs":
      return <SaveAsDialog resolve={dialog.resolve} />;
    case "import":
      return <ImportDialog onClose={close} />;
    case "palette":
      return <CommandPalette onClose={close} addStepInView={addStepInView} />;
    case "connect":
      return <ConnectDialog onClose={close} />;
    case "provider":
      return <ProviderDialog step={dialog.step} onClose={close} />;
    case "shortcuts":
      return <ShortcutsDialog onClose={close} />;
    case "compare":
      return <CompareDialog onClose={close} />;
  }
}

/**
 * Selectors must return the same value for the same state: a fallback written inline (`?? {}`)
 * is a new object on every call, which React takes as a change and renders again, forever
 * (React error #185, which blanked the app on Run for a melody without inputs).
 */
const NO_INPUTS: Readonly<Record<string, InputDecl>> = Object.freeze({});
const NO_STEPS: readonly StepDoc[] = Object.freeze([]);

function RunDialog({ onClose }: { onClose: () => void }) {
  const inputs = useDoc((s) => s.melody?.inputs ?? NO_INPUTS);
  const melodyId = useDoc((s) => s.melody?.melody.id ?? "");
  const problems = useDoc((s) => s.problems.length);
  const offline = useApp((s) => s.project?.offline ?? false);
  // The values this melody was last run with from this app, else the declared defaults.
  const [drafts, setDrafts] = useState<Drafts>(() => initialDrafts(inputs, lastInputs(melodyId)));
  const [error, setError] = useState<string | null>(null);
  const submit = () => {
    const parsed = parseDrafts(inputs, drafts);
    if ("error" in parsed) {
      setError(parsed.error);
      return;
    }
    rememberInputs(melodyId, parsed.values);
    // A gate may ask for the person while they look elsewhere: ask, on this click, to notify them.
    if (hasGate(useDoc.getState().melody)) askToNotify();
    onClose();
    void startRun(parsed.values as Record<string, Json>);
  };
  return (
    <Modal title="Run this melody" onClose={onClose}>
      {offline ? (
        <p className="notice offline-notice">
          No model is configured: instruments play offline (deterministic stand-in answers).{" "}
          <button type="button" className="link" onClick={() => useApp.getState().open({ kind: "provider" })}>
            Set up a provider…
          </button>
        </p>
      ) : null}
      {problems > 0 ? <p className="notice warn">The melody has {problems} problem(s); the run may be refused.</p> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <RunInputsForm inputs={inputs} drafts={drafts} onChange={setDrafts} />
        {error ? <p className="field-problem">{error}</p> : null}
        <div className="modal-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Start run
          </button>
        </div>
      </form>
    </Modal>
  );
}

function PermissionsDialog({ dialog }: { dialog: Extract<Dialog, { kind: "permissions" }> }) {
  const p = dialog.permissions;
  const path = useDoc((s) => s.path);
  const rows: [string, string[]][] = [
    ["Network", p.network],
    ["Files (in the run workspace)", p.files],
    ["Commands on this machine", p.commands],
    ["Secrets (named credentials)", p.secrets],
  ];
  const title =
    dialog.reason === "import" ? "What this imported melody may do" : dialog.reason === "run" ? "This melody needs your trust" : "What this melody may do";
  const mustTrust = p.needsTrust && !p.trusted;
  // Only a person grants trust: the desktop app asks in a window of its own; a page cannot.
  const desktop = api().trustMelody !== undefined;
  const command = `symphony trust ${path || "FILE"}`;
  return (
    <Modal title={title} onClose={() => dialog.resolve(false)} wide>
      {p.facts.length > 0 ? (
        <>
          <p>It would do this on your machine:</p>
          <ul className="trust-facts" data-testid="trust-facts">
            {p.facts.map((f) => (
              <li key={f.text} data-kind={f.kind}>
                {f.text}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <table className="perm-table">
        <tbody>
          {rows.map(([label, steps]) => (
            <tr key={label}>
              <th>{label}</th>
              <td>{steps.length === 0 ? <span className="muted">nothing</span> : steps.map((s) => <code key={s} className="chip">{s}</code>)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p data-testid="trust-state">
        {!p.needsTrust
          ? "It needs no trust: it runs no program, sends no credential away from its provider, and reaches no address of its own choosing."
          : p.trusted
            ? "You trust it as it is now. Changing what it runs, where it sends a credential or what it may reach asks again."
            : "It will not run until you trust it. Trust it only if you know where it came from."}
      </p>
      {mustTrust && !desktop ? (
        <div className="notice warn" data-testid="trust-in-terminal">
          <strong>A page cannot grant trust: you do, in a terminal.</strong>
          <p>
            {path ? "Run this where the project is, read what it shows, and answer yes:" : "Save the melody first, then run this where the project is:"}
          </p>
          <pre className="mono">{command}</pre>
          <p className="small muted">Then come back and press “Check again”.</p>
        </div>
      ) : null}
      <div className="modal-actions">
        {mustTrust ? (
          <>
            <button type="button" onClick={() => dialog.resolve(false)}>
              Not now
            </button>
            <button type="button" className="primary" onClick={() => dialog.resolve(true)}>
              {desktop ? "Trust…" : "Check again"}
            </button>
          </>
        ) : (
          <button type="button" className="primary" onClick={() => dialog.resolve(false)}>
            OK
          </button>
        )}
      </div>
    </Modal>
  );
}

function CompareDialog({ onClose }: { onClose: () => void }) {
  const path = useDoc((s) => s.path);
  const melodies = useApp((s) => s.melodies);
  const [other, setOther] = useState("");
  const others = melodies.filter((m) => m.path !== path);
  const go = (what: CompareWith) => {
    onClose();
    void compareWith(what);
  };
  return (
    <Modal title="Compare this melody with…" onClose={onClose}>
      <p className="muted small">The differences are marked on the canvas and listed step by step; you can take the other version's side of each.</p>
      <div className="compare-choices">
        <button type="button" className="primary" disabled={!path} onClick={() => go({ kind: "committed" })}>
          Its committed version (git HEAD)
        </button>
        <button type="button" disabled={!path} onClick={() => go({ kind: "saved" })}>
          The file as last saved
        </button>
        <div className="row">
          <select aria-label="Another melody" value={other} onChange={(e) => setOther(e.target.value)}>
            <option value="">Another melody…</option>
            {others.map((m) => (
              <option key={m.path} value={m.path}>
                {m.name} ({m.path})
              </option>
            ))}
          </select>
          <button type="button" disabled={!other} onClick={() => go({ kind: "file", path: other })}>
            Compare
          </button>
        </div>
      </div>
    </Modal>
  );
}

function ShortcutsDialog({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose}>
      <table className="shortcuts">
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.keys}>
              <th>
                <kbd>{keys(s.keys)}</kbd>
              </th>
              <td>{s.does}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="modal-actions">
        <button type="button" className="primary" onClick={onClose}>
          Done
        </button>
      </div>
    </Modal>
  );
}

function ExportDialog({ text, fileName, onClose }: { text: string; fileName: string; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  const href = useMemo(() => URL.createObjectURL(new Blob([text], { type: "application/json" })), [text]);
  useEffect(() => () => URL.revokeObjectURL(href), [href]);
  return (
    <Modal title="Export" onClose={onClose} wide>
      <p className="muted small">A shareable copy: no credential values, step type versions pinned.</p>
      <textarea className="mono export-text" readOnly value={text} rows={16} aria-label="Exported melody" />
      <div className="modal-actions">
        <button
          type="button"
          onClick={() =>
            void navigator.clipboard.writeText(text).then(
              () => setCopied(true),
              () => useApp.getState().notify("The clipboard is not available here; select the text and copy it.", "error"),
            )
          }
        >
          {copied ? "Copied" : "Copy"}
        </button>
        <a className="button" href={href} download={fileName}>
          Download {fileName}
        </a>
        <button type="button" className="primary" onClick={onClose}>
          Done
        </button>
      </div>
    </Modal>
  );
}

function SaveAsDialog({ resolve }: { resolve: (path: string | null) => void }) {
  const melody = useDoc((s) => s.melody);
  const [path, setPath] = useState(() => (melody ? suggestedPath(melody) : "melodies/untitled.melody.json"));
  const ok = path.endsWith(".melody.json");
  return (
    <Modal title="Save melody as" onClose={() => resolve(null)}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (ok) resolve(path);
        }}
      >
        <label className="field">
          <span className="field-label">Path in the project</span>
          <input aria-label="Save path" value={path} onChange={(e) => setPath(e.target.value)} autoFocus />
          {!ok ? <span className="field-problem">A melody file ends in .melody.json.</span> : null}
        </label>
        <div className="modal-actions">
          <button type="button" onClick={() => resolve(null)}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={!ok}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** "Connect to a conductor": the address and token `symphony serve` printed. */
function ConnectDialog({ onClose }: { onClose: () => void }) {
  const [address, setAddress] = useState("http://127.0.0.1:7878");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    // A pasted URL with ?token= fills both fields.
    let url = address.trim();
    let key = token.trim();
    const q = url.indexOf("?");
    if (q >= 0) {
      key = key || (new URLSearchParams(url.slice(q)).get("token") ?? "");
      url = url.slice(0, q);
    }
    setBusy(true);
    const problem = await connectToConductor(url, key);
    setBusy(false);
    if (problem) setError(problem);
  };
  return (
    <Modal title="Connect to a conductor" onClose={onClose}>
      <p className="muted small">
        Watch and debug runs that another machine or process plays: start <code>symphony serve</code> there (it listens on
        127.0.0.1; reach a server through an SSH tunnel) and paste the address and token it printed.
      </p>
      <label className="field">
        <span>Address</span>
        <input value={address} onChange={(e) => setAddress(e.target.value)} aria-label="Conductor address" spellCheck={false} />
      </label>
      <label className="field">
        <span>Token</span>
        <input value={token} onChange={(e) => setToken(e.target.value)} aria-label="Conductor token" spellCheck={false} type="password" />
      </label>
      {error ? (
        <p className="field-problem" role="alert">
          {error}
        </p>
      ) : null}
      <div className="modal-actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="primary" disabled={busy || !address.trim()} onClick={() => void submit()}>
          {busy ? "Connecting…" : "Connect"}
        </button>
      </div>
    </Modal>
  );
}

/** The largest file the dialog reads (the backend refuses melodies over 64 MiB anyway). */
const IMPORT_MAX_BYTES = 16 * 1024 * 1024;

function ImportDialog({ onClose }: { onClose: () => void }) {
  const [yaml, setYaml] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const file = useRef<HTMLInputElement>(null);
  const kind = !yaml.trim() ? null : isMelodyText(yaml) ? "a melody file" : "a SuperOptiX orchestra";
  return (
    <Modal title="Import a melody" onClose={onClose} wide>
      <p className="muted small">
        Open a <code>.melody.json</code> someone shared, or a SuperOptiX orchestra YAML, from a file or pasted. It opens as a new,
        unsaved melody, and you will see what it may do before anything runs.
      </p>
      <input
        ref={file}
        type="file"
        accept=".json,.yaml,.yml,application/json,text/yaml"
        aria-label="Melody or orchestra file"
        onChange={(e) => {
          const f = e.target.files?.[0];
          if (!f) return;
          if (f.size > IMPORT_MAX_BYTES) {
            setProblem(`${f.name} is ${(f.size / 1048576).toFixed(1)} MiB; a melody file is at most ${IMPORT_MAX_BYTES / 1048576} MiB.`);
            return;
          }
          setProblem(null);
          void f.text().then(setYaml);
        }}
      />
      <textarea
        className="mono"
        rows={12}
        value={yaml}
        onChange={(e) => setYaml(e.target.value)}
        placeholder={'{ "formatVersion": 1, … }  or  orchestra: …'}
        aria-label="Melody or orchestra text"
      />
      {problem ? <p className="field-problem">{problem}</p> : kind ? <p className="muted small" data-testid="import-kind">Reads as {kind}.</p> : null}
      <div className="modal-actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button
          type="button"
          className="primary"
          disabled={!yaml.trim()}
          onClick={() => {
            onClose();
            void importShared(yaml);
          }}
        >
          Import
        </button>
      </div>
    </Modal>
  );
}

interface Command {
  id: string;
  label: string;
  hint?: string;
  run: () => void;
}

function CommandPalette({ onClose, addStepInView }: { onClose: () => void; addStepInView: (t: StepTypeInfo) => void }) {
  const [query, setQuery] = useState("");
  const [index, setIndex] = useState(0);
  const types = useApp((s) => s.types);
  const steps = useDoc((s) => s.melody?.steps ?? NO_STEPS);
  const commands: Command[] = useMemo(() => {
    const fixed: Command[] = [
      { id: "save", label: "Save", hint: keys("Mod+S"), run: () => void save() },
      { id: "saveas", label: "Save as…", hint: keys("Mod+Shift+S"), run: () => void saveAs() },
      ...(canPickFiles() ? [{ id: "open", label: "Open a melody file…", hint: keys("Mod+O"), run: () => void openFromDisk() }] : []),
      { id: "run", label: "Run melody", run: () => useApp.getState().open({ kind: "run" }) },
      { id: "undo", label: "Undo", hint: keys("Mod+Z"), run: () => useDoc.getState().undo() },
      { id: "redo", label: "Redo", hint: keys("Mod+Shift+Z"), run: () => useDoc.getState().redo() },
      { id: "layout", label: "Auto-layout", run: layoutAll },
      { id: "copy", label: "Copy selection", hint: keys("Mod+C"), run: () => void copySelection() },
      { id: "paste", label: "Paste", hint: keys("Mod+V"), run: () => void pasteClipboard() },
      { id: "dup", label: "Duplicate selection", hint: keys("Mod+D"), run: duplicateSelection },
      { id: "del", label: "Delete selection", hint: "Delete", run: () => useDoc.getState().deleteSelection() },
      { id: "note", label: "Add a note", run: () => addNote({ x: 0, y: 0 }) },
      { id: "export", label: "Export…", run: () => void exportMelody() },
      { id: "import", label: "Import a melody or SuperOptiX YAML…", run: () => useApp.getState().open({ kind: "import" }) },
      { id: "new", label: "New melody", run: () => void createMelody() },
      { id: "home", label: "Back to melodies", run: () => void goHome() },
      { id: "compare", label: "Compare with its committed version or another melody…", run: () => useApp.getState().open({ kind: "compare" }) },
      { id: "clear", label: "Clear the board (back to editing)", run: () => clearBoard() },
      { id: "keys", label: "Keyboard shortcuts", hint: "?", run: () => useApp.getState().open({ kind: "shortcuts" }) },
      { id: "provider", label: "Set up a provider…", run: () => useApp.getState().open({ kind: "provider" }) },
    ];
    const add = types.map((t) => ({ id: `add-${t.name}`, label: `Add ${t.title}`, hint: t.name, run: () => addStepInView(t) }));
    const go = steps.map((s) => ({ id: `go-${s.id}`, label: `Go to ${s.name || s.id}`, hint: s.id, run: () => useDoc.getState().focusStep(s.id) }));
    return [...fixed, ...add, ...go];
  }, [types, steps, addStepInView]);
  const q = query.trim().toLowerCase();
  const shown = commands.filter((c) => !q || c.label.toLowerCase().includes(q) || (c.hint ?? "").toLowerCase().includes(q) || (c.id.startsWith("add-") && matchesType(types, c.id.slice(4), q))).slice(0, 12);
  const choose = (c: Command | undefined) => {
    if (!c) return;
    onClose();
    c.run();
  };
  return (
    <Modal title="Commands" onClose={onClose}>
      <input
        autoFocus
        aria-label="Command"
        placeholder="Type a command, a step type or a step…"
        value={query}
        onChange={(e) => {
          setQuery(e.target.value);
          setIndex(0);
        }}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") setIndex((i) => Math.min(i + 1, shown.length - 1));
          else if (e.key === "ArrowUp") setIndex((i) => Math.max(i - 1, 0));
          else if (e.key === "Enter") choose(shown[index]);
          else return;
          e.preventDefault();
        }}
      />
      <ul className="commands">
        {shown.map((c, i) => (
          <li key={c.id}>
            <button type="button" className={i === index ? "active" : ""} onMouseEnter={() => setIndex(i)} onClick={() => choose(c)}>
              <span>{c.label}</span>
              {c.hint ? <span className="muted small">{c.hint}</span> : null}
            </button>
          </li>
        ))}
        {shown.length === 0 ? <li className="muted">No command matches.</li> : null}
      </ul>
    </Modal>
  );
}

function matchesType(types: StepTypeInfo[], name: string, q: string): boolean {
  const t = types.find((x) => x.name === name);
  return t ? matches(t, q) : false;
}
