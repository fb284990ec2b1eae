/**
 * The browser's stand-in for src/api/contract/validate.ts (Vite aliases one to the other). Ajv
 * compiles validators with `new Function`, which the console's Content-Security-Policy forbids;
 * TypeBox checks values by walking the schema, so the shared client checks answers here too.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** One thing wrong with a value: where (a JSON pointer, `""` for the whole) and why. */
export interface ContractIssue {
  /** JSON pointer of the bad location. */
  path: string;
  /** Why, e.g. `Expected boolean`. */
  reason: string;
}

/** Nothing to compile ahead: TypeBox checks without code generation. */
export function precompile(_schemas: Iterable<TSchema>): void {}

/** The issues of `value` against `schema`; empty when it matches. */
export function contractIssues(schema: TSchema, value: unknown): ContractIssue[] {
  if (Value.Check(schema, value)) return [];
  const out: ContractIssue[] = [];
  for (const e of Value.Errors(schema, value)) {
    out.push({ path: e.path, reason: e.message });
    if (out.length >= 10) break;
  }
  return out;
}

/** `/percent Expected integer`, or `the body …` for the whole. */
export function describeIssue(issue: ContractIssue, whole = 'the body'): string {
  return `${issue.path === '' ? whole : issue.path} ${issue.reason}`;
}
