/**
 * The node canvas. Nodes and edges come from the document store (derived from the melody);
 * changes go back through it, so every edit is in the one undo history. Connections are
 * checked with the same rules as the validator, and a refused one says why.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  ReactFlow,
  useReactFlow,
  useStore,
  type Connection,
  type FinalConnectionState,
  type IsValidConnection,
  type EdgeTypes,
  type NodeTypes,
  type OnConnectEnd,
} from "@xyflow/react";
import { useDoc } from "../store/doc";
import { useApp } from "../store/app";
import { canConnect, type PortRef } from "../model/ports";
import { addEdge, addStep } from "../model/edits";
import { NODE_WIDTH, stepHeight, type FlowEdge, type FlowNode } from "../model/graph";
import { keys } from "../app/shortcuts";
import { insertOnEdge } from "../model/insert";
import { StepNode } from "./StepNode";
import { CommentNode } from "./CommentNode";
import { GroupNode } from "./GroupNode";
import { FlowEdgeComponent } from "./FlowEdge";
import { useRun } from "../store/run";
import { counts } from "../board/model";

/**
 * With more steps than this working at once, the canvas stops its endless animations (pulsing
 * dots, sliding progress stripes, marching edges): each animated element costs the compositor
 * every frame, and hundreds of them made the page fall a minute behind a 1,000-step fan-out
 * (ui/PERFORMANCE.md). States, counts and progress still show; only the motion stops.
 */
export const CALM_ABOVE = 24;

/**
 * Below this zoom a step's text is under ~4 px tall: the canvas paints each step as a box filled
 * with its state's colour instead (`.canvas.far` in styles.css). Zoomed to fit 1,000 streaming
 * steps, this halved the lag from a step's end to the screen (ui/PERFORMANCE.md).
 */
export const FAR_ZOOM = 0.3;

export const STEP_MIME = "application/x-symphony-step";

// Module scope, as React Flow asks: a new object per render would remount every node.
const nodeTypes: NodeTypes = { step: StepNode, comment: CommentNode, group: GroupNode };
const edgeTypes: EdgeTypes = { flow: FlowEdgeComponent };

function ends(c: Connection | FlowEdge): { from: PortRef; to: PortRef } {
  return {
    from: { step: c.source, port: c.sourceHandle ?? "" },
    to: { step: c.target, port: c.targetHandle ?? "" },
  };
}

function check(c: Connection | FlowEdge) {
  const { melody, types } = useDoc.getState();
  if (!melody) return { ok: false as const, reason: "No melody is open." };
  const { from, to } = ends(c);
  return canConnect(melody, types, from, to);
}

const miniMapColor = (n: FlowNode) => {
  if (n.type !== "step") return "transparent";
  switch (n.data.step.kind) {
    case "instrument":
      return "var(--instrument)";
    case "operator":
      return "var(--operator)";
    case "addon":
      return "var(--addon)";
    default:
      return "var(--cue)";
  }
};

/**
 * Below this zoom a step's text is too small to read (at 0.49, a 7-step example showed ~5 px
 * text): a melody opens at this zoom or closer, panned to its start, rather than squeezed to
 * fit. The controls' "fit view" still shows it all.
 */
export const READABLE_ZOOM = 0.75;

/**
 * Where a melody opens: the whole of it when it fits at a readable zoom (centred, up to 1×), else
 * at `READABLE_ZOOM` from its top-left corner, so the first steps can be read and the rest is a
 * pan away. From the layout alone (nodes are not measured yet).
 */
export function readableViewport(nodes: readonly FlowNode[], width: number, height: number): { x: number; y: number; zoom: number } {
  if (nodes.length === 0) return { x: 40, y: 40, zoom: 1 };
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const n of nodes) {
    const w = n.width ?? NODE_WIDTH;
    const h = n.height ?? (n.type === "step" ? stepHeight(n.data) : 100);
    x1 = Math.min(x1, n.position.x);
    y1 = Math.min(y1, n.position.y);
    x2 = Math.max(x2, n.position.x + w);
    y2 = Math.max(y2, n.position.y + h);
  }
  const pad = 40;
  const fit = Math.min((width - 2 * pad) / (x2 - x1), (height - 2 * pad) / (y2 - y1));
  const zoom = Math.min(1, Math.max(READABLE_ZOOM, fit));
  // Each axis: centred when it fits at this zoom, else from its start.
  const place = (lo: number, hi: number, room: number) => ((hi - lo) * zoom <= room - 2 * pad ? room / 2 - ((lo + hi) / 2) * zoom : pad - lo * zoom);
  return { x: place(x1, x2, width), y: place(y1, y2, height), zoom };
}

