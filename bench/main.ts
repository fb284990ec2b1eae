/**
 * `npm run bench [-- NAME...] [--json]`: runs the named benchmarks (all when none is named) and
 * prints each one's figures side by side with its baseline. Each benchmark is `bench/NAME.ts`
 * exporting `run(options)`; it returns its figures as one JSON-serialisable object.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchOptions {
  /** Print one JSON object instead of tables. */
  json: boolean;
  /** Extra flags after the name, e.g. `--duration 10`. */
  args: string[];
}

export interface BenchModule {
  /** Runs the benchmark, printing its table unless options.json, and returns its figures. */
  run(options: BenchOptions): Promise<Record<string, unknown>>;
}

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'main.ts' && !f.startsWith('lib-'))
  .map((f) => f.slice(0, -3))
  .sort();

const argv = process.argv.slice(2);
const json = argv.includes('--json');
// A word right after a flag other than --json is that flag's value (`--rates 50,200`).
const isValue = (i: number) => i > 0 && argv[i - 1]!.startsWith('--') && argv[i - 1] !== '--json';
const names = argv.filter((a, i) => !a.startsWith('-') && !isValue(i) && available.includes(a));
const unknown = argv.filter((a, i) => !a.startsWith('-') && !isValue(i) && !available.includes(a));
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
const rest = argv.filter((a) => !names.includes(a) && a !== '--json');
const results: Record<string, unknown> = {};
for (const name of names.length > 0 ? names : available) {
  const mod = (await import(pathToFileURL(`${here}/${name}.ts`).href)) as BenchModule;
  if (!json) console.log(`\n== ${name} ==`);
  results[name] = await mod.run({ json, args: rest });
}
if (json) console.log(JSON.stringify(results, null, 2));
