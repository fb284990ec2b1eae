import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { documentReference } from '../../src/documents/index.js';

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env, cwd: process.cwd() });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'graylane-cli-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe('graylane validate', () => {
  it('accepts the shop example', async () => {
    const r = await run(['validate', 'examples/shop/graylane.yaml']);
    expect(r).toMatchObject({ code: 0, out: '' });
    expect(r.err).toContain('ok: 1 document (App shop)');
  });

  it('exits 2 with one file:line:col: field: reason line per error', async () => {
    const file = write('bad.yaml', [
      'apiVersion: graylane.dev/v1alpha1', 'kind: App', 'metadata: {name: shop}', 'spec:', '  services:',
      '  - name: api', '    replica: 2', '    targets: ["127.0.0.1:9001"]', '  - name: web', '    targets: ["127.0.0.1:9002"]',
      '    strategy: {canary: {steps: [{setWieght: 10}]}}', '',
    ].join('\n'));
    const r = await run(['validate', file]);
    expect(r.code).toBe(2);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toBe(`${file}:7:5: spec.services[0].replica: unknown field "replica"`);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: \\S+: .+`));
  });

  it.each([
    ['an empty file', ''],
    ['a file of comments only', '# the rollout goes here\n---\n# and the template here\n'],
  ])('%s is not valid: exit 2 with "file: no documents"', async (_name, text) => {
    const file = write('empty.yaml', text);
    const r = await run(['validate', file]);
    expect(r.code).toBe(2);
    expect(r.out.trim()).toBe(`${file}: no documents`);
    expect(r.err).not.toContain('ok:');
  });

  it('a missing file is a clear error, exit 2', async () => {
    const r = await run(['validate', join(dir, 'nope.yaml')]);
    expect(r.code).toBe(2);
    expect(r.out).toContain('nope.yaml');
  });
});

describe('graylane import and schema', () => {
  it('converts an Argo Rollout and passes over Services with a note', async () => {
    const r = await run(['import', 'examples/argo/canary-rollout.yaml']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('apiVersion: graylane.dev/v1alpha1');
    expect(r.out).not.toContain('argoproj.io');
    expect(r.err).toMatch(/note: .*passed over Service/);
    const back = write('imported.yaml', r.out);
    expect((await run(['validate', back])).code).toBe(0);
  });

  it('import of a missing file exits 2', async () => {
    const r = await run(['import', join(dir, 'missing.yaml')]);
    expect(r).toMatchObject({ code: 2 });
    expect(r.err).toContain('no such file');
  });

  it('prints the JSON Schema of a kind, the CRD schema, and refuses an unknown kind', async () => {
    const app = await run(['schema', 'App']);
    expect(JSON.parse(app.out)).toMatchObject({ title: 'App', type: 'object' });
    const crd = await run(['schema', 'Rollout', '--crd']);
    expect(JSON.stringify(JSON.parse(crd.out))).not.toContain('anyOf');
    const bad = await run(['schema', 'Deployment']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown kind "Deployment"');
  });

  it('docs/reference.md is the reference generated from the schema (regenerate: graylane schema --markdown)', () => {
    expect(readFileSync('docs/reference.md', 'utf8')).toBe(documentReference());
  });
});

describe('daemon commands without a daemon', () => {
  it('exit 3 with a sentence saying how to start one', async () => {
    const r = await run(['status', 'api', '--state-dir', dir]);
    expect(r.code).toBe(3);
    expect(r.err).toContain('graylane up');
  });

  it('usage errors exit 2', async () => {
    expect((await run(['set', 'weight', 'api', '150', '--state-dir', dir])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
  });
});

describe('graylane plan', () => {
  it('prints the quickstart timeline: weights, replicas, pauses and who decides', async () => {
    const r = await run(['plan', 'examples/quickstart/graylane.yaml']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('hello: canary, 2 replicas');
    expect(r.out).toMatch(/1\s+set weight 25%\s+25%\s+75%\s+1\/2/);
    expect(r.out).toMatch(/4\s+pause 30s\s+75%\s+25%\s+2\/2\s+30s/);
    expect(r.out).toContain('finishes: earliest 30s, latest a person decides');
  });

  it('counts the guard, on by default behind the router, in the worst case: no step needs a person to abort', async () => {
    const r = await run(['plan', 'examples/quickstart/graylane.yaml']);
    expect(r.out).not.toContain('needs a person to abort');
    expect(r.out).toMatch(/1\s+set weight 25%.*\s12s$/m);
    expect(r.out).toMatch(/4\s+pause 30s.*\s12s$/m);
    expect(r.out).toMatch(/worst case from a failure to all traffic on stable: 12s \(set weight 25%: the guard aborts by itself/);
  });

  it('a rollout with the guard turned off still says a person must abort', async () => {
    const file = write('no-guard.yaml', readFileSync('examples/quickstart/graylane.yaml', 'utf8').replace('      canary:\n', '      canary:\n        guard: {enabled: false}\n'));
    const r = await run(['plan', file]);
    expect(r.out).toContain('no analysis covers this step: unbounded, needs a person to abort');
  });

  it('on Kubernetes the worst case adds the scrape interval, the guard ticks and the provider\'s propagation', async () => {
    const rollout = (routing: string) => write(`cluster-${routing.slice(1, 6)}.yaml`, `apiVersion: graylane.dev/v1alpha1
kind: Rollout
metadata: {name: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template: {metadata: {labels: {app: shop}}, spec: {containers: [{name: shop, image: shop:2}]}}
  strategy:
    canary: {canaryService: shop-canary, stableService: shop-stable, trafficRouting: ${routing}, guard: {}, steps: [{setWeight: 20}, {pause: {}}]}
`);
    const istio = await run(['plan', rollout('{istio: {virtualService: {name: vs}}}')]);
    expect(istio.out).toMatch(/worst case from a failure to all traffic on stable: 45s .*scrape 15s \+ a fresh test within 10s \+ 2 guard ticks of 5s \+ istio propagation 10s/);
    const nginx = await run(['plan', rollout('{nginx: {stableIngress: shop}}'), '--scrape-interval', '30s', '--guard-interval', '2s']);
    expect(nginx.out).toMatch(/worst case from a failure to all traffic on stable: 48s .*scrape 30s \+ a fresh test within 10s \+ 2 guard ticks of 2s \+ nginx propagation 4s/);
    const bad = await run(['plan', rollout('{istio: {virtualService: {name: vs}}}'), '--scrape-interval', 'soon']);
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining('--scrape-interval: "soon" is not a duration of 1s or more') as unknown]);
  });

  it('--json gives the rows with null for unbounded times', async () => {
    const r = await run(['plan', 'examples/quickstart/graylane.yaml', '--json']);
    const plan = JSON.parse(r.out).plans[0].plan;
    expect(plan.rows.map((row: { canaryWeight: number }) => row.canaryWeight)).toEqual([25, 25, 75, 75, 100]);
    expect(plan.latestFinishMs).toBeNull();
  });

  it('an invalid file exits 2 and plans nothing', async () => {
    const file = write('bad-plan.yaml', 'apiVersion: graylane.dev/v1alpha1\nkind: Rollout\nmetadata: {name: x}\nspec:\n  strategy: {canary: {steps: [{pause: {duration: soon}}]}}\n');
    const r = await run(['plan', file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('bad-plan.yaml:5:');
  });
});

describe('analysis conditions are checked when documents are validated', () => {
  it('a bad successCondition is a validation error naming the field', async () => {
    const file = write('bad-condition.yaml', [
      'apiVersion: graylane.dev/v1alpha1', 'kind: AnalysisTemplate', 'metadata: {name: success-rate}', 'spec:', '  metrics:',
      '  - name: ok', '    successCondition: result[0] >= ', '    provider:', '      web: {url: "http://127.0.0.1:9/x", jsonPath: "$.ok"}', '',
    ].join('\n'));
    const r = await run(['validate', file]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:7:23: spec\\.metrics\\[0\\]\\.successCondition: .+`));
  });

  it('a good one passes', async () => {
    const file = write('good-condition.yaml', [
      'apiVersion: graylane.dev/v1alpha1', 'kind: AnalysisTemplate', 'metadata: {name: success-rate}', 'spec:', '  metrics:',
      '  - name: ok', '    successCondition: len(result) > 0 && result[0] >= 0.99', '    provider:', '      web: {url: "http://127.0.0.1:9/x", jsonPath: "$.ok"}', '',
    ].join('\n'));
    expect((await run(['validate', file])).code).toBe(0);
  });
});
