// Parse Mermaid diagrams the way GitHub's Markdown renderer does; report every error.
// stdin: JSON ["flowchart LR\n ...", ...]
// stdout: JSON [{"index": i, "error": "..."}, ...] (empty when all parse)
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
globalThis.Element = dom.window.Element;
const mermaid = (await import("mermaid")).default;
mermaid.initialize({ startOnLoad: false });

let input = "";
for await (const chunk of process.stdin) input += chunk;
const errors = [];
for (const [index, diagram] of JSON.parse(input).entries()) {
  try {
    await mermaid.parse(diagram);
  } catch (e) {
    errors.push({ index, error: String(e.message || e) });
  }
}
process.stdout.write(JSON.stringify(errors));
