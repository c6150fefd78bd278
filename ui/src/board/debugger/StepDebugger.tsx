/**
 * The step debugger: everything about the focused step in the board's run, live or stored —
 * its state and usage, a gate's question and answer (answered from here), inputs, rendered prompts, outputs (streamed text while it plays), files
 * (with a diff against the parent run), attempts, raw exchanges, timing, log and warnings —
 * and what can be done from it: rerun, take again, fork with edits, pin its output.
 *
 * The step's events come from the run's log through an incremental index, so a live batch
 * costs only its new events; the story is derived again only when the step's own events grow.
 *
 * One file per section, in this folder; this one puts them together.
 */
import { useMemo, useRef } from "react";
import type { StepDoc } from "../../backend/types";
import { useDoc } from "../../store/doc";
import { useRun } from "../../store/run";
import { JsonTree } from "../JsonTree";
import { formatCount } from "../format";
import { StepEventIndex, stepStory, type StepStory } from "../story";
import { Actions } from "./Actions";
import { Attempts } from "./Attempts";
import { Files } from "./Files";
import { Gate } from "./Gate";
import { DebuggerHeader } from "./Header";
import { Log } from "./Log";
import { Output } from "./Output";
import { Prompts } from "./Prompts";
import { RawOf } from "./Raw";
import { Rounds } from "./Rounds";
import { Section } from "./Section";
import { StepWarnings } from "./StepWarnings";
import { Timing } from "./Timing";
import "../board.css";

/** The debugger for `step`, or for the board's focused step when none is given. */
export function StepDebugger({ step: chosen }: { step?: string }) {
  const focused = useRun((s) => s.focusStep);
  const runId = useRun((s) => s.runId);
  const step = chosen ?? focused;
  if (!step) return null;
  return <DebuggerFor key={`${runId ?? ""}\u0000${step}`} step={step} />;
}

/** The step's story, derived again only when its own events (or the scrubbed moment) change. */
function useStory(step: string): StepStory {
  const log = useRun((s) => s.log);
  useRun((s) => s.logLength); // re-read the index when the log grows
  const scrubMs = useRun((s) => s.scrubMs);
  const index = useRef<StepEventIndex | null>(null);
  index.current ??= new StepEventIndex();
  const events = index.current.of(log, step);
  return useMemo(() => stepStory(events, step, scrubMs ?? Infinity), [events, step, scrubMs]);
}

/** The step as the melody declares it: the run's melody, else the editor's. */
function useStepDoc(step: string): StepDoc | undefined {
  const fromRecord = useRun((s) => s.record?.melody.steps.find((st) => st.id === step));
  const fromDoc = useDoc((s) => s.melody?.steps.find((st) => st.id === step));
  return fromRecord ?? fromDoc;
}

function DebuggerFor({ step }: { step: string }) {
  const live = useRun((s) => s.board.steps[step]);
  const story = useStory(step);
  const doc = useStepDoc(step);
  return (
    <aside className="debugger" aria-label="Step debugger" data-step={step}>
      <DebuggerHeader step={step} live={live} doc={doc} />
      {live?.gate ? (
        <Section title="Gate" label="gate">
          <Gate step={step} gate={live.gate} />
        </Section>
      ) : null}
      <Section title="Actions" label="step actions">
        <Actions step={step} live={live} />
      </Section>
      <Section title="Output" label="output section">
        <Output step={step} live={live} outputs={story.outputs} />
      </Section>
      <Section title="Inputs" label="step inputs">
        {story.inputs ? (
          <JsonTree value={story.inputs} expandDepth={2} label="inputs" />
        ) : (
          <p className="muted small">{live ? "No inputs recorded." : "Not queued yet."}</p>
        )}
        {story.items && live?.rounds ? <p className="muted small">{formatCount(story.items)} rounds queued (each with `loop`: its round and the previous round's outputs).</p> : null}
        {story.items && !live?.rounds ? <p className="muted small">{formatCount(story.items)} map items queued (each with its item and index).</p> : null}
      </Section>
      {live?.rounds?.length ? (
        <Section title="Rounds" count={live.rounds.length} label="loop rounds">
          <Rounds rounds={live.rounds} />
        </Section>
      ) : null}
      <Section title="Prompt" count={story.prompts.length} label="prompts">
        <Prompts prompts={story.prompts} />
      </Section>
      <Section title="Files" count={story.files.length} label="files">
        <Files files={story.files} />
      </Section>
      <Section title="Attempts" count={story.attempts.length} label="attempts">
        <Attempts attempts={story.attempts} origin={live?.origin} />
      </Section>
      <Section title="Timing" label="timing">
        <Timing step={step} live={live} />
      </Section>
      <Section title="Warnings" count={story.warnings.length} label="step warnings">
        <StepWarnings warnings={story.warnings} />
      </Section>
      <Section title="Log" count={story.log.length} label="step log">
        <Log lines={story.log} />
      </Section>
      <Section title="Raw" count={story.exchanges.length || undefined} label="raw exchanges" defaultOpen={false}>
        <RawOf step={step} fromLog={story.exchanges} attempts={story.attempts.length} done={story.end !== null} />
      </Section>
    </aside>
  );
}
