// Parse math with KaTeX the way Markdown renderers do; report every error.
// stdin: JSON [{"tex": "...", "display": true|false}, ...]
// stdout: JSON [{"index": i, "error": "..."}, ...] (empty when all parse)
"use strict";
const katex = require("katex");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const errors = [];
  JSON.parse(input).forEach((item, index) => {
    try {
      katex.renderToString(item.tex, {
        displayMode: item.display,
        throwOnError: true,
        strict: "error",  // what KaTeX only warns about may break other renderers
      });
    } catch (e) {
      errors.push({ index, error: String(e.message || e) });
    }
  });
  process.stdout.write(JSON.stringify(errors));
});
