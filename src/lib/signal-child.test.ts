import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { signalChild } from './signal-child.js';

describe('signalChild', () => {
  it('never signals a child whose spawn failed: node would pass an unset pid (0: our own process group) to kill(2)', async () => {
    const child = spawn('/nonexistent/program', [], { stdio: 'ignore' });
    const kill = vi.spyOn(child, 'kill');
    // Before the spawn error is reported, as a stop right after a start does: exitCode is null then.
    expect(child.exitCode).toBeNull();
    expect(signalChild(child, 'SIGINT')).toBe(false);
    const [error] = (await once(child, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ENOENT');
    expect(signalChild(child, 'SIGINT')).toBe(false);
    expect(kill).not.toHaveBeenCalled();
  });

  it('signals a running child, and not one that has exited', async () => {
    const child = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    await once(child, 'spawn');
    expect(signalChild(child, 'SIGTERM')).toBe(true);
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    expect([code, signal]).toEqual([null, 'SIGTERM']);
    const kill = vi.spyOn(child, 'kill');
    expect(signalChild(child, 'SIGTERM')).toBe(false);
    expect(kill).not.toHaveBeenCalled();
  });
});
