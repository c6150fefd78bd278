/**
 * The one interface the UI uses to reach the backend (docs/app-api.md). Two implementations
 * behave the same: Tauri IPC (`tauri.ts`) and HTTP/WebSocket against `symphony serve`
 * (`http.ts`). Only this folder knows which one is in use.
 */
import type {
  BackendError,
  FileChangedPayload,
  MelodyDocument,
  MelodyEntry,
  MelodyFile,
  Permissions,
  Problem,
  ProjectInfo,
  RunEventsPayload,
  RunEntry,
  RunRecord,
  RunFileContent,
  ForkRunArgs,
  PinInfo,
  MelodyComparison,
  CredentialSaved,
  ProviderTest,
  TestProviderArgs,
  StepComparison,
  StoreInfo,
  StepTypeInfo,
  Json,
} from "./types";

export type Unsubscribe = () => void;

export interface Backend {
  /** Which transport this is, for the status bar. */
  readonly transport: "tauri" | "http";
  projectInfo(): Promise<ProjectInfo>;
  listMelodies(): Promise<MelodyEntry[]>;
  openMelody(path: string): Promise<MelodyDocument>;
  saveMelody(path: string, melody: MelodyFile): Promise<MelodyDocument>;
  validateMelody(melody: MelodyFile): Promise<Problem[]>;
  stepTypes(): Promise<StepTypeInfo[]>;
  importSuperoptix(yaml: string): Promise<MelodyDocument>;
  /** What the open `melody` changes from `base`, step by step and field by field. */
  compareMelodies(base: MelodyFile, melody: MelodyFile): Promise<MelodyComparison>;
  /** The melody file at `path` as its git repository's HEAD has it. */
  committedMelody(path: string): Promise<MelodyDocument>;
  /** A shared `*.melody.json`'s text as a document (migrated, validated, not saved). */
  importMelody(text: string): Promise<MelodyDocument>;
  exportMelody(melody: MelodyFile): Promise<{ text: string }>;
  permissions(melody: MelodyFile): Promise<Permissions>;
  /**
   * Desktop only: asks the person, in a native dialog the app process shows, whether they trust
   * the melody; answers what they said. Absent over HTTP: a page cannot grant trust, a person
   * runs `symphony trust FILE` in a terminal instead.
   */
  trustMelody?(melody: MelodyFile): Promise<{ trusted: boolean }>;
  startRun(melody: MelodyFile, path: string | undefined, inputs: Record<string, Json>): Promise<{ runId: string }>;
  pauseRun(runId: string): Promise<void>;
  resumeRun(runId: string): Promise<void>;
  stopRun(runId: string): Promise<void>;
  /** Plays on a run that was interrupted (its finished steps kept); its events arrive on run-events. */
  continueRun(runId: string): Promise<{ runId: string }>;
  /** The run history, newest first; of one melody when `melodyId` is given. */
  listRuns(melodyId?: string, limit?: number): Promise<RunEntry[]>;
  /** A stored run with its whole event log (or only the events after `afterSeq`). */
  openRun(runId: string, afterSeq?: number): Promise<RunRecord>;
  /** A file a run wrote, with the parent run's version for a diff. */
  runFile(runId: string, path: string): Promise<RunFileContent>;
  /** Reruns from a step as a new run linked to its parent; its events arrive on run-events. */
  forkRun(args: ForkRunArgs): Promise<{ runId: string }>;
  pinStep(runId: string, step: string): Promise<PinInfo>;
  unpinStep(melodyId: string, step: string): Promise<void>;
  /** Asks a model server for its models with a typed key (never a stored one). */
  testProvider(args: TestProviderArgs): Promise<ProviderTest>;
  /** Keeps a key in the user's credential store (the keychain, else their private file). */
  setCredential(name: string, value: string): Promise<CredentialSaved>;
  /** The melody's steps pinned to an output. */
  listPins(melodyId: string): Promise<PinInfo[]>;
  compareRuns(a: string, b: string): Promise<StepComparison[]>;
  /** Where runs are kept, its size, how many runs and its retention. */
  storeInfo(): Promise<StoreInfo>;
  /** Keeps the newest `keepRuns` runs (older ones are removed now, then after each run). */
  setRetention(keepRuns: number): Promise<StoreInfo>;
  onRunEvents(handler: (payload: RunEventsPayload) => void): Unsubscribe;
  onFileChanged(handler: (payload: FileChangedPayload) => void): Unsubscribe;
  /**
   * Desktop only: the system's file dialogs, shown by the app process, for a melody anywhere on
   * disk. The chosen file is admitted by the backend and named by the path answered (null if
   * the user cancelled). Absent over HTTP: a browser stays inside the project folder.
   */
  pickMelodyToOpen?(): Promise<string | null>;
  pickMelodySaveLocation?(suggestedName: string): Promise<string | null>;
}

