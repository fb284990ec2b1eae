// The README's five-minute tour, run literally: its ```sh block is read from the README of a fresh
// clone and each line runs as written through `sh` from the clone's root, `up` in the background
// as terminal 1, the edit step (VERSION v1 → v2) done here. The clone borrows this checkout's
// node_modules and built dist/ (npm install and a build per run would take minutes).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tourLines } from '../fixtures/readme-blocks.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

interface Ran { code: number | null; out: string }

describe('the README tour, from a fresh clone', () => {
  it('runs command by command as written', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'graylane-tour-'));
    const clone = join(tmp, 'graylane');
    execFileSync('git', ['clone', '-q', ROOT, clone]);
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(clone, 'node_modules'));
    symlinkSync(join(ROOT, 'dist'), join(clone, 'dist'));
    // A registry of running daemons of this test alone; no state dir given: the commands must find it.
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: join(tmp, 'run'), npm_config_offline: 'true', npm_config_ignore_scripts: 'true' };
    delete env.GRAYLANE_STATE_DIR;
    const children: ChildProcess[] = [];
    cleanups.push(() => {
      for (const c of children) {
        try {
          process.kill(-c.pid!, 'SIGKILL');
        } catch {
          // The group is gone already.
        }
      }
      rmSync(tmp, { recursive: true, force: true });
    });

    /** Starts a line in its own process group, as a terminal does; `until` ends it with Ctrl-C once seen. */
    const start = (command: string): { proc: ChildProcess; output: () => string; exited: Promise<Ran> } => {
      const proc = spawn('sh', ['-c', command], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(proc);
      let out = '';
      proc.stdout.on('data', (c: Buffer) => void (out += c.toString()));
      proc.stderr.on('data', (c: Buffer) => void (out += c.toString()));
      const exited = new Promise<Ran>((r) => proc.once('exit', (code) => r({ code, out })));
      return { proc, output: () => out, exited };
    };
    const waitFor = async (output: () => string, seen: RegExp, what: string, timeoutMs = 30_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!seen.test(output())) {
        if (Date.now() > deadline) throw new Error(`${what}: no ${seen} within ${timeoutMs} ms:\n${output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const run = (command: string, timeoutMs = 30_000): Promise<Ran> => {
      const { proc, exited } = start(command);
      const timer = setTimeout(() => process.kill(-proc.pid!, 'SIGKILL'), timeoutMs);
      return exited.finally(() => clearTimeout(timer));
    };

    const steps = tourLines(readFileSync(join(clone, 'README.md'), 'utf8'), '## A five-minute tour');
    expect(steps.map((s) => s.command.split(' ').slice(0, 3).join(' '))).toEqual([
      'npx graylane validate', 'npx graylane plan', 'npx graylane up', 'curl -s localhost:8080/', '',
      'npx graylane apply', 'npx graylane status', 'npx graylane promote', 'npx graylane status', 'npx graylane history',
    ]);
    let up: ReturnType<typeof start> | undefined;
    for (const { command, comment } of steps) {
      const say = `${command || comment}`;
      if (command === '') {
        // The tour's edit: VERSION v1 → v2 in the App file.
        const file = join(clone, 'examples/quickstart/graylane.yaml');
        const text = readFileSync(file, 'utf8');
        expect(text).toContain('VERSION: v1');
        writeFileSync(file, text.replace('VERSION: v1', 'VERSION: v2'));
      } else if (/ up /.test(command)) {
        up = start(command);
        await waitFor(up.output, /Ctrl-C drains/, say);
        await waitFor(up.output, /ready {4}hello: 2\/2 instances serving, [0-9.]+ s after the start/, say);
        expect(up.output()).toMatch(/CLI {6}graylane get/);
        expect(up.output()).toMatch(/metrics {2}curl -H "authorization: Bearer \$\(cat .*token\)"/);
      } else if (command.startsWith('curl')) {
        // `up` said the service is ready: the reader's first request is answered by v1.
        const r: Ran = await run(command);
        expect(r.out, say).toContain('hello from v1');
      } else if (command.includes('--watch')) {
        const watch = start(command);
        await waitFor(watch.output, /hello/, say);
        process.kill(-watch.proc.pid!, 'SIGINT');
        const r = await watch.exited;
        expect(r.out, say).toMatch(/25%|25 ?%/);
      } else {
        const r = await run(command, 90_000);
        expect(r.code, `${say}\n${r.out}`).toBe(0);
        if (command.includes('validate')) expect(r.out).not.toMatch(/error/i);
        if (command.includes('plan')) expect(r.out).toMatch(/25/);
        if (command.includes('apply')) expect(r.out).toMatch(/hello: revision #2 \(\w+\) \w+/);
        if (command.includes('history')) expect(r.out).toMatch(/#1[\s\S]*#2|#2[\s\S]*#1/);
      }
    }
    // Terminal 1's Ctrl-C: the daemon drains, stops the app and forgets itself.
    process.kill(-up!.proc.pid!, 'SIGINT');
    const stopped = await up!.exited;
    expect(stopped.out).toContain('stopped.');
    // sh itself dies of the SIGINT; what counts is that graylane drained and stopped.
    expect((await run('npx graylane get')).code).toBe(3);
  }, 240_000);
});
