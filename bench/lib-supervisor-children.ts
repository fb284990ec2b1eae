/**
 * The router supervisor's children by role, from `/proc` (Linux): its workers, and the socket
 * keeper that holds the listening sockets and serves nothing (`socket-keeper-main.ts`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The supervisor pid recorded in a state dir's `router.json`. */
export function recordedSupervisorPid(stateDir: string): number {
  return (JSON.parse(readFileSync(join(stateDir, 'router.json'), 'utf8')) as { pid: number }).pid;
}

/** The workers (oldest pid first as the kernel lists them) and the keeper of supervisor `pid`. */
export function supervisorChildren(pid: number, procDir = '/proc'): { workers: number[]; keeper: number | undefined } {
  const children = readFileSync(`${procDir}/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const workers: number[] = [];
  let keeper: number | undefined;
  for (const child of children) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`${procDir}/${child}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    if (cmdline.includes('socket-keeper-main')) keeper = child;
    else if (cmdline.includes('worker-main')) workers.push(child);
  }
  return { workers, keeper };
}
