import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packageRoot } from './package-root.js';

describe('packageRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'graylane-package-root-'));
  writeFileSync(join(root, 'package.json'), '{}');
  mkdirSync(join(root, 'dist/bundle'), { recursive: true });
  mkdirSync(join(root, 'src/demo'), { recursive: true });

  it.each([
    ['src/demo/example-servers.ts'],
    ['dist/demo/example-servers.js'],
    ['dist/bundle/chunk-5NXQXDIL.js'],
    ['dist/bundle/main.js'],
  ])('from %s it is the folder with package.json', (file) => {
    expect(packageRoot(pathToFileURL(join(root, file)).href)).toBe(root);
  });

  it('is this checkout from this module', () => {
    expect(packageRoot(import.meta.url)).toBe(join(import.meta.dirname, '../..'));
  });

  it('says where it looked when no folder above has a package.json', () => {
    const bare = mkdtempSync(join(tmpdir(), 'graylane-no-package-'));
    expect(() => packageRoot(pathToFileURL(join(bare, 'dist/bundle/main.js')).href)).toThrow(`no package.json at or above ${join(bare, 'dist/bundle')}`);
  });
});
