import type { ChildProcess } from 'node:child_process';

/**
 * Signals a child process that is running; returns whether a signal was sent.
 *
 * Why not `child.kill()` alone: when a spawn fails (ENOENT, EACCES), node 20 keeps the process
 * handle, and until the error is reported (a tick later) `exitCode` is null, yet the handle's pid
 * was never set. `kill()` then passes whatever that field holds to kill(2): seen as 0 (the
 * caller's whole process group, a CI run and the shell that started it included) and as an
 * arbitrary number (any process that happens to have it). A child without a pid is never
 * signalled. The lint rule `no-restricted-syntax` keeps `.kill()` on children out of the code.
 */
export function signalChild(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  return child.kill(signal);
}
