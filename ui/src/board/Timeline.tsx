/**
 * The run as a Gantt chart: one row per step (in the order they were first queued), bars for
 * waiting (grey, hatched), working (accent), backing off (amber) and a gate waiting for a
 * person (amber, hatched), a failed or retried attempt's end marked. Rows are virtualised (fixed 18 px), so a thousand steps stay fast.
 * Beside it, the run's totals.
 */
import { memo, useEffect, useMemo, useRef, useState } from "react";
import { useRun } from "../store/run";
import { focusStep } from "./actions";
import { attemptsSoFar, niceTicks, spanTitle, timelineRows, visibleSlice } from "./timelineLayout";
import { formatCost, formatCount, formatTokens } from "./format";
import { emptyBoard, formatMs, liveTotals, type Span } from "./model";
import "./board.css";

export const ROW_HEIGHT = 18;
const AXIS_HEIGHT = 20;

export function Timeline() {
  const empty = useRun((s) => s.board.spans.length === 0);
  if (empty) return <p className="dock-empty muted" data-testid="timeline">Nothing on the timeline yet: steps appear here when they are queued.</p>;
  return (
    <div className="timeline" data-testid="timeline">
      <TimelineChart />
      <TimelineTotals />
    </div>
  );
}

function TimelineChart() {
  const spans = useRun((s) => s.board.spans);
  const atMs = useRun((s) => s.board.atMs);
  const total = useRun((s) => Math.max(s.latest.atMs, s.board.atMs, 1));
  const scrubbing = useRun((s) => s.scrubMs !== null);
  const focused = useRun((s) => s.focusStep);
  const rows = useMemo(() => timelineRows(spans), [spans]);
  const ticks = useMemo(() => niceTicks(total), [total]);

  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(200);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    setViewport(el.clientHeight);
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // A step focused elsewhere (canvas, warnings) scrolls into view.
  useEffect(() => {
    const el = scroller.current;
    const i = focused === null ? -1 : rows.order.indexOf(focused);
    if (!el || i < 0) return;
    const top = AXIS_HEIGHT + i * ROW_HEIGHT;
    if (top < el.scrollTop + AXIS_HEIGHT || top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, top - el.clientHeight / 2);
  }, [focused]); // only when the focus changes, not on every batch

  const [first, end] = visibleSlice(Math.max(0, scrollTop - AXIS_HEIGHT), viewport, ROW_HEIGHT, rows.order.length);
  const pct = (ms: number) => `${(Math.min(ms, total) / total) * 100}%`;

  return (
    <div className="tl-scroll" ref={scroller} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
      <div className="tl-axis" style={{ height: AXIS_HEIGHT }}>
        <span className="tl-label muted small">{formatCount(rows.order.length)} steps</span>
        <div className="tl-track">
          {ticks.map((t) => (
            <span key={t} className="tl-tick small" style={{ left: pct(t) }}>
              {formatMs(t)}
            </span>
          ))}
        </div>
      </div>
      <div className="tl-rows" style={{ height: rows.order.length * ROW_HEIGHT }}>
        {rows.order.slice(first, end).map((step, i) => (
          <TimelineRow
            key={step}
            step={step}
            top={(first + i) * ROW_HEIGHT}
            spans={rows.byStep.get(step) ?? EMPTY}
            total={total}
            now={atMs}
            focused={step === focused}
          />
        ))}
        <div className="tl-grid" aria-hidden>
          {ticks.map((t) => (
            <span key={t} style={{ left: pct(t) }} />
          ))}
          {scrubbing ? <span className="tl-now" style={{ left: pct(atMs) }} /> : null}
        </div>
      </div>
    </div>
  );
}

const EMPTY: Span[] = [];

interface RowProps {
  step: string;
  top: number;
  spans: readonly Span[];
  total: number;
  now: number;
  focused: boolean;
}

const TimelineRow = memo(function TimelineRow({ step, top, spans, total, now, focused }: RowProps) {
  return (
    <div
      className={`timeline-row${focused ? " focused" : ""}`}
      data-step={step}
      style={{ top, height: ROW_HEIGHT }}
      role="button"
      tabIndex={0}
      onClick={() => focusStep(step)}
      onKeyDown={(e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          focusStep(step);
        }
      }}
    >
      <span className="tl-label mono" title={step}>
        {step}
      </span>
      <div className="tl-track">
        {spans.map((s, i) => {
          const to = s.to ?? now;
          return (
            <span
              key={i}
              className={`tl-bar phase-${s.phase}${s.end ? ` end-${s.end}` : ""}${s.to === null ? " open" : ""}`}
              style={{ left: `${(s.from / total) * 100}%`, width: `${(Math.max(0, to - s.from) / total) * 100}%` }}
              title={spanTitle(s, now, formatMs)}
            />
          );
        })}
      </div>
    </div>
  );
});

function TimelineTotals() {
  const steps = useRun((s) => s.board.steps);
  const totals = useRun((s) => s.board.totals);
  const atMs = useRun((s) => s.board.atMs);
  const figures = useMemo(() => {
    const board = { ...emptyBoard, steps, totals };
    return { ...liveTotals(board), attempts: attemptsSoFar(board) };
  }, [steps, totals]);
  return (
    <dl className="tl-totals" aria-label="Run totals">
      <dt>Duration</dt>
      <dd>{formatMs(Math.max(totals?.elapsedMs ?? 0, atMs))}</dd>
      <dt>Tokens</dt>
      <dd>{formatTokens(figures.tokens, figures.estimated)}</dd>
      <dt>Cost</dt>
      <dd>{formatCost(figures.costUsd)}</dd>
      <dt>Not played</dt>
      <dd>
        {formatCount(figures.reused)} {figures.reused === 1 ? "step" : "steps"} (reused, kept or pinned)
      </dd>
      <dt>Attempts</dt>
      <dd>{formatCount(figures.attempts)}</dd>
    </dl>
  );
}
