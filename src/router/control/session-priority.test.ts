/** Setting the session's nice value: what the system refuses is named, what it lacks is no error. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OWN_AUTOGROUP, setSessionPriority } from './session-priority.js';

const canDropSysNice = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv') && existsSync(OWN_AUTOGROUP);

describe('setSessionPriority', () => {
  it('is no error where the kernel has no session priority (no such file)', () => {
    expect(setSessionPriority(5, '/proc/self/no-autogroup-here')).toBeUndefined();
  });

  it('names the errno of any other failure', () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-session-priority-'));
    try {
      expect(setSessionPriority(5, dir)).toBe('EISDIR');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!canDropSysNice)('is refused with EPERM below 0 without CAP_SYS_NICE (dropped by setpriv), and the session keeps its value', () => {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const module = pathToFileURL(new URL('./session-priority.ts', import.meta.url).pathname).href;
    const script = `
      import { readFileSync } from 'node:fs';
      import { setSessionPriority } from ${JSON.stringify(module)};
      const refused = setSessionPriority(-5);
      console.log(JSON.stringify({ refused, now: readFileSync('/proc/self/autogroup', 'utf8').trim().split(' ')[2] }));
    `;
    const out = execFileSync('/usr/bin/setpriv', ['--bounding-set', '-sys_nice', '--inh-caps', '-sys_nice', 'setsid', process.execPath, '--import', tsx, '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ refused: 'EPERM', now: '0' });
  });
});
