/**
 * The console's first load stays small: the JavaScript index.html loads (after `npm run build`,
 * which CI runs before vitest) is under 250 KB gzipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../../dist/console', import.meta.url));
const BUDGET_BYTES = 250 * 1024;

/** The scripts index.html loads, with the modules they preload. */
function scriptsOf(html: string): string[] {
  const out = new Set<string>();
  for (const m of html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)) out.add(m[1]!);
  for (const m of html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"|<link[^>]*href="([^"]+)"[^>]*rel="modulepreload"/g)) out.add((m[1] ?? m[2])!);
  return [...out];
}

describe('console bundle', () => {
  it('loads under 250 KB of gzipped JavaScript on first load', () => {
    expect(existsSync(join(dist, 'index.html')), 'dist/console is built by `npm run build`').toBe(true);
    const scripts = scriptsOf(readFileSync(join(dist, 'index.html'), 'utf8'));
    expect(scripts.length).toBeGreaterThan(0);
    let total = 0;
    for (const src of scripts) {
      expect(src.startsWith('/assets/'), `${src} is a hashed asset`).toBe(true);
      total += gzipSync(readFileSync(join(dist, src)), { level: 9 }).length;
    }
    expect(total).toBeLessThan(BUDGET_BYTES);
  });
});
