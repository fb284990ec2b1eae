import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * graylane's package root (the checkout, or the installed package): the first folder at or above
 * `moduleUrl`'s with a package.json. A module's own URL says where it was loaded from, and that is
 * src/x (tests), dist/x (tsc's output) or dist/bundle (the bundled programs): walking up serves all
 * three where a fixed `../..` would not.
 */
export function packageRoot(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json at or above ${dirname(fileURLToPath(moduleUrl))}`);
    dir = parent;
  }
  return dir;
}
