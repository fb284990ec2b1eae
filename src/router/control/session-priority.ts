/**
 * The scheduling priority of a data plane's session. Linux with autogroup on
 * (`kernel.sched_autogroup_enabled`, the default of Debian's and Ubuntu's kernels) shares the CPU
 * fairly between sessions first; a process's nice value then only orders it among the processes
 * of its own session. Each app instance graylane starts has a session of its own (it is started
 * detached), so the nice value of a data plane's workers alone never put them before the apps.
 * The session's nice value (its autogroup's) does. The router supervisor starts in a session of its
 * own, which its workers share, and gives that session the workers' priority; a managed nginx
 * asked for a priority runs in a session of its own that graylane gives it. Measured on this
 * project's 2-core host: two busy processes in two sessions on one CPU, one reniced to -10, shared
 * it 108/109 ticks; with its session at -10 instead, 28/192.
 */
import { writeFileSync } from 'node:fs';

/** Where Linux takes the calling process's session nice value. */
export const OWN_AUTOGROUP = '/proc/self/autogroup';

/**
 * Sets a session's nice value through `path`: the calling process's by default, else
 * `/proc/PID/autogroup` of a process in the session. Returns the errno's name when the system
 * refuses it (a value below the current one needs root or CAP_SYS_NICE, as for a process);
 * undefined when set, or when there is no such thing to set (not Linux, or a kernel built without
 * autogroup, where a process's nice value is all there is).
 */
export function setSessionPriority(nice: number, path: string = OWN_AUTOGROUP): string | undefined {
  try {
    writeFileSync(path, String(nice));
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return code ?? (err as Error).message;
  }
}

/** The sentence for a priority the system refused: `who` ("the router workers"), the errno's name, and what they run at instead. */
export function priorityRefusal(options: { who: string; priority: number; code: string; runAt: string }): string {
  return `${options.who} cannot be given priority ${options.priority} (${options.code}: a priority below 0 needs root or CAP_SYS_NICE); they run at ${options.runAt}`;
}
