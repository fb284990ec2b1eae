/**
 * The controller's log: one JSON object per line (`time`, `level`, `msg`, then the fields), what
 * cluster log collectors parse without configuration.
 */
import type { ControllerLog } from './controller-loop.js';

/** A {@link ControllerLog} writing JSON lines through `write`; `now` is injectable for tests. */
export function jsonLog(options: { write: (line: string) => void; now?: () => Date }): ControllerLog {
  const now = options.now ?? (() => new Date());
  return (level, msg, fields = {}) => {
    // Fields cannot overwrite the record's own keys: a field named `msg` would hide the message.
    const ordered = { time: now().toISOString(), level, msg, ...Object.fromEntries(Object.entries(fields).filter(([k]) => !['time', 'level', 'msg'].includes(k))) };
    options.write(`${JSON.stringify(ordered)}\n`);
  };
}
