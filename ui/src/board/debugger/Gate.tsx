/**
 * A gate's question and answer (`cue.gate`): what it asks a person to review (Markdown or
 * JSON), what happens if nobody answers, and, while it waits, the answer itself — approve (with
 * an optional note, and the value edited as JSON if need be) or reject (with a reason). The
 * answer goes to `answerGate`; what became of it is said, and a run that is not playing is
 * offered to be continued, which is when it takes the answer.
 */
import { memo, useMemo, useState } from "react";
import { errorMessage } from "../../backend";
import type { Decision, GateAnswerTaken, Json } from "../../backend/types";
import { api } from "../../app/actions";
import { gateKey, useGates } from "../../store/gates";
import { useRun } from "../../store/run";
import { continueAnswered } from "../actions";
import { answerProblem, decisionWord, parseEdited, stoppedTimeoutText, timeoutText, valueText } from "../gate";
import { boardNow, useLive, useTicker } from "../hooks";
import { JsonTree } from "../JsonTree";
import { Markdown } from "../Markdown";
import type { GateAsk, GateLive } from "../model";

export function Gate({ step, gate }: { step: string; gate: GateLive }) {
  const runId = useRun((s) => s.runId);
  // Answerable while the newest board (not a scrubbed moment) has it waiting.
  const waiting = useRun((s) => s.scrubMs === null && s.latest.steps[step]?.state === "waiting");
  // What became of this window's answer (kept in a store: a stopped run says nothing of it).
  const taken = useGates((s) => (runId ? s.sent[gateKey(runId, step)] : undefined)) ?? null;
  const { ask, answer } = gate;
  return (
    <div className="dbg-gate">
      {ask ? <Ask ask={ask} waiting={waiting && !taken} /> : <p className="muted small">The run found this gate's answer recorded when it was continued.</p>}
      {waiting && !taken && runId ? <AnswerForm runId={runId} step={step} value={ask?.value ?? null} /> : null}
      {taken ? <Taken runId={runId} step={step} taken={taken} /> : null}
      {answer ? (
        <div className={`dbg-gate-answer decision-${answer.decision}`} data-testid="gate-answer-detail">
          <p>
            <strong>{decisionWord(answer.decision)}</strong> by {answer.by}
            {answer.value === null ? (answer.decision === "approve" ? ", the value as it was" : "") : ", with an edited value"}
          </p>
          {answer.reason ? <p className="small">“{answer.reason}”</p> : null}
          {answer.value !== null ? <JsonTree value={answer.value} expandDepth={2} label="edited value" /> : null}
        </div>
      ) : null}
    </div>
  );
}

/** What the gate asks: its title, the review and what its timeout will do. */
const Ask = memo(function Ask({ ask, waiting }: { ask: GateAsk; waiting: boolean }) {
  const playing = useLive();
  useTicker(waiting && playing && ask.timeoutMs !== null, 1000);
  return (
    <>
      <p className="dbg-gate-title">{ask.title}</p>
      <div className="dbg-gate-review" aria-label="what to review">
        {ask.format === "markdown" ? <Markdown text={ask.review} /> : <JsonReview text={ask.review} />}
      </div>
      {waiting ? (
        <p className="dbg-gate-timeout small" data-testid="gate-timeout">
          {playing ? timeoutText(ask, boardNow()) : stoppedTimeoutText(ask)}
        </p>
      ) : null}
    </>
  );
});

/** A JSON review as a tree; text that is not JSON as it is. */
function JsonReview({ text }: { text: string }) {
  const value = useMemo((): { json: Json } | null => {
    try {
      return { json: JSON.parse(text) as Json };
    } catch {
      return null;
    }
  }, [text]);
  return value ? <JsonTree value={value.json} expandDepth={2} label="review" /> : <pre className="dbg-pre">{text}</pre>;
}

/** Approve or reject: a reason (required to reject) or note, and the value edited as JSON. */
function AnswerForm({ runId, step, value }: { runId: string; step: string; value: Json }) {
  const [reason, setReason] = useState("");
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(() => valueText(value));
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async (decision: Decision) => {
    const why = answerProblem(decision, reason);
    if (why) return setProblem(why);
    let edited: Json | undefined;
    if (decision === "approve" && editing) {
      const parsed = parseEdited(text, value);
      if (!parsed.ok) return setProblem(parsed.error);
      if (parsed.edited) edited = parsed.value;
    }
    setProblem(null);
    setBusy(true);
    try {
      useGates.getState().record(runId, step, await api().answerGate(runId, step, decision, reason.trim() || undefined, edited));
    } catch (e) {
      setProblem(`The answer was not taken: ${errorMessage(e)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="dbg-gate-form" aria-label="answer the gate" onSubmit={(e) => e.preventDefault()}>
      <label className="small">
        Reason or note <span className="muted">(a reason is required to reject)</span>
        <textarea rows={2} value={reason} aria-label="Reason or note" onChange={(e) => setReason(e.target.value)} />
      </label>
      {editing ? (
        <label className="small">
          Value that goes on (JSON)
          <textarea className="mono" rows={Math.min(14, text.split("\n").length + 1)} value={text} aria-label="Edited value (JSON)" spellCheck={false} onChange={(e) => setText(e.target.value)} />
        </label>
      ) : null}
      {problem ? (
        <p className="dbg-gate-problem small" role="alert" data-testid="gate-problem">
          {problem}
        </p>
      ) : null}
      <div className="row wrap">
        <button type="button" className="primary" disabled={busy} onClick={() => void send("approve")} title={editing ? "Approve: the edited value goes on" : "Approve: the value goes on as it is"}>
          {editing ? "Approve edited" : "Approve"}
        </button>
        <button type="button" disabled={busy} onClick={() => void send("reject")} title="Reject, saying why: the gate fails with the reason (or takes its reject route)">
          Reject
        </button>
        <button
          type="button"
          aria-expanded={editing}
          disabled={busy}
          onClick={() => {
            setEditing(!editing);
            setProblem(null);
          }}
          title={editing ? "Approve the value as it is instead" : "Change the value that goes on before approving it"}
        >
          {editing ? "Cancel the edit" : "Edit value"}
        </button>
      </div>
    </form>
  );
}

/** What became of the answer; a run that is not playing takes it when it is continued. */
function Taken({ runId, step, taken }: { runId: string | null; step: string; taken: GateAnswerTaken }) {
  const [busy, setBusy] = useState(false);
  return (
    <div className="dbg-gate-taken small" role="status" data-testid="gate-taken">
      <p>{withCode(taken.message)}</p>
      {taken.next === "stopped" && runId ? (
        <button
          type="button"
          className="primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            await continueAnswered(runId, step);
            setBusy(false);
          }}
        >
          Continue the run
        </button>
      ) : null}
    </div>
  );
}

/** The backend's message with its `quoted` ids as code. */
function withCode(message: string) {
  return message.split(/`([^`]*)`/).map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part));
}
