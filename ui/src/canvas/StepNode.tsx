/**
 * A step on the canvas: its kind, name, type, typed ports as handles, validation problems and
 * live run state. Memoised, and split so a run batch costs little: the node itself subscribes
 * only to its step's state (which changes a few times per run), and the live footer (elapsed
 * time, streamed tokens, progress, warnings) is its own component, the only part that
 * re-renders as tokens stream. Zoomed far out, the footer shows the state alone and ticks
 * nothing: hundreds of streaming steps in view then cost one render each per state change.
 */
import { memo } from "react";
import { Handle, Position, useStore, type NodeProps } from "@xyflow/react";
import { create } from "zustand";
import type { StepNode as StepNodeType } from "../model/graph";
import { NEW_INPUT } from "../model/ports";
import { useRun, type StepRun, type StepState } from "../store/run";
import { formatBytes, formatMs, stateWord, type LoopRound } from "../board/model";
import { answerWord } from "../board/gate";
import { useDoc } from "../store/doc";
import { usePins } from "../store/pins";
import { useCompare } from "../store/compare";
import { conflictsOf, conflictStep } from "../app/conflicts";

const WORKING: ReadonlySet<StepState> = new Set(["running", "retrying"]);

/** Below this zoom the footer shows the state only (the text would be unreadable anyway). */
export const DETAIL_ZOOM = 0.45;

/**
 * One clock for every working step's elapsed time: a single timer while a live run plays,
 * instead of one per node.
 */
const useClock = create<{ now: number }>()(() => ({ now: 0 }));
let clockTimer: ReturnType<typeof setInterval> | null = null;
useRun.subscribe((s) => {
  const ticking = s.scrubMs === null && s.source === "live" && (s.latest.phase === "running" || s.latest.phase === "paused");
  if (ticking && !clockTimer) clockTimer = setInterval(() => useClock.setState({ now: performance.now() }), 250);
  else if (!ticking && clockTimer) {
    clearInterval(clockTimer);
    clockTimer = null;
  }
});

/**
 * How long the step has been at it: its measured time once done; while it works, the time since
 * its first start, ticking between batches (from the newest event's time plus the wall time
 * since that batch arrived). Scrubbing a stored run freezes it at the scrubbed moment.
 */
function useElapsed(run: StepRun): number | undefined {
  const working = WORKING.has(run.state) && run.startedAt !== undefined;
  useClock((c) => (working ? c.now : 0));
  if (!working) return run.elapsedMs;
  const { board, receivedAt, scrubMs, source } = useRun.getState();
  const live = scrubMs === null && source === "live" && board.phase === "running";
  const now = board.atMs + (live ? performance.now() - receivedAt : 0);
  return Math.max(0, now - (run.startedAt ?? now));
}

/** The step's work as a bar: map items done, tokens against maxTokens, or an indeterminate stripe. */
function Progress({ run, maxTokens }: { run: StepRun; maxTokens: number | undefined }) {
  if (!WORKING.has(run.state)) return null;
  let fraction: number | null = null;
  if (run.items && run.items.total > 0) fraction = run.items.done / run.items.total;
  else if (maxTokens && run.tokens > 0) fraction = Math.min(1, run.tokens / maxTokens);
  return (
    <div className={`step-progress${fraction === null ? " indeterminate" : ""}`} role="progressbar" aria-valuenow={fraction === null ? undefined : Math.round(fraction * 100)}>
      <div style={fraction === null ? undefined : { width: `${Math.round(fraction * 100)}%` }} />
    </div>
  );
}

/** The state alone: what a far zoomed-out node shows. */
const StateOnly = memo(function StateOnly({ id, state }: { id: string; state: StepState }) {
  const origin = useRun((s) => s.steps[id]?.origin);
  const pinned = usePins((s) => s.pinned[id] !== undefined);
  return (
    <div className={`step-state state-${state}`}>
      <span className="dot" />
      <span className="state-label">{stateWord(state, origin, pinned)}</span>
    </div>
  );
});

/** The live footer: state, attempt, items, elapsed, streamed tokens, warnings and progress. */
const LiveFooter = memo(function LiveFooter({ id, maxTokens }: { id: string; maxTokens: number | undefined }) {
  const run = useRun((s) => s.steps[id]);
  const pinned = usePins((s) => s.pinned[id] !== undefined);
  if (!run) return null;
  return <LiveFooterOf run={run} maxTokens={maxTokens} pinned={pinned} />;
});

function LiveFooterOf({ run, maxTokens, pinned }: { run: StepRun; maxTokens: number | undefined; pinned: boolean }) {
  const elapsed = useElapsed(run);
  return (
    <>
      <div className={`step-state state-${run.state}`} title={run.detail ?? ""}>
        <span className="dot" />
        <span className="state-label">{stateWord(run.state, run.origin, pinned)}</span>
        {run.attempt > 1 && !run.items && !run.rounds ? <span data-testid="attempt"> · attempt {run.attempt}</span> : null}
        {run.items ? ` · ${run.items.done}/${run.items.total}` : ""}
        {run.rounds?.length ? <span data-testid="loop-round"> · {roundWord(run.rounds)}</span> : null}
        {elapsed !== undefined ? <span className="elapsed"> · {formatMs(elapsed)}</span> : null}
        {run.tokens > 0 ? <span className="streamed" title={`${formatBytes(run.bytes)} streamed`}> · {run.tokens} tok</span> : null}
        {run.warnings > 0 ? (
          <span className="step-warning" title="Bottleneck warnings: see the board's Warnings tab" data-testid="step-warning">
            ⚑ {run.warnings}
          </span>
        ) : null}
      </div>
      <Progress run={run} maxTokens={maxTokens} />
    </>
  );
}

