import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

const topLevel = readdirSync(join(root, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `src/${d.name}`);

/** The `src/…` folders a document's folder table names (first column of rows starting with `| \`src/`). */
function tableFolders(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('| `src/'))
    .flatMap((line) => [...line.split('|')[1]!.matchAll(/`(src\/[^`]+)`/g)].map((m) => m[1]!));
}

/** Folders named inside the description column too (`controller/core`, `router/contract` …), as `src/…`. */
function describedFolders(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('| `src/'))
    .flatMap((line) => [...(line.split('|')[2] ?? '').matchAll(/`([a-z-]+\/[a-z-/]+)`/g)].map((m) => `src/${m[1]!}`))
    .filter((p) => !p.includes('.') && topLevel.includes(p.split('/').slice(0, 2).join('/')));
}

describe.each(['README.md', 'docs/architecture.md'])('the folder table of %s', (file) => {
  it('names every top-level folder under src/', () => {
    const named = tableFolders(file);
    expect(topLevel.filter((d) => !named.some((n) => n === d || n.startsWith(`${d}/`)))).toEqual([]);
  });

  it('names only folders that exist', () => {
    const missing = [...tableFolders(file), ...describedFolders(file)].filter((p) => !existsSync(join(root, p)));
    expect(missing).toEqual([]);
  });
});
