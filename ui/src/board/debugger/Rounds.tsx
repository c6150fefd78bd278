/** A loop's rounds: the score by round as a small chart, then each round's outputs and, on the
 * last, why the loop stopped. */
import { memo } from "react";
import { JsonTree } from "../JsonTree";
import type { LoopRound } from "../model";

export const Rounds = memo(function Rounds({ rounds }: { rounds: LoopRound[] }) {
  const last = rounds[rounds.length - 1];
  return (
    <>
      <ScoreChart rounds={rounds} />
      {last?.exit ? (
        <p className={`loop-exit exit-${last.exit}`} data-testid="loop-exit">
          Stopped after round {last.round}: <strong>{last.exit}</strong>
          {last.note ? ` — ${last.note}` : ""}
        </p>
      ) : null}
      <ol className="loop-rounds">
        {rounds.map((r) => (
          <li key={r.round} data-round={r.round}>
            <div className="loop-round-head">
              Round {r.round}
              {r.score !== null ? <span className="mono"> · score {r.score}</span> : null}
            </div>
            <JsonTree value={r.outputs} expandDepth={r.round === last?.round ? 2 : 0} label={`round ${r.round} outputs`} />
          </li>
        ))}
      </ol>
    </>
  );
});

/** Score by round, as a line over the rounds' width; nothing when no round gave a score. */
function ScoreChart({ rounds }: { rounds: LoopRound[] }) {
  const scored = rounds.filter((r) => r.score !== null) as (LoopRound & { score: number })[];
  if (scored.length === 0) return null;
  const w = 300;
  const h = 60;
  const lo = Math.min(...scored.map((r) => r.score));
  const hi = Math.max(...scored.map((r) => r.score));
  const span = hi - lo || 1;
  const n = Math.max(rounds.length - 1, 1);
  const x = (round: number) => 6 + ((round - 1) / n) * (w - 12);
  const y = (score: number) => h - 6 - ((score - lo) / span) * (h - 12);
  const points = scored.map((r) => `${x(r.round).toFixed(1)},${y(r.score).toFixed(1)}`).join(" ");
  return (
    <svg className="score-chart" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`score by round: ${scored.map((r) => r.score).join(", ")}`}>
      <polyline points={points} />
      {scored.map((r) => (
        <circle key={r.round} cx={x(r.round)} cy={y(r.score)} r={3}>
          <title>{`round ${r.round}: ${r.score}`}</title>
        </circle>
      ))}
    </svg>
  );
}
