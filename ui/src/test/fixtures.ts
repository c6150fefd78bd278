import type { MelodyFile, StepTypeInfo } from "../backend/types";
import typesJson from "./stepTypes.json";
import ideaToCode from "../../../melodies/idea-to-code.melody.json";

/**
 * Every step type, as the backend's `stepTypes` answers. `stepTypes.json` is generated from the
 * real registry by symphony-host (`types.rs`, `generated_ui_step_types_are_up_to_date`), which
 * fails when it is stale; do not edit it: `SYMPHONY_BLESS=1 cargo test -p symphony-host generated`
 * rewrites it.
 */
export const TYPE_LIST = typesJson as StepTypeInfo[];
export const TYPES: ReadonlyMap<string, StepTypeInfo> = new Map(TYPE_LIST.map((t) => [t.name, t]));

export function type(name: string): StepTypeInfo {
  const t = TYPES.get(name);
  if (!t) throw new Error(`no type ${name}`);
  return t;
}

/** A fresh deep copy of melodies/idea-to-code.melody.json, read from the example file itself. */
export function ideaToCodeMelody(): MelodyFile {
  return JSON.parse(JSON.stringify(ideaToCode)) as MelodyFile;
}
