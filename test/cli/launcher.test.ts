/**
 * `bin/graylane.js` run as a program: its first line, read by sh, starts node with malloc's mmap
 * threshold fixed (see the file), unless the user set malloc's settings; run by `node` it is the
 * same CLI. The setting is the process's own: what the CLI starts does not inherit it. It runs the
 * bundled CLI (scripts/bundle.mjs), not tsc's module-per-file output.
 */
import { execFile } from 'node:child_process';
import { relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const BIN = resolve('bin/graylane.js');
const PROBE = pathToFileURL(resolve('test/fixtures/cli/env-probe.mjs')).href;
const MODULE_PROBE = pathToFileURL(resolve('test/fixtures/cli/module-probe.mjs')).href;

interface Probe { initial: string[]; atExit: Record<string, string | undefined> }

async function run(options: { viaNode: boolean; env?: Record<string, string> }): Promise<{ stdout: string; probe: Probe }> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NODE_OPTIONS: `--import=${PROBE}`, ...options.env };
  const [file, args] = options.viaNode ? [process.execPath, [BIN, '--version']] : [BIN, ['--version']];
  const { stdout, stderr } = await promisify(execFile)(file, args, { env });
  const line = stderr.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no probe output: ${stderr}`);
  return { stdout, probe: JSON.parse(line) as Probe };
}

describe.skipIf(process.platform !== 'linux')('the graylane launcher', () => {
  it('run as a program, node starts with malloc\'s threshold fixed, and the CLI passes none of it on', async () => {
    const { stdout, probe } = await run({ viaNode: false });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(probe.initial).toEqual(['MALLOC_MMAP_THRESHOLD_=131072', 'GRAYLANE_SET_MALLOC=1']);
    expect(probe.atExit).toEqual({});
  });

  it.each([
    [{ MALLOC_MMAP_THRESHOLD_: '65536' }, ['MALLOC_MMAP_THRESHOLD_=65536'], { MALLOC_MMAP_THRESHOLD_: '65536' }],
    [{ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=262144' }, [], {}],
  ])('with %j set by the user, the launcher leaves malloc alone', async (env, initial, atExit) => {
    const { probe } = await run({ viaNode: false, env });
    expect(probe.initial).toEqual(initial);
    expect(probe.atExit).toEqual(atExit);
  });

  it('run by node, it is the same CLI with malloc\'s default', async () => {
    const { stdout, probe } = await run({ viaNode: true });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(probe).toEqual({ initial: [], atExit: {} });
  });

  it('runs the bundled CLI: a command loads a few chunks of dist/bundle, not a module per source file', async () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', NODE_OPTIONS: `--import=${MODULE_PROBE}` };
    // validate reads YAML and checks the App against its schema: most of the documents layer.
    const { stdout, stderr } = await promisify(execFile)(BIN, ['validate', 'examples/quickstart/graylane.yaml'], { env });
    expect(stdout + stderr).toContain('App quickstart');
    const line = stderr.split('\n').find((l) => l.startsWith('{'));
    if (!line) throw new Error(`no probe output: ${stderr}`);
    const files = (JSON.parse(line) as { loaded: string[] }).loaded.map((url) => relative(resolve('.'), fileURLToPath(url)));
    const own = files.filter((f) => !f.startsWith('node_modules/') && !f.startsWith('test/fixtures/') && f !== 'bin/graylane.js');
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter((f) => !f.startsWith('dist/bundle/'))).toEqual([]);
    // One entry and the chunks it shares with the other entries and lazy imports, where tsc's
    // output had a module per source file (some 440 of graylane's own for up).
    expect(own.length).toBeLessThan(40);
    // Dependencies are bundled too; only the native addon is loaded from node_modules.
    expect(files.filter((f) => f.startsWith('node_modules/') && !f.startsWith('node_modules/better-sqlite3/'))).toEqual([]);
  });
});
