/**
 * The document kinds' validators, generated from their schemas (`npm run gen:documents`): each is
 * what the generator writes from the schema now, and it judges a document as Ajv compiling that
 * schema at run time does, error for error.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { DOCUMENT_VALIDATORS, documentValidatorSource } from '../../../scripts/gen-document-validators.js';
import type { GeneratedValidator } from '../validate.js';
import { validate as validateApp } from './app.generated.js';
import { validate as validateRollout } from './rollout.generated.js';
import { validate as validateAnalysisTemplate } from './analysis-template.generated.js';

describe('the document validators generated from their schemas', () => {
  it.each(DOCUMENT_VALIDATORS.map((entry) => [entry.from, entry] as const))('%s is what `npm run gen:documents` writes now: a schema change without regenerating fails here', (_from, entry) => {
    expect(readFileSync(entry.file, 'utf8')).toBe(documentValidatorSource(entry));
  });

  const generated: Record<string, GeneratedValidator> = {
    App: validateApp as GeneratedValidator,
    Rollout: validateRollout as GeneratedValidator,
    AnalysisTemplate: validateAnalysisTemplate as GeneratedValidator,
  };
  const documents: [string, unknown][] = [
    ['App', { apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'a' }, spec: { services: [{ name: 's', replicas: -1, process: { command: [] }, strategy: { canary: { steps: [{ setWieght: 5 }, { setWeight: 5, pause: {} }] } } }] } }],
    ['App', { apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'a' }, spec: { listen: 8080, services: 'none' } }],
    ['Rollout', { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'r' }, spec: { replicas: 'two', strategy: { blueGreen: { activeService: 1 } } } }],
    ['AnalysisTemplate', { apiVersion: 'argoproj.io/v1alpha1', kind: 'AnalysisTemplate', metadata: { name: 't' }, spec: { metrics: [{ name: 'm', provider: { prometheus: {} }, count: 'x' }] } }],
  ];

  it.each(documents)('a bad %s: the same errors as Ajv compiling the schema at run time', (kind, document) => {
    const entry = DOCUMENT_VALIDATORS.find((e) => e.from.startsWith(`${kind} `))!;
    const runtime = new Ajv({ allErrors: true, strict: false, verbose: true }).compile(entry.schema);
    const validate = generated[kind]!;
    expect(runtime(document)).toBe(false);
    expect(validate(document)).toBe(false);
    // Plain JSON on both sides: the schemas the errors carry are copies in the generated code.
    const plain = (errors: unknown) => JSON.parse(JSON.stringify(errors)) as unknown;
    expect(plain(validate.errors)).toEqual(plain(runtime.errors));
    expect(validate.errors!.length).toBeGreaterThan(0);
  });
});
