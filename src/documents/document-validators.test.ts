import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { DOCUMENT_VALIDATORS_FILE, documentValidatorsSource } from '../../scripts/gen-document-validators.js';
import { valueImports } from '../../test/fixtures/modules/value-imports.js';
import { nameUnion } from './validate.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('the document validators generated from their schemas', () => {
  it('are what `npm run gen:documents` writes now: a schema change without regenerating fails here', () => {
    expect(readFileSync(DOCUMENT_VALIDATORS_FILE, 'utf8')).toBe(documentValidatorsSource());
  });

  it('leave Ajv out of loading a document: no schema is compiled at run time (~0.6 s and ~20 MB resident for the App schema)', () => {
    const { packages } = valueImports(join(here, 'load.ts'));
    expect([...packages].filter((p) => p === 'ajv' || p.startsWith('ajv/'))).toEqual([]);
  });

  it('name only a union whose members are told apart by one key', () => {
    expect(() => nameUnion(Type.Union([Type.String(), Type.Number()]), 'thing')).toThrow('only a union of objects told apart by one key can be named "thing"');
  });
});
