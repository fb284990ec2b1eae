import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { GENERATED_FILE, routeTableValidatorSource, standaloneValidatorSource } from '../../scripts/gen-route-table-validator.js';
import { assertRouteTable } from './route-table-check.js';
import { RouteTableSchema, schemaIssues } from './route-table-schema.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Every module a source file reaches through value imports (`import type` costs nothing at run time). */
function valueImports(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^']+)';/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('the route table validator generated from its schema', () => {
  it('is what `npm run gen:route-table` writes now: a schema change without regenerating fails here', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(routeTableValidatorSource());
  });

  it('finds what the schema finds, worded the same', () => {
    const bad = [
      { services: [{ name: 'a', pathPrefix: 'no-slash', stable: 'r1', revisions: { r1: { instances: [] } }, canaryWeight: 101, extra: 1 }] },
      { services: [{ name: '', pathPrefix: '/', stable: 'r1', revisions: { r1: { instances: [{ id: 'i', address: 'x', ready: 'yes' }] } }, canaryWeight: 0 }] },
      { services: [], releases: [{ name: 'r', services: [], generation: 'g', canaryWeight: 0, phase: 'odd', cookie: 'c', header: 'h', secret: 'short' }] },
      { nothing: true },
      // Lengths count code points: 254 emoji are 508 UTF-16 units, and one too many.
      { services: [{ name: '😀'.repeat(254), pathPrefix: '/', stable: 'r1', revisions: { r1: { instances: [] } }, canaryWeight: 0 }] },
    ];
    for (const value of bad) {
      const expected = schemaIssues(RouteTableSchema, value);
      expect(expected.length).toBeGreaterThan(0);
      let thrown: unknown;
      try {
        assertRouteTable(value);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toMatchObject({ code: 'INVALID_ROUTE_TABLE', issues: expected });
    }
  });

  it('counts lengths in code points, as the schema does', () => {
    const table = { services: [{ name: '😀'.repeat(253), pathPrefix: '/', stable: 'r1', revisions: { r1: { instances: [] } }, canaryWeight: 0 }] };
    expect(schemaIssues(RouteTableSchema, table)).toEqual([]);
    expect(() => assertRouteTable(table)).not.toThrow();
  });

  it('refuses to generate a validator needing an Ajv helper it does not carry', () => {
    // Deep equality of an object constant needs Ajv's `equal` helper.
    expect(() => standaloneValidatorSource(Type.Object({ a: Type.Unsafe({ const: { b: 1 } }) }), 'a test schema')).toThrow(/a test schema needs Ajv's runtime helper "equal"/);
  });

  it('keeps TypeBox and Ajv out of the router, its supervisor and its workers (megabytes per process)', () => {
    for (const entry of ['router.ts', 'control/supervisor/supervisor-main.ts', 'control/supervisor/worker-main.ts']) {
      const { packages } = valueImports(join(here, entry));
      expect([...packages].filter((p) => p.startsWith('@sinclair/typebox') || p === 'ajv' || p.startsWith('ajv-')), entry).toEqual([]);
    }
  });
});
