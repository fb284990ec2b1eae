/** Every image the README shows is in the tree, a real PNG (the console's screenshots among them). */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const images = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);

it('shows the console: overview, a rollout page and the slider', () => {
  expect(images).toEqual(expect.arrayContaining(['docs/console/overview.png', 'docs/console/rollout.png', 'docs/console/slider.png']));
});

it.each(images)('%s exists and is a PNG', (path) => {
  const file = join(ROOT, path);
  expect(statSync(file).size).toBeGreaterThan(5_000);
  expect(readFileSync(file).subarray(1, 4).toString('latin1')).toBe('PNG');
});
