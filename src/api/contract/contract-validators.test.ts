/**
 * The contract's validators, generated from its schemas (`npm run gen:contract`): the file is what
 * the generator writes now, each validator judges as Ajv compiling its schema at run time does, and
 * a schema outside the contract is still checked.
 */
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import { CONTRACT_VALIDATORS_FILE, contractValidatorsSource } from '../../../scripts/gen-contract-validators.js';
import { CONTRACT_SCHEMAS } from './contract-schemas.js';
import { ENDPOINTS } from './endpoints.js';
import { ErrorBodySchema } from './errors.js';
import { EventViewSchema } from './events.js';
import { contractIssues } from './validate.js';
import { validators } from './validators.generated.js';
import { ServiceViewSchema } from './views.js';

type Validator = ((value: unknown) => boolean) & { errors?: ErrorObject[] | null };

describe('the contract validators generated from its schemas', () => {
  it('are what `npm run gen:contract` writes now: a schema change without regenerating fails here', () => {
    expect(readFileSync(CONTRACT_VALIDATORS_FILE, 'utf8')).toBe(contractValidatorsSource());
  });

  it('cover every endpoint\'s body and answer, the error body and the event stream', () => {
    for (const e of ENDPOINTS) {
      if (e.body) expect(CONTRACT_SCHEMAS, `${e.method} ${e.path} body`).toContain(e.body);
      if (e.response) expect(CONTRACT_SCHEMAS, `${e.method} ${e.path} answer`).toContain(e.response);
    }
    for (const schema of [ErrorBodySchema, EventViewSchema, ServiceViewSchema]) expect(CONTRACT_SCHEMAS).toContain(schema);
    expect(validators).toHaveLength(CONTRACT_SCHEMAS.length);
  });

  const values: unknown[] = [null, {}, { services: [{ name: 1 }] }, { error: { code: 5 } }, { ok: 'yes', version: 1, extra: true }];
  it.each(CONTRACT_SCHEMAS.map((schema, i) => [i, schema] as const))('schema %i: the same verdict and errors as Ajv compiling it at run time', (i, schema) => {
    const runtime = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const generated = validators[i] as Validator;
    for (const value of values) {
      expect(generated(value), JSON.stringify(value)).toBe(runtime(value));
      expect(generated.errors ?? null).toEqual(runtime.errors ?? null);
    }
  });

  it('checks a schema outside the contract too, compiled at first use', () => {
    const schema = Type.Object({ percent: Type.Integer({ maximum: 100 }) });
    expect(contractIssues(schema, { percent: 120 })).toEqual([{ path: '/percent', reason: 'must be <= 100' }]);
    expect(contractIssues(schema, { percent: 20 })).toEqual([]);
  });
});
