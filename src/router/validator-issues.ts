/**
 * Ajv's errors as the router's field-level issues, worded for people: the route table's generated
 * validator (route-table-check.ts) and the router config's schema (route-table-schema.ts) share it.
 */
import type { ErrorObject } from 'ajv';
import type { RouterIssue } from './errors.js';

/** Field-level issues from an Ajv validator's errors. */
export function validatorIssues(errors: ErrorObject[] | null | undefined): RouterIssue[] {
  const out: RouterIssue[] = [];
  for (const e of errors ?? []) {
    const path: (string | number)[] = e.instancePath
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((p) => (/^[0-9]+$/.test(p) ? Number(p) : p));
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      path.push(extra);
      message = 'unknown field';
    } else if (e.keyword === 'required') {
      path.push((e.params as { missingProperty: string }).missingProperty);
      message = 'is required';
    } else if (e.keyword === 'minLength' && path.at(-1) === 'secret') {
      message = `must be at least ${(e.params as { limit: number }).limit} characters (it signs version tokens)`;
    } else if (e.keyword === 'minProperties' || e.keyword === 'maxProperties') {
      message = e.instancePath.endsWith('Value') || /\/(method|path|headers)/.test(e.instancePath)
        ? 'needs exactly one of exact, prefix, regex'
        : message;
    }
    out.push({ path, message });
  }
  return out;
}
