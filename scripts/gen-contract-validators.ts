/**
 * `npm run gen:contract`: writes src/api/contract/validators.generated.ts, the standalone Ajv
 * validators of the API contract's schemas (contract-schemas.ts), so neither the CLI nor the daemon
 * compiles them at run time: that took ~380 ms of every CLI command that asks the daemon something.
 * `contract-validators.test.ts` fails while the file on disk differs from what this would write.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONTRACT_SCHEMAS } from '../src/api/contract/contract-schemas.js';
import { standaloneModuleSource } from './gen-route-table-validator.js';

/** Where the generated validators live. */
export const CONTRACT_VALIDATORS_FILE = fileURLToPath(new URL('../src/api/contract/validators.generated.ts', import.meta.url));

/** The text of the generated module: `validators`, one per CONTRACT_SCHEMAS entry, in its order. */
export function contractValidatorsSource(): string {
  return standaloneModuleSource(CONTRACT_SCHEMAS, 'CONTRACT_SCHEMAS (api/contract/contract-schemas.ts)', { script: 'gen:contract' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(CONTRACT_VALIDATORS_FILE, contractValidatorsSource());
  console.log(`wrote ${CONTRACT_VALIDATORS_FILE}`);
}
