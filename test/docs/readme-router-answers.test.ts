/**
 * The README's table of the router's own answers is the router's list of them: a reason added
 * or reworded in the code and not in the README (or the reverse) fails here.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { routerAnswersTable } from '../../src/router/router-answers.js';

const root = resolve(import.meta.dirname, '../..');

describe('the README\'s "When the router answers itself"', () => {
  it('lists every x-graylane-error the router gives, with its statuses and meaning (regenerate: routerAnswersTable())', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### When the router answers itself'));
    const lines = section.split('\n');
    const first = lines.findIndex((l) => l.startsWith('|'));
    const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'));
    const table = lines.slice(first, end);
    expect(table.join('\n')).toBe(routerAnswersTable());
  });
});