/** The command names and their argument objects, shared by both transports. */
export type Call = <T>(command: string, args: Record<string, unknown>) => Promise<T>;
export type Listen = <T>(channel: string, handler: (payload: T) => void) => Unsubscribe;

/** Builds a Backend from a transport's `call` and `listen`: the commands are the same for both. */
export function makeBackend(transport: Backend["transport"], call: Call, listen: Listen): Backend {
  return {
    transport,
    projectInfo: () => call("projectInfo", {}),
    listMelodies: () => call("listMelodies", {}),
    openMelody: (path) => call("openMelody", { path }),
    saveMelody: (path, melody) => call("saveMelody", { path, melody }),
    validateMelody: (melody) => call("validateMelody", { melody }),
    stepTypes: () => call("stepTypes", {}),
    importSuperoptix: (yaml) => call("importSuperoptix", { yaml }),
    importMelody: (text) => call("importMelody", { text }),
    compareMelodies: (base, melody) => call("compareMelodies", { base, melody }),
    committedMelody: (path) => call("committedMelody", { path }),
    exportMelody: (melody) => call("exportMelody", { melody }),
    permissions: (melody) => call("permissions", { melody }),
    startRun: (melody, path, inputs) => call("startRun", path ? { melody, path, inputs } : { melody, inputs }),
    pauseRun: async (runId) => {
      await call<Record<string, never>>("pauseRun", { runId });
    },
    resumeRun: async (runId) => {
      await call<Record<string, never>>("resumeRun", { runId });
    },
    stopRun: async (runId) => {
      await call<Record<string, never>>("stopRun", { runId });
    },
    continueRun: (runId) => call("continueRun", { runId }),
    listRuns: (melodyId, limit) => call("listRuns", { ...(melodyId ? { melodyId } : {}), ...(limit ? { limit } : {}) }),
    openRun: (runId, afterSeq) => call("openRun", afterSeq === undefined ? { runId } : { runId, afterSeq }),
    runFile: (runId, path) => call("runFile", { runId, path }),
    forkRun: (args) => call("forkRun", { ...args }),
    pinStep: (runId, step) => call("pinStep", { runId, step }),
    listPins: (melodyId) => call("listPins", { melodyId }),
    testProvider: (args) => call("testProvider", args),
    setCredential: (name, value) => call("setCredential", { name, value }),
    unpinStep: async (melodyId, step) => {
      await call<Record<string, never>>("unpinStep", { melodyId, step });
    },
    compareRuns: (a, b) => call("compareRuns", { a, b }),
    storeInfo: () => call("storeInfo", {}),
    setRetention: (keepRuns) => call("setRetention", { keepRuns }),
    onRunEvents: (handler) => listen<RunEventsPayload>("run-events", handler),
    onFileChanged: (handler) => listen<FileChangedPayload>("file-changed", handler),
  };
}

/** Turns whatever a transport rejected with into the contract's `{ message, problems? }`. */
export function toBackendError(raw: unknown): BackendError {
  if (typeof raw === "string") return { message: raw };
  if (raw && typeof raw === "object") {
    const r = raw as { message?: unknown; problems?: unknown };
    if (typeof r.message === "string") {
      return Array.isArray(r.problems)
        ? { message: r.message, problems: r.problems as Problem[] }
        : { message: r.message };
    }
  }
  if (raw instanceof Error) return { message: raw.message };
  return { message: "The backend failed without saying why." };
}

/** Reads a rejection's message for display. */
export function errorMessage(raw: unknown): string {
  return toBackendError(raw).message;
}
