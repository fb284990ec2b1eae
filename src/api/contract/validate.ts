/**
 * Checks data against the contract's schemas, with one reason per bad location: the server answers
 * a bad body with it, the client rejects a bad answer. The contract's own schemas are checked by
 * validators generated from them (`npm run gen:contract`); any other schema is compiled by Ajv at
 * first use.
 */
import { Ajv, type ErrorObject } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { CONTRACT_SCHEMAS } from './contract-schemas.js';
import { validators } from './validators.generated.js';

/** One thing wrong with a value: where (a JSON pointer, `""` for the whole) and why. */
export interface ContractIssue {
  /** JSON pointer of the bad location, e.g. `/percent` or `/services/0/phase`. */
  path: string;
  /** Why, e.g. `must be <= 100`. */
  reason: string;
}

type Validator = ((value: unknown) => boolean) & { errors?: ErrorObject[] | null };

let ajv: Ajv | undefined;
const compiled = new WeakMap<TSchema, Validator>(CONTRACT_SCHEMAS.map((schema, i) => [schema, (validators as Validator[])[i]!]));

function issueOf(e: ErrorObject): ContractIssue {
  if (e.keyword === 'additionalProperties') {
    return { path: `${e.instancePath}/${(e.params as { additionalProperty: string }).additionalProperty}`, reason: 'is not a known field' };
  }
  if (e.keyword === 'required') return { path: `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}`, reason: 'is required' };
  return { path: e.instancePath, reason: e.message ?? 'is invalid' };
}

/**
 * Compiles validators ahead of use. Ajv's first compile of a schema takes milliseconds on the
 * event loop the router shares: a server does it at start, not on the first request (an apply
 * in the middle of a rollout would otherwise stall every proxied request behind it).
 */
export function precompile(schemas: Iterable<TSchema>): void {
  for (const schema of schemas) if (!compiled.has(schema)) compiled.set(schema, compile(schema));
}

function compile(schema: TSchema): Validator {
  ajv ??= new Ajv({ allErrors: true, strict: false });
  return ajv.compile(schema);
}

/** The issues of `value` against `schema`; empty when it matches. */
export function contractIssues(schema: TSchema, value: unknown): ContractIssue[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return [];
  // A union reports every branch: the first location is the most telling, the rest are kept in order.
  const seen = new Set<string>();
  const out: ContractIssue[] = [];
  for (const e of validate.errors ?? []) {
    const issue = issueOf(e);
    const key = `${issue.path} ${issue.reason}`;
    if (!seen.has(key)) out.push(issue);
    seen.add(key);
  }
  return out;
}

/** `/percent must be <= 100`, or `the body must be object` for the whole. */
export function describeIssue(issue: ContractIssue, whole = 'the body'): string {
  return `${issue.path === '' ? whole : issue.path} ${issue.reason}`;
}
