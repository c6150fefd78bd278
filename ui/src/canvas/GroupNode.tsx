/** A labelled box around steps, kept in the melody's `layout` (never read by the conductor). */
import { memo, useEffect, useState } from "react";
import { NodeResizer, type NodeProps } from "@xyflow/react";
import type { GroupNode as GroupNodeType } from "../model/graph";
import { useDoc } from "../store/doc";
import { updateGroup } from "../model/edits";

function GroupNodeView({ data, selected }: NodeProps<GroupNodeType>) {
  const { group } = data;
  const [label, setLabel] = useState(group.label);
  useEffect(() => setLabel(group.label), [group.label]);
  const commit = () => {
    if (label !== group.label) useDoc.getState().edit((m) => updateGroup(m, group.id, { label }));
  };
  return (
    <div className={`group-node${selected ? " selected" : ""}`}>
      <NodeResizer isVisible={selected} minWidth={160} minHeight={100} />
      <div className="group-label">
        <input
          className="nodrag"
          value={label}
          aria-label="Group label"
          onChange={(e) => setLabel(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === "Enter") e.currentTarget.blur();
          }}
        />
      </div>
    </div>
  );
}

export const GroupNode = memo(GroupNodeView);
