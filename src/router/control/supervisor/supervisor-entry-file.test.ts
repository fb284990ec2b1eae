/**
 * Which file the daemon starts as the router supervisor, from where its own code was loaded: the
 * sources (tests), tsc's output, or a shared chunk of the bundle that bin/graylane.js runs.
 */
import { describe, expect, it } from 'vitest';
import { supervisorEntryFile } from './supervisor-control.js';

describe('supervisorEntryFile', () => {
  it.each([
    ['/repo/src/router/control/supervisor/supervisor-control.ts', '/repo/src/router/control/supervisor/supervisor-main.ts'],
    ['/repo/dist/router/control/supervisor/supervisor-control.js', '/repo/dist/router/control/supervisor/supervisor-main.js'],
    ['/repo/dist/bundle/chunk-5NXQXDIL.js', '/repo/dist/bundle/supervisor-main.js'],
    ['/usr/lib/node_modules/graylane/dist/bundle/chunk-AB12CD34.js', '/usr/lib/node_modules/graylane/dist/bundle/supervisor-main.js'],
  ])('%s → %s', (modulePath, entry) => {
    expect(supervisorEntryFile(modulePath)).toBe(entry);
  });
});
