/**
 * The editor's keyboard shortcuts, written once: the shortcut sheet (`?`), the command palette's
 * hints and the toolbar's tooltips read them, in the platform's words (Ctrl on Linux and
 * Windows, ⌘ on a Mac).
 */

export const IS_MAC = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);

/** "Mod+Shift+Z" as this platform says it: "Ctrl+Shift+Z", or "⌘⇧Z" on a Mac. */
export function keys(spec: string): string {
  if (!IS_MAC) return spec.replace(/Mod/g, "Ctrl");
  return spec.replace(/Mod\+/g, "⌘").replace(/Shift\+/g, "⇧").replace(/Alt\+/g, "⌥");
}

export interface Shortcut {
  keys: string;
  does: string;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { keys: "Mod+K", does: "Command palette: every command, step type and step" },
  { keys: "Mod+S", does: "Save" },
  { keys: "Mod+Shift+S", does: "Save as…" },
  { keys: "Mod+Z", does: "Undo" },
  { keys: "Mod+Shift+Z", does: "Redo (also Mod+Y)" },
  { keys: "Mod+C", does: "Copy the selection" },
  { keys: "Mod+V", does: "Paste" },
  { keys: "Mod+D", does: "Duplicate the selection" },
  { keys: "Mod+A", does: "Select every step" },
  { keys: "Delete", does: "Delete the selection (also Backspace)" },
  { keys: "Escape", does: "Back to editing: clear the selection, close the step's last run" },
  { keys: "Enter", does: "In a one-line field: commit it (the keyboard stays there)" },
  { keys: "Shift+drag", does: "Select the steps in a box" },
  { keys: "Mod+click", does: "Add a step to the selection" },
  { keys: "{{", does: "In a template: list what the step can use" },
  { keys: "?", does: "This list" },
];
