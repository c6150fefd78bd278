/** The prompts an instrument rendered, one per attempt (and item), with their system prompts. */
import { memo, useState } from "react";
import { formatAt, formatCount } from "../format";
import type { PromptRecord } from "../story";

const PROMPTS_SHOWN = 10;

export const Prompts = memo(function Prompts({ prompts }: { prompts: PromptRecord[] }) {
  const [all, setAll] = useState(false);
  if (prompts.length === 0) return <p className="muted small">No prompt: only instruments send one, once per attempt.</p>;
  const shown = all ? prompts : prompts.slice(0, PROMPTS_SHOWN);
  return (
    <div className="dbg-prompts">
      {shown.map((p, i) => (
        <div key={`${p.atMs}-${p.attempt}-${p.item ?? ""}-${i}`} className="dbg-prompt" role="group" aria-label="rendered prompt">
          <div className="muted small">
            attempt {p.attempt}
            {p.item !== null ? ` · item ${p.item}` : ""} · at {formatAt(p.atMs)}
          </div>
          {p.system ? (
            <>
              <div className="dbg-label">System</div>
              <pre className="dbg-pre">{p.system}</pre>
            </>
          ) : null}
          <div className="dbg-label">Prompt</div>
          <pre className="dbg-pre">{p.prompt}</pre>
        </div>
      ))}
      {!all && prompts.length > PROMPTS_SHOWN ? (
        <button type="button" className="link small" onClick={() => setAll(true)}>
          show all {formatCount(prompts.length)} prompts
        </button>
      ) : null}
    </div>
  );
});
