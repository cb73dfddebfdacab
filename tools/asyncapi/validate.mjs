// Validate AsyncAPI documents with the official parser (@asyncapi/parser).
//
//   node tools/asyncapi/validate.mjs web/src/courier_web/api/asyncapi.json
//
// Prints every error and warning (the document is ours, so a warning is a
// defect too) with its JSON path, and exits 1 if there is any.
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const SEVERITIES = ['error', 'warning', 'info', 'hint'];
// Errors (0) and warnings (1) fail the check.
const FAILING = 1;

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error('usage: node validate.mjs <asyncapi.json>...');
  process.exit(2);
}

const parser = new Parser();
let failed = false;
for (const path of paths) {
  const source = await readFile(path, 'utf8');
  const { document, diagnostics } = await parser.parse(source, { source: path });
  const failing = diagnostics.filter((d) => d.severity <= FAILING);
  // Info and hints (e.g. "a newer AsyncAPI version exists") are not defects: not printed.
  for (const d of failing) {
    const where = d.path && d.path.length ? d.path.join('/') : '(document)';
    console.error(`${path}: ${SEVERITIES[d.severity] ?? d.severity}: ${where}: ${d.message} [${d.code}]`);
  }
  if (document === undefined || failing.length > 0) {
    failed = true;
    console.error(`${path}: not a valid AsyncAPI document (${failing.length} error(s) or warning(s))`);
  } else {
    const version = document.version();
    const channels = document.channels().length;
    const operations = document.operations().length;
    const messages = document.components().messages().length;
    console.log(
      `${path}: valid AsyncAPI ${version}: ${channels} channels, ${operations} operations, ` +
        `${messages} messages`,
    );
  }
}
process.exit(failed ? 1 : 0);
