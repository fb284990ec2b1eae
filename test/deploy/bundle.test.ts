/**
 * The bundled programs (scripts/bundle.mjs) that bin/graylane.js, the router supervisor and its
 * workers run, and what the bundle step refuses: a CommonJS package loaded with import(), whose
 * named exports a bundle loses.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { commonJsImportProblems } from '../../scripts/bundle-check.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const BANNER = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

describe('the bundle', () => {
  it('holds the three programs, and none of its chunks loads a CommonJS package with import()', () => {
    const dir = join(ROOT, 'dist/bundle');
    if (!existsSync(dir)) throw new Error('dist/ is not built: run `npm run build` (npm test does) before this test');
    for (const entry of ['main.js', 'supervisor-main.js', 'worker-main.js']) expect(existsSync(join(dir, entry))).toBe(true);
    expect(commonJsImportProblems(dir)).toEqual([]);
  });

  it('has source maps back to graylane\'s TypeScript, which node uses for stack traces with --enable-source-maps', async () => {
    const bundled = readFileSync(join(ROOT, 'dist/bundle/main.js'), 'utf8');
    const at = bundled.indexOf('new Command("graylane")');
    expect(at).toBeGreaterThan(-1);
    const line = bundled.slice(0, at).split('\n').length - 1;
    const column = at - (bundled.lastIndexOf('\n', at - 1) + 1);
    const probe = `
      import { findSourceMap } from 'node:module';
      const file = ${JSON.stringify(join(ROOT, 'dist/bundle/main.js'))};
      await import(file);
      const entry = findSourceMap(file)?.findEntry(${line}, ${column});
      console.log(JSON.stringify(entry ?? null));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', probe]);
    const entry = JSON.parse(stdout) as { originalSource: string; originalLine: number } | null;
    expect(entry?.originalSource).toMatch(/\/src\/cli\/main\.ts$/);
    const source = readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8').split('\n');
    expect(source[entry!.originalLine]).toContain("new Command('graylane')");
  });

  it('a CommonJS package loaded with import() loses its named exports in a bundle, and the check names the chunk and the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-bundle-'));
    // Inside the checkout's tree so that `undici` resolves from its node_modules.
    const entry = join(ROOT, 'test/fixtures/cli/import-commonjs.mjs');
    const outdir = join(dir, 'out');
    await build({ entryPoints: { main: entry }, outdir, bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', banner: { js: BANNER }, logLevel: 'silent' });
    const { stdout } = await promisify(execFile)(process.execPath, [join(outdir, 'main.js')]);
    expect(stdout.trim()).toBe('Agent: undefined');
    const problems = commonJsImportProblems(outdir);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^undici-\w+\.js: a CommonJS package is loaded with import\(\) \(require_undici\): its named exports would be undefined in the bundle; load it with createRequire\(import\.meta\.url\) instead/);
  });

  it('finds nothing in chunks that only import and export ES modules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-bundle-'));
    writeFileSync(join(dir, 'main.js'), 'import { a } from "./chunk-AB.js"; export default a;\n');
    writeFileSync(join(dir, 'chunk-AB.js'), 'export const a = 1;\n');
    expect(commonJsImportProblems(dir)).toEqual([]);
  });
});
