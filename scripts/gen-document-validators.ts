/**
 * `npm run gen:documents`: writes src/documents/document-validators.generated.ts, the standalone
 * Ajv validators of the document kinds (App, Rollout, AnalysisTemplate), so that loading a document
 * compiles no schema at run time: Ajv's compile of the App schema took ~0.6 s and left the daemon
 * ~20 MB more resident. `document-validators.test.ts` fails while the file on disk differs from
 * what this would write.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AnalysisTemplate, App, Rollout } from '../src/documents/schema.js';
import { standaloneValidatorsSource } from './gen-route-table-validator.js';

/** Where the generated validators live. */
export const DOCUMENT_VALIDATORS_FILE = fileURLToPath(new URL('../src/documents/document-validators.generated.ts', import.meta.url));

/** The text of the generated module. */
export function documentValidatorsSource(): string {
  // The options of validate.ts's Ajv: every error, each with its schema and data (`verbose`), which
  // the messages are built from.
  return standaloneValidatorsSource({ App, Rollout, AnalysisTemplate }, 'App, Rollout and AnalysisTemplate (documents/schema.ts)', { verbose: true, command: 'npm run gen:documents' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(DOCUMENT_VALIDATORS_FILE, documentValidatorsSource());
  console.log(`wrote ${DOCUMENT_VALIDATORS_FILE}`);
}
