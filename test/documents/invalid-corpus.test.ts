import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analysisLoadChecks } from '../../src/analysis/load-checks.js';
import { formatSpecError, loadDocuments } from '../../src/documents/index.js';
import { trafficLoadChecks } from '../../src/traffic/load-checks.js';

// One file per case under test/fixtures/documents/invalid/, and one line per case in EXPECTED.txt:
// the exact `file:line:col: path: reason` a user sees for it, with the checks `graylane validate`
// runs (the traffic providers' own checks among them).
const checks = { ...analysisLoadChecks, ...trafficLoadChecks() };
const dir = fileURLToPath(new URL('../fixtures/documents/invalid/', import.meta.url));
const expected = readFileSync(`${dir}EXPECTED.txt`, 'utf8').split('\n').filter((l) => l.trim() !== '');
const cases = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

describe('invalid documents', () => {
  it('has one expected line per case, and a case for each line', () => {
    const named = expected.map((l) => l.slice(0, l.indexOf(':')));
    expect(named).toEqual(cases);
    expect(cases.length).toBeGreaterThanOrEqual(45);
  });

  it.each(cases)('%s gives exactly its expected error and no documents', (file) => {
    const result = loadDocuments({ text: readFileSync(`${dir}${file}`, 'utf8'), file }, checks);
    expect(result.errors.map(formatSpecError)).toEqual(expected.filter((l) => l.startsWith(`${file}:`)));
    expect(result.documents).toEqual([]);
  });
});
