/**
 * Markdown rendered safely: the tree from `markdown.ts` as React elements. Text is escaped by
 * React; raw HTML in the source stays text; links are shown (not followed) unless http(s) or
 * mailto, and open in a new window.
 */
import { memo, useMemo, type ReactNode } from "react";
import { parseMarkdown, safeHref, type Block, type Inline } from "./markdown";
import "./board.css";

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  const blocks = useMemo(() => parseMarkdown(text), [text]);
  return <div className="markdown">{blocks.map(renderBlock)}</div>;
});

function renderBlock(b: Block, i: number): ReactNode {
  switch (b.t) {
    case "heading": {
      const level = Math.min(6, Math.max(1, b.level));
      const children = renderInlines(b.children);
      if (level === 1) return <h1 key={i}>{children}</h1>;
      if (level === 2) return <h2 key={i}>{children}</h2>;
      if (level === 3) return <h3 key={i}>{children}</h3>;
      if (level === 4) return <h4 key={i}>{children}</h4>;
      if (level === 5) return <h5 key={i}>{children}</h5>;
      return <h6 key={i}>{children}</h6>;
    }
    case "para":
      return <p key={i}>{renderInlines(b.children)}</p>;
    case "list": {
      const items = b.items.map((item, j) => (
        <li key={j} style={item.depth ? { marginLeft: `${item.depth * 16}px` } : undefined}>
          {renderInlines(item.children)}
        </li>
      ));
      return b.ordered ? (
        <ol key={i} start={b.start}>
          {items}
        </ol>
      ) : (
        <ul key={i}>{items}</ul>
      );
    }
    case "code":
      return (
        <pre key={i} className="md-code mono" data-lang={b.lang || undefined}>
          {b.text}
        </pre>
      );
    case "quote":
      return <blockquote key={i}>{renderInlines(b.children)}</blockquote>;
    case "hr":
      return <hr key={i} />;
  }
}

function renderInlines(nodes: readonly Inline[]): ReactNode[] {
  return nodes.map((n, i) => {
    switch (n.t) {
      case "text":
        return n.text;
      case "code":
        return <code key={i}>{n.text}</code>;
      case "strong":
        return <strong key={i}>{renderInlines(n.children)}</strong>;
      case "em":
        return <em key={i}>{renderInlines(n.children)}</em>;
      case "link": {
        const href = safeHref(n.href);
        return href ? (
          <a key={i} href={href} target="_blank" rel="noreferrer noopener" title={href}>
            {renderInlines(n.children)}
          </a>
        ) : (
          <span key={i} className="md-link" title={n.href}>
            {renderInlines(n.children)}
          </span>
        );
      }
    }
  });
}
