/**
 * Types that cross the backend boundary are generated from the Rust types by ts-rs into
 * `./generated/` (do not edit those); this file re-exports them under the names the editor uses
 * and adds only the editor's own helper types (notes and groups kept in `layout`).
 */
export type { BottleneckKind } from "./generated/BottleneckKind";
export type { LoopExit } from "./generated/LoopExit";
export type { Decision } from "./generated/Decision";
export type { ReviewFormat } from "./generated/ReviewFormat";
export type { GateAnswerTaken } from "./generated/GateAnswerTaken";
export type { Capability } from "./generated/Capability";
export type { ConfigField } from "./generated/ConfigField";
export type { ErrorBody as BackendError } from "./generated/ErrorBody";
export type { EventRecord } from "./generated/EventRecord";
export type { Fallback } from "./generated/Fallback";
export type { FieldType } from "./generated/FieldType";
export type { FileChangedPayload } from "./generated/FileChangedPayload";
export type { Layout as LayoutDoc } from "./generated/Layout";
export type { Melody as MelodyFile } from "./generated/Melody";
export type { MelodyDocument } from "./generated/MelodyDocument";
export type { MelodyEntry } from "./generated/MelodyEntry";
export type { Metadata } from "./generated/Metadata";
export type { OutputOrigin } from "./generated/OutputOrigin";
export type { Permissions } from "./generated/Permissions";
export type { Policy } from "./generated/Policy";
export type { PortDecl } from "./generated/PortDecl";
export type { PortSpec } from "./generated/PortSpec";
export type { PortType } from "./generated/PortType";
export type { Position as Point } from "./generated/Position";
export type { Problem } from "./generated/Problem";
export type { ProjectInfo } from "./generated/ProjectInfo";
export type { ProviderInfo } from "./generated/ProviderInfo";
export type { Retry } from "./generated/Retry";
export type { RunEventsPayload } from "./generated/RunEventsPayload";
export type { RunInput as InputDecl } from "./generated/RunInput";
export type { RunStatus } from "./generated/RunStatus";
export type { Step as StepDoc } from "./generated/Step";
export type { Edge as EdgeDoc } from "./generated/Edge";
export type { StepKind } from "./generated/StepKind";
export type { StepTypeInfo } from "./generated/StepTypeInfo";
export type { Totals } from "./generated/Totals";
export type { RunEntry } from "./generated/RunEntry";
export type { RunRecord } from "./generated/RunRecord";
export type { RunFile } from "./generated/RunFile";
export type { RunFileContent } from "./generated/RunFileContent";
export type { PinInfo } from "./generated/PinInfo";
export type { MelodyComparison } from "./generated/MelodyComparison";
export type { StepCompared } from "./generated/StepCompared";
export type { FieldChange } from "./generated/FieldChange";
export type { CredentialSaved } from "./generated/CredentialSaved";
export type { ProviderTest } from "./generated/ProviderTest";
export type { WireFormatInfo } from "./generated/WireFormatInfo";
export type { TestProviderArgs } from "./generated/TestProviderArgs";
export type { StepComparison } from "./generated/StepComparison";
export type { StoreInfo } from "./generated/StoreInfo";
export type { ForkRunArgs } from "./generated/ForkRunArgs";
export type { JsonValue as Json } from "./generated/serde_json/JsonValue";

import type { JsonValue } from "./generated/serde_json/JsonValue";

export type JsonObject = { [key: string]: JsonValue };

/** A sticky note on the canvas, kept in `layout.comments`; never read by the conductor. */
export type CommentDoc = { id: string; x: number; y: number; width: number; height: number; text: string };

/** A labelled box around steps, kept in `layout.groups`; never read by the conductor. */
export type GroupDoc = { id: string; x: number; y: number; width: number; height: number; label: string };

/** A condition as the inspector edits it (docs/melody-format.md); the wire carries it as JSON. */
export type Condition = { op: string; ref?: string; value?: JsonValue; of?: JsonValue };
