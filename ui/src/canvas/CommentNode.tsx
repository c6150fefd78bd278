/** A sticky note, kept in the melody's `layout` (never read by the conductor). */
import { memo, useEffect, useState } from "react";
import { NodeResizer, type NodeProps } from "@xyflow/react";
import type { CommentNode as CommentNodeType } from "../model/graph";
import { useDoc } from "../store/doc";
import { updateComment } from "../model/edits";

function CommentNodeView({ data, selected }: NodeProps<CommentNodeType>) {
  const { comment } = data;
  const [text, setText] = useState(comment.text);
  useEffect(() => setText(comment.text), [comment.text]);
  const commit = () => {
    if (text !== comment.text) useDoc.getState().edit((m) => updateComment(m, comment.id, { text }));
  };
  return (
    <div className={`comment-node${selected ? " selected" : ""}`}>
      <NodeResizer isVisible={selected} minWidth={120} minHeight={60} />
      <div className="comment-grip" title="Drag to move">
        note
      </div>
      <textarea
        className="comment-text nodrag nowheel"
        value={text}
        aria-label="Note text"
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
      />
    </div>
  );
}

export const CommentNode = memo(CommentNodeView);
