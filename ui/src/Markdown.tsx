import DOMPurify from "dompurify";
import { marked } from "marked";

/** A collection's card or a description: Markdown, rendered, with anything unsafe removed. */
export function Markdown({ text }: { text: string }) {
  if (!text.trim()) {
    return <p className="muted">No description.</p>;
  }
  const html = DOMPurify.sanitize(marked.parse(text, { async: false }));
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}
