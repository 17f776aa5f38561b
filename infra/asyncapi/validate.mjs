// Validates an AsyncAPI document with the AsyncAPI parser, as AsyncAPI tools read it.
//   node validate.mjs ../../docs/asyncapi.yaml
// Prints each diagnostic, then one JSON line with what the parser found; exit code 1 on any error.
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate.mjs <asyncapi document>');
  process.exit(2);
}
const { document, diagnostics } = await fromFile(new Parser(), file).parse();
for (const d of diagnostics) {
  console.log(`${DiagnosticSeverity[d.severity] ?? d.severity} ${d.code} ${d.path.join('.')}: ${d.message}`);
}
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
if (!document || errors.length > 0) {
  console.error(`${file}: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(JSON.stringify({
  version: document.version(),
  channels: document.channels().all().map((c) => c.address()),
  operations: document.operations().length,
  messages: document.components().messages().length,
  schemas: document.components().schemas().length,
  diagnostics: diagnostics.length,
}));
