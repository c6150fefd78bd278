/**
 * A small Markdown reader for step outputs: headings, paragraphs, lists (flat, with their
 * indentation kept as a depth), fenced code, block quotes, rules; inline code, bold, italic
 * and links. It builds a tree that `Markdown.tsx` renders as React elements, so text is always
 * escaped by React and no HTML in the output is ever interpreted.
 */

export type Inline =
  | { t: "text"; text: string }
  | { t: "code"; text: string }
  | { t: "strong"; children: Inline[] }
  | { t: "em"; children: Inline[] }
  | { t: "link"; href: string; children: Inline[] };

export interface ListItem {
  depth: number;
  children: Inline[];
}

export type Block =
  | { t: "heading"; level: number; children: Inline[] }
  | { t: "para"; children: Inline[] }
  | { t: "list"; ordered: boolean; start: number; items: ListItem[] }
  | { t: "code"; lang: string; text: string }
  | { t: "quote"; children: Inline[] }
  | { t: "hr" };

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const BULLET = /^(\s*)[-*+]\s+(.*)$/;
const NUMBERED = /^(\s*)(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;

/** Parses Markdown text into blocks. */
export function parseMarkdown(src: string): Block[] {
  const lines = src.split(/\r\n|\n|\r/);
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) blocks.push({ t: "para", children: parseInline(para.join(" ")) });
    para = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const mark = fence[1]!;
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trimStart().startsWith(mark)) body.push(lines[i++]!);
      i++; // the closing fence (or the end)
      blocks.push({ t: "code", lang: fence[2] ?? "", text: body.join("\n") });
      continue;
    }
    if (line.trim() === "") {
      flush();
      i++;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      blocks.push({ t: "heading", level: heading[1]!.length, children: parseInline(heading[2]!) });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      flush();
      blocks.push({ t: "hr" });
      i++;
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = bullet ? null : NUMBERED.exec(line);
    if (bullet || numbered) {
      flush();
      const ordered = numbered !== null;
      const list: Block & { t: "list" } = { t: "list", ordered, start: numbered ? Number(numbered[2]) : 1, items: [] };
      while (i < lines.length) {
        const l = lines[i]!;
        const b = BULLET.exec(l);
        const n = b ? null : NUMBERED.exec(l);
        if (ordered ? !n : !b) {
          // An indented line continues the item before it.
          const last = list.items[list.items.length - 1];
          if (last && l.trim() !== "" && /^\s+/.test(l) && !BULLET.test(l) && !NUMBERED.test(l)) {
            last.children.push({ t: "text", text: " " }, ...parseInline(l.trim()));
            i++;
            continue;
          }
          break;
        }
        const indent = (ordered ? n![1]! : b![1]!).replace(/\t/g, "    ").length;
        list.items.push({ depth: Math.min(6, Math.floor(indent / 2)), children: parseInline(ordered ? n![3]! : b![2]!) });
        i++;
      }
      blocks.push(list);
      continue;
    }
    const quote = QUOTE.exec(line);
    if (quote) {
      flush();
      const body: string[] = [];
      while (i < lines.length) {
        const q = QUOTE.exec(lines[i]!);
        if (!q) break;
        body.push(q[1]!);
        i++;
      }
      blocks.push({ t: "quote", children: parseInline(body.join(" ")) });
      continue;
    }
    para.push(line.trim());
    i++;
  }
  flush();
  return blocks;
}

const LINK = /^\[([^\]]+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/;
const WORD = /[\p{L}\p{N}]/u;

/** Parses the inline marks of one paragraph. */
export function parseInline(src: string): Inline[] {
  const out: Inline[] = [];
  let text = "";
  const push = (node: Inline) => {
    if (text) out.push({ t: "text", text });
    text = "";
    out.push(node);
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "\\" && i + 1 < src.length && /[\\`*_[\]()#>~-]/.test(src[i + 1]!)) {
      text += src[i + 1];
      i += 2;
      continue;
    }
    if (c === "`") {
      const ticks = /^`+/.exec(src.slice(i))![0];
      const end = src.indexOf(ticks, i + ticks.length);
      if (end > 0) {
        push({ t: "code", text: src.slice(i + ticks.length, end).trim() });
        i = end + ticks.length;
        continue;
      }
    }
    if ((c === "*" || c === "_") && src[i + 1] === c) {
      const mark = c + c;
      const end = src.indexOf(mark, i + 2);
      if (end > i + 2 && (c === "*" || !WORD.test(src[i - 1] ?? ""))) {
        push({ t: "strong", children: parseInline(src.slice(i + 2, end)) });
        i = end + 2;
        continue;
      }
    }
    if ((c === "*" || c === "_") && src[i + 1] !== c && src[i + 1] !== " " && src[i + 1] !== undefined) {
      // An underscore inside a word (snake_case) is not emphasis.
      if (c === "*" || !WORD.test(src[i - 1] ?? "")) {
        let end = i + 1;
        while ((end = src.indexOf(c, end)) > 0) {
          if (src[end + 1] === c && c === "*") {
            end += 2;
            continue;
          }
          break;
        }
        if (end > i + 1 && src[end - 1] !== " " && (c === "*" || !WORD.test(src[end + 1] ?? ""))) {
          push({ t: "em", children: parseInline(src.slice(i + 1, end)) });
          i = end + 1;
          continue;
        }
      }
    }
    if (c === "[") {
      const link = LINK.exec(src.slice(i));
      if (link) {
        push({ t: "link", href: link[2]!, children: parseInline(link[1]!) });
        i += link[0].length;
        continue;
      }
    }
    text += c;
    i++;
  }
  if (text) out.push({ t: "text", text });
  return out;
}

/** A link's target when it is safe to show as one (http, https, mailto); null otherwise. */
export function safeHref(href: string): string | null {
  return /^(https?:|mailto:)/i.test(href.trim()) ? href.trim() : null;
}
