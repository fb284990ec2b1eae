// What scripts/bundle.mjs refuses in its output. import() of a CommonJS package becomes a chunk
// that exports module.exports as its default only; node's own import() names its exports too, so
// `const { Agent } = await import('undici')` works from dist/ and gets undefined from the bundle.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The chunks in `dir` that stand for a CommonJS package loaded with import(), each as one sentence
 * naming the file and what to do instead.
 * @param {string} dir
 * @returns {string[]}
 */
export function commonJsImportProblems(dir) {
  const problems = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.js')).sort()) {
    const match = /export default (require_\w+)\(\)/.exec(readFileSync(join(dir, name), 'utf8'));
    if (match) problems.push(`${name}: a CommonJS package is loaded with import() (${match[1]}): its named exports would be undefined in the bundle; load it with createRequire(import.meta.url) instead (see src/metrics/http.ts)`);
  }
  return problems;
}
