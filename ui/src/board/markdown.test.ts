import { describe, expect, it } from "vitest";
import { parseInline, parseMarkdown, safeHref } from "./markdown";

describe("markdown", () => {
  it("reads headings, paragraphs, rules and quotes", () => {
    expect(parseMarkdown("# Title\n\nSome text\nwrapped.\n\n---\n> quoted\n> more")).toEqual([
      { t: "heading", level: 1, children: [{ t: "text", text: "Title" }] },
      { t: "para", children: [{ t: "text", text: "Some text wrapped." }] },
      { t: "hr" },
      { t: "quote", children: [{ t: "text", text: "quoted more" }] },
    ]);
  });

  it("reads lists with depth and numbering", () => {
    expect(parseMarkdown("- one\n  - nested\n- two\n\n3. three\n4. four")).toEqual([
      {
        t: "list",
        ordered: false,
        start: 1,
        items: [
          { depth: 0, children: [{ t: "text", text: "one" }] },
          { depth: 1, children: [{ t: "text", text: "nested" }] },
          { depth: 0, children: [{ t: "text", text: "two" }] },
        ],
      },
      { t: "list", ordered: true, start: 3, items: [{ depth: 0, children: [{ t: "text", text: "three" }] }, { depth: 0, children: [{ t: "text", text: "four" }] }] },
    ]);
  });

  it("keeps fenced code verbatim", () => {
    expect(parseMarkdown("```ts\nconst a = **1**;\n\n# not a heading\n```\nafter")).toEqual([
      { t: "code", lang: "ts", text: "const a = **1**;\n\n# not a heading" },
      { t: "para", children: [{ t: "text", text: "after" }] },
    ]);
    // An unclosed fence runs to the end.
    expect(parseMarkdown("```\nx")).toEqual([{ t: "code", lang: "", text: "x" }]);
  });

  it("reads inline marks", () => {
    expect(parseInline("a **bold** and *it* with `code *x*` and [link](https://x.y)")).toEqual([
      { t: "text", text: "a " },
      { t: "strong", children: [{ t: "text", text: "bold" }] },
      { t: "text", text: " and " },
      { t: "em", children: [{ t: "text", text: "it" }] },
      { t: "text", text: " with " },
      { t: "code", text: "code *x*" },
      { t: "text", text: " and " },
      { t: "link", href: "https://x.y", children: [{ t: "text", text: "link" }] },
    ]);
    expect(parseInline("**bold *and italic* too**")).toEqual([
      { t: "strong", children: [{ t: "text", text: "bold " }, { t: "em", children: [{ t: "text", text: "and italic" }] }, { t: "text", text: " too" }] },
    ]);
    expect(parseInline("__also bold__ _and em_")).toEqual([
      { t: "strong", children: [{ t: "text", text: "also bold" }] },
      { t: "text", text: " " },
      { t: "em", children: [{ t: "text", text: "and em" }] },
    ]);
  });

  it("leaves snake_case, lone stars and HTML as text", () => {
    expect(parseInline("snake_case_name and 2 * 3 * 4")).toEqual([{ t: "text", text: "snake_case_name and 2 * 3 * 4" }]);
    expect(parseInline("<img src=x onerror=alert(1)>")).toEqual([{ t: "text", text: "<img src=x onerror=alert(1)>" }]);
    expect(parseInline("\\*not em\\*")).toEqual([{ t: "text", text: "*not em*" }]);
  });

  it("only links to safe targets", () => {
    expect(safeHref("https://example.com")).toBe("https://example.com");
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("data:text/html,x")).toBeNull();
  });
});
