import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubernetesManifests } from '../../src/cli/install/kubernetes-manifests.js';

const root = resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(resolve(root, file), 'utf8');

interface Instruction { readonly op: string; readonly args: string }
interface Stage { readonly from: string; readonly instructions: Instruction[] }

/** The Dockerfile's stages and their instructions (continuation lines joined, comments dropped). */
function stages(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const out: Stage[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') out.push({ from: args, instructions: [] });
    else out.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
  }
  return out;
}

describe('the Dockerfile', () => {
  const all = stages(read('Dockerfile'));
  const runtime = all.at(-1)!;
  const last = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).at(-1)?.args;

  it('builds in one stage and runs in another, both on the Node major package.json requires', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const major = /(\d+)/.exec(engines)![1];
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const stage of all) expect(stage.from.split(/\s+/)[0]).toBe(`node:${major}-bookworm-slim`);
  });

  it('builds with npm ci and npm run build, and ships production dependencies only', () => {
    const build = all[0]!.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
    expect(build).toMatch(/npm ci\b/);
    expect(build).toMatch(/npm run build\b/);
    expect(build).toMatch(/npm prune --omit=dev\b/);
    const runtimeRuns = runtime.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ');
    expect(runtimeRuns).not.toMatch(/npm (ci|install)/);
    expect(runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args)).toEqual(expect.arrayContaining([
      '--from=build /app/node_modules ./node_modules', '--from=build /app/dist ./dist',
    ]));
  });

  it('copies every script `npm run build` runs, and what those import, before it runs', () => {
    const buildScript = (JSON.parse(read('package.json')) as { scripts: { build: string } }).scripts.build;
    const scripts = [...buildScript.matchAll(/\bnode (scripts\/\S+)/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of [...scripts]) {
      for (const m of read(script).matchAll(/from '\.\/([^']+)'/g)) scripts.push(`scripts/${m[1]!}`);
    }
    const copied = all[0]!.instructions.filter((i) => i.op === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const script of scripts) expect(copied, script).toContain(script);
  });

  it('runs as the numeric non-root user the Deployment requires', () => {
    const user = last(runtime, 'USER');
    expect(user).toMatch(/^\d+(:\d+)?$/);
    const uid = Number(user!.split(':')[0]);
    expect(uid).toBeGreaterThan(0);
    const deployment = kubernetesManifests().find((o) => o.kind === 'Deployment');
    const pod = deployment?.kind === 'Deployment' ? deployment.spec?.template.spec : undefined;
    expect(pod?.securityContext?.runAsUser).toBe(uid);
    expect(pod?.containers[0]?.securityContext?.runAsUser).toBe(uid);
  });

  it('starts the CLI, the controller by default, and exposes the health and metrics ports', () => {
    expect(JSON.parse(last(runtime, 'ENTRYPOINT')!)).toEqual(['node', '/app/bin/graylane.js']);
    expect(JSON.parse(last(runtime, 'CMD')!)).toEqual(['controller']);
    expect(last(runtime, 'EXPOSE')?.split(/\s+/)).toEqual(['8080', '8090']);
  });

  it('has a .dockerignore that keeps local builds, dependencies and the repository out of the context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['.git', 'node_modules', 'dist']));
    // What the Dockerfile copies must not be ignored.
    for (const needed of ['src', 'bin', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) expect(ignored).not.toContain(needed);
  });
});
