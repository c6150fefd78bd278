/** What a step may do (network, files, command, secrets), as its type allows. */
import type { Capability, StepDoc, StepTypeInfo } from "../backend/types";
import { updateStep } from "../model/edits";
import { edit, withOptional } from "./edit";

const CAPABILITIES: Capability[] = ["network", "files", "command", "secrets"];

export function CapabilitiesEditor({ step, type }: { step: StepDoc; type: StepTypeInfo | undefined }) {
  const have = new Set(step.capabilities ?? []);
  const needed = new Set(type?.capabilities ?? []);
  return (
    <>
      <h3>Capabilities</h3>
      <div className="row wrap">
        {CAPABILITIES.map((c) => (
          <label key={c} className="check" title={needed.has(c) ? `${step.type} needs ${c}` : ""}>
            <input
              type="checkbox"
              checked={have.has(c)}
              disabled={needed.has(c) && have.has(c)}
              onChange={(e) =>
                edit((m) =>
                  updateStep(m, step.id, (s) => {
                    const caps = new Set(s.capabilities ?? []);
                    if (e.target.checked) caps.add(c);
                    else caps.delete(c);
                    return withOptional(s, "capabilities", caps.size > 0 ? CAPABILITIES.filter((x) => caps.has(x)) : undefined);
                  }),
                )
              }
            />
            {c}
          </label>
        ))}
      </div>
    </>
  );
}
