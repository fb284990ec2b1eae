/**
 * `npm run gen:documents`: writes src/documents/validators/*.generated.ts, the standalone Ajv
 * validators of the document kinds' schemas. Compiling the App schema at run time took ~600 ms of
 * every `graylane validate`, `apply` and `plan`, and of each daemon start (documents/validate.ts).
 * `document-validators.test.ts` fails while a file on disk differs from what this would write.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { AnalysisTemplate, App, Rollout } from '../src/documents/schema.js';
import { standaloneValidatorSource } from './gen-route-table-validator.js';

/** Each generated file, the schema it checks and how the header names it. */
export const DOCUMENT_VALIDATORS: readonly { file: string; schema: TSchema; from: string }[] = [
  { file: fileURLToPath(new URL('../src/documents/validators/app.generated.ts', import.meta.url)), schema: App, from: 'App (documents/schema.ts)' },
  { file: fileURLToPath(new URL('../src/documents/validators/rollout.generated.ts', import.meta.url)), schema: Rollout, from: 'Rollout (documents/schema.ts)' },
  { file: fileURLToPath(new URL('../src/documents/validators/analysis-template.generated.ts', import.meta.url)), schema: AnalysisTemplate, from: 'AnalysisTemplate (documents/schema.ts)' },
];

/** The text of one generated module. */
export function documentValidatorSource(entry: (typeof DOCUMENT_VALIDATORS)[number]): string {
  return standaloneValidatorSource(entry.schema, entry.from, { verbose: true, script: 'gen:documents' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const entry of DOCUMENT_VALIDATORS) {
    writeFileSync(entry.file, documentValidatorSource(entry));
    console.log(`wrote ${entry.file}`);
  }
}
