import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatSpecError, loadDocuments } from './index.js';

// One file per case under test/fixtures/documents/invalid/, and one line per case in EXPECTED.txt:
// the exact `file:line:col: path: reason` a user sees for it.
const dir = fileURLToPath(new URL('../../test/fixtures/documents/invalid/', import.meta.url));
const expected = readFileSync(`${dir}EXPECTED.txt`, 'utf8').split('\n').filter((l) => l.trim() !== '');
const cases = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

describe('invalid documents', () => {
  it('has one expected line per case, and a case for each line', () => {
    const named = expected.map((l) => l.slice(0, l.indexOf(':')));
    expect(named).toEqual(cases);
    expect(cases.length).toBeGreaterThanOrEqual(45);
  });

  it.each(cases)('%s gives exactly its expected error and no documents', (file) => {
    const result = loadDocuments({ text: readFileSync(`${dir}${file}`, 'utf8'), file });
    expect(result.errors.map(formatSpecError)).toEqual(expected.filter((l) => l.startsWith(`${file}:`)));
    expect(result.documents).toEqual([]);
  });
});