/** The box around every node, in flow coordinates (measured sizes when known); null when empty. */
function extentOf(nodes: readonly FlowNode[]): { x1: number; y1: number; x2: number; y2: number } | null {
  if (nodes.length === 0) return null;
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const n of nodes) {
    const w = n.measured?.width ?? n.width ?? NODE_WIDTH;
    const h = n.measured?.height ?? n.height ?? (n.type === "step" ? stepHeight(n.data) : 100);
    x1 = Math.min(x1, n.position.x);
    y1 = Math.min(y1, n.position.y);
    x2 = Math.max(x2, n.position.x + w);
    y2 = Math.max(y2, n.position.y + h);
  }
  return { x1, y1, x2, y2 };
}

/**
 * The canvas's expected size before it is measured: the window minus the palette, the right
 * column, the toolbar and the board's dock with no run.
 */
function expectedCanvasSize(): { width: number; height: number } {
  return { width: Math.max(300, window.innerWidth - 220 - 330), height: Math.max(200, window.innerHeight - 44 - 34) };
}

export function Canvas() {
  const nodes = useDoc((s) => s.nodes);
  const edges = useDoc((s) => s.edges);
  const onNodesChange = useDoc((s) => s.onNodesChange);
  const onEdgesChange = useDoc((s) => s.onEdgesChange);
  const focus = useDoc((s) => s.focus);
  const loads = useDoc((s) => s.loads);
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const [hint, setHint] = useState<string | null>(null);
  const calm = useRun((s) => s.source !== "none" && counts(s.board).active > CALM_ABOVE);
  const far = useStore((s) => s.transform[2] < FAR_ZOOM);
  // The overview map only while part of the melody is out of view: when all of it is on the
  // canvas the map tells nothing, and it would cover (and take the clicks of) steps under it.
  const bounds = useMemo(() => extentOf(nodes), [nodes]);
  const partlyHidden = useStore((s) => {
    if (!bounds) return false;
    const [x, y, zoom] = s.transform;
    return bounds.x1 * zoom + x < 0 || bounds.y1 * zoom + y < 0 || bounds.x2 * zoom + x > s.width || bounds.y2 * zoom + y > s.height;
  });
  const wrapper = useRef<HTMLDivElement>(null);

  const onConnect = useCallback((c: Connection) => {
    const r = check(c);
    if (!r.ok) {
      useApp.getState().notify(r.reason, "error");
      return;
    }
    useDoc.getState().edit((m) => addEdge(m, r.edge, r.newPort, r.replaces));
    if (r.replaces) useApp.getState().notify(`Replaced ${r.replaces.from} → ${r.replaces.to}: an input takes one edge (${keys("Mod+Z")} brings it back).`);
  }, []);

  const isValidConnection: IsValidConnection<FlowEdge> = useCallback((c) => {
    const r = check(c);
    setHint(r.ok ? null : r.reason);
    return r.ok;
  }, []);

  const onConnectEnd: OnConnectEnd = useCallback((_event, state: FinalConnectionState) => {
    setHint(null);
    if (state.isValid || !state.fromHandle || !state.toHandle) return;
    const [a, b] = state.fromHandle.type === "source" ? [state.fromHandle, state.toHandle] : [state.toHandle, state.fromHandle];
    const r = check({ source: a.nodeId, sourceHandle: a.id ?? null, target: b.nodeId, targetHandle: b.id ?? null });
    if (!r.ok) useApp.getState().notify(`Not connected: ${r.reason}`, "error");
  }, []);

  // A step dropped onto an edge goes into it (once the drag's move is committed).
  const onNodeDragStop = useCallback((_e: unknown, node: FlowNode, dragged: FlowNode[]) => {
    if (node.type !== "step" || dragged.length !== 1) return;
    setTimeout(() => {
      const { melody, types, nodes: now } = useDoc.getState();
      if (!melody) return;
      const boxes = new Map(
        now
          .filter((n) => n.type === "step")
          .map((n) => [n.id, { x: n.position.x, y: n.position.y, width: n.measured?.width ?? NODE_WIDTH, height: n.measured?.height ?? (n.type === "step" ? stepHeight(n.data) : 100) }]),
      );
      const r = insertOnEdge(melody, types, node.id, boxes);
      if (!r) return;
      useDoc.getState().edit(() => r.melody);
      useApp.getState().notify(r.said);
    }, 0);
  }, []);

  const onDragOver = useCallback((e: DragEvent) => {
    if (e.dataTransfer.types.includes(STEP_MIME)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    }
  }, []);

  const onDrop = useCallback(
    (e: DragEvent) => {
      const name = e.dataTransfer.getData(STEP_MIME);
      if (!name) return;
      e.preventDefault();
      const type = useDoc.getState().types.get(name);
      if (!type) return;
      const at = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
      let id = "";
      useDoc.getState().edit((m) => {
        const r = addStep(m, type, { x: at.x - 110, y: at.y - 30 });
        id = r.id;
        return r.melody;
      });
      if (id) useDoc.getState().select([id]);
    },
    [flow],
  );

  // Centre a step the problems list or the command palette asked for.
  useEffect(() => {
    if (!focus) return;
    const n = flow.getNode(focus.id);
    if (!n) return;
    const w = n.measured?.width ?? 220;
    const h = n.measured?.height ?? 100;
    void flow.setCenter(n.position.x + w / 2, n.position.y + h / 2, { zoom: Math.max(flow.getZoom(), 1), duration: 300 });
  }, [focus, flow]);

  // The first render is already placed (see `readableViewport`), so a large melody is laid out
  // once; later loads (a reload after the file changed on disk) fit again.
  const [initial] = useState(() => {
    const { width, height } = expectedCanvasSize();
    return { loads: useDoc.getState().loads, viewport: readableViewport(useDoc.getState().nodes, width, height) };
  });
  useEffect(() => {
    if (loads === initial.loads) return;
    const t = setTimeout(() => {
      const box = wrapper.current?.getBoundingClientRect();
      const size = box && box.width > 0 ? { width: box.width, height: box.height } : expectedCanvasSize();
      void flow.setViewport(readableViewport(useDoc.getState().nodes, size.width, size.height));
    }, 30);
    return () => clearTimeout(t);
  }, [loads, flow, initial]);

  return (
    <div className={`canvas${calm ? " calm" : ""}${far ? " far" : ""}`} ref={wrapper} onDragOver={onDragOver} onDrop={onDrop} data-testid="canvas">
      <ReactFlow<FlowNode, FlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        onNodeDragStop={onNodeDragStop}
        isValidConnection={isValidConnection}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={["Meta", "Control"]}
        minZoom={0.05}
        maxZoom={2.5}
        onlyRenderVisibleElements
        defaultViewport={initial.viewport}
        defaultEdgeOptions={{ type: "flow" }}
        proOptions={{ hideAttribution: true }}
        colorMode="dark"
      >
        <Background variant={BackgroundVariant.Dots} gap={20} size={1} color="var(--line)" />
        {partlyHidden ? (
          <MiniMap pannable zoomable nodeColor={miniMapColor} maskColor="rgba(12,14,18,0.45)" bgColor="color-mix(in srgb, var(--panel) 35%, transparent)" ariaLabel="Overview of the melody" />
        ) : null}
        <Controls showInteractive={false} />
      </ReactFlow>
      {hint ? <div className="connect-hint">{hint}</div> : null}
      {nodes.length === 0 ? (
        <div className="canvas-hint" data-testid="empty-canvas">
          <div>
            <strong>An empty melody.</strong>
            <br />
            Drag a step from the palette on the left (or click one) to start: an instrument plays a model or an agent, an
            operator does a fixed job. Then drag from a step's output (right) to another's input (left) to join them.
            <br />
            <span className="small">
              <kbd>{keys("Mod+K")}</kbd> finds any command, <kbd>?</kbd> lists the shortcuts.
            </span>
          </div>
        </div>
      ) : null}
    </div>
  );
}
