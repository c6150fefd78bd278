import type { MelodyFile, StepTypeInfo } from "../backend/types";
import typesJson from "./stepTypes.json";
import ideaToCode from "../../../melodies/idea-to-code.melody.json";

/** The step types `symphony types --json` printed, in the contract's shape. */
export const TYPE_LIST = typesJson as StepTypeInfo[];
export const TYPES: ReadonlyMap<string, StepTypeInfo> = new Map(TYPE_LIST.map((t) => [t.name, t]));

export function type(name: string): StepTypeInfo {
  const t = TYPES.get(name);
  if (!t) throw new Error(`no type ${name}`);
  return t;
}

/** A fresh deep copy of melodies/idea-to-code.melody.json. */
export function ideaToCodeMelody(): MelodyFile {
  return JSON.parse(JSON.stringify(ideaToCode)) as MelodyFile;
}