function StepNodeView({ id, data, selected }: NodeProps<StepNodeType>) {
  const state = useRun((s) => s.steps[id]?.state);
  // Whether it has a bottleneck warning (changes once per warned step): zoomed far out, where
  // the ⚑ count is not drawn, the box is outlined instead.
  const warned = useRun((s) => (s.steps[id]?.warnings ?? 0) > 0);
  const detailed = useStore((s) => s.transform[2] >= DETAIL_ZOOM);
  const problems = useDoc((s) => s.problemsByStep[id]);
  const pinned = usePins((s) => s.pinned[id] !== undefined);
  const compared = useCompare((s) => s.marks[id]);
  // A git merge left a conflict in this step for the person to settle.
  const conflicted = useDoc((s) => conflictsOf(s.melody).some((c) => conflictStep(c) === id));
  // The run on the board gave it a pinned output made from other inputs than it got.
  const stale = useRun((s) => pinned && s.board.warnings.some((w) => w.step === id && w.kind === "pinnedStale"));
  const { step, type, ins, outs, extraIn, preview } = data;
  const title = step.name || step.id;
  const classes = ["step-node", `kind-${step.kind}`];
  if (selected) classes.push("selected");
  if (state) classes.push(`state-${state}`);
  // A gate: waiting for a person, then how it was answered (both change once per gate).
  const asking = state === "waiting";
  const answer = useRun((s) => s.steps[id]?.gate?.answer);
  if (problems) classes.push("has-problems");
  if (warned) classes.push("warned");
  if (compared) classes.push(`compare-${compared}`);
  if (conflicted) classes.push("merge-conflict");
  return (
    <div className={classes.join(" ")} data-step={id} data-state={state ?? "idle"} data-compare={compared} data-conflict={conflicted || undefined}>
      <div className="step-head">
        <span className="step-kind">{step.kind}</span>
        <span className="step-title" title={title}>
          {title}
        </span>
        {pinned ? (
          <span
            className={`step-pin${stale ? " stale" : ""}`}
            data-testid="pinned"
            title={
              stale
                ? "Pinned, and stale: its output was made from other inputs than it got in this run. Unpin it in its settings to play it again."
                : "Pinned: runs reuse its chosen output instead of playing it. Unpin it in its settings."
            }
          >
            pinned{stale ? " · stale" : ""}
          </span>
        ) : null}
        {problems ? (
          <span className="step-problems" title={problems.map((p) => p.message).join("\n")}>
            ⚠ {problems.length}
          </span>
        ) : null}
      </div>
      <div className="step-type" title={type?.description ?? `Unknown step type ${step.type}`}>
        {/* A gate's call or answer, on the type's line: the title keeps the head's room. */}
        {asking ? (
          <span className="step-gate-call" data-testid="gate-waiting" title="A gate: a person approves or rejects before the branch goes on. Open its Last run to answer.">
            waiting for you
          </span>
        ) : answer ? (
          <span className={`step-gate-answer decision-${answer.decision}`} data-testid="gate-answer" title={answer.reason ? `${answerWord(answer)}: ${answer.reason}` : answerWord(answer)}>
            {answerWord(answer)}
          </span>
        ) : null}
        {step.id !== title ? <span className="step-id">{step.id} · </span> : null}
        {type ? type.title : <span className="unknown">unknown type {step.type}</span>}
      </div>
      {preview ? (
        <div className="step-preview mono" title={preview}>
          {preview}
        </div>
      ) : null}
      <div className="step-ports">
        <div className="ports-in">
          {ins.map((p) => (
            <div className="port port-in" key={p.name} title={`${p.name}: ${p.ty}${p.required ? " (required)" : ""}`}>
              <Handle type="target" position={Position.Left} id={p.name} className={`handle ty-${p.ty}`} />
              <span className="port-name">{p.name}</span>
              <span className="port-ty">{p.ty}</span>
            </div>
          ))}
          {extraIn ? (
            <div className="port port-in port-new" title="Drop an edge here to add an input port">
              <Handle type="target" position={Position.Left} id={NEW_INPUT} className="handle handle-new" />
              <span className="port-name">+ input</span>
            </div>
          ) : null}
        </div>
        <div className="ports-out">
          {outs.map((p) => (
            <div className="port port-out" key={p.name} title={`${p.name}: ${p.ty}`}>
              <span className="port-ty">{p.ty}</span>
              <span className="port-name">{p.name}</span>
              <Handle type="source" position={Position.Right} id={p.name} className={`handle ty-${p.ty}`} />
            </div>
          ))}
        </div>
      </div>
      {state ? detailed ? <LiveFooter id={id} maxTokens={typeof step.config?.maxTokens === "number" ? step.config.maxTokens : undefined} /> : <StateOnly id={id} state={state} /> : null}
    </div>
  );
}

export const StepNode = memo(StepNodeView);

/** A loop's last round on its node: "round 3", or "round 3 · approved" once it stopped. */
function roundWord(rounds: LoopRound[]): string {
  const last = rounds[rounds.length - 1];
  if (!last) return "";
  return last.exit ? `round ${last.round} · ${last.exit}` : `round ${last.round}`;
}
