/**
 * The per-user record of running daemons. `graylane up` keeps its state beside the App file, so a
 * command typed in another directory (`graylane status hello` from the repository root) would not
 * find it by looking upwards; every daemon therefore leaves an entry here while it runs, and a
 * command that is not told where the state dir is uses the one daemon running, or says which are.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { nearestStateDir, readDaemonInfo, resolveStateDir, startCommand } from './state-dir.js';

/** One running daemon, as recorded in the registry. */
export interface RegisteredDaemon {
  /** The daemon's process id. */
  pid: number;
  /** Its state dir (absolute). */
  stateDir: string;
  /** The App file it was started with (absolute). */
  appFile: string;
  /** Start time, epoch ms. */
  startedAtMs: number;
}

/** Several daemons run and nothing says which one a command means. Exit code 2. */
export class AmbiguousDaemonError extends Error {
  readonly code = 'AmbiguousDaemon';
  constructor(readonly daemons: RegisteredDaemon[]) {
    const list = daemons.map((d) => `  ${d.stateDir} (pid ${d.pid}, ${d.appFile})`).join('\n');
    super(
      `${daemons.length} graylane daemons are running:\n${list}\nchoose one with --state-dir DIR or GRAYLANE_STATE_DIR=DIR (one of the dirs above), or run the command in the App file's directory`,
    );
    this.name = 'AmbiguousDaemonError';
  }
}

/** No daemon runs, and several ended without stopping (killed, crashed): which one is meant is not known. Exit code 3. */
export class EndedDaemonsError extends Error {
  readonly code = 'DaemonsEnded';
  constructor(readonly daemons: RegisteredDaemon[]) {
    const list = daemons.map((d) => `  ${d.stateDir} (pid ${d.pid}): ${startCommand(d.stateDir, d.appFile)}`).join('\n');
    super(
      `no graylane daemon is running; ${daemons.length} ended without stopping (killed or crashed), and what they started may still serve:\n${list}\nstart the one you mean again with its command above (running apps are re-adopted), or choose a state dir with --state-dir DIR or GRAYLANE_STATE_DIR=DIR`,
    );
    this.name = 'EndedDaemonsError';
  }
}

/**
 * Where the registry lives: `$XDG_RUNTIME_DIR/graylane/daemons` (a per-user dir emptied at logout,
 * the right lifetime for "running"), else `$XDG_STATE_HOME` or `~/.local/state`, under `graylane/daemons`.
 */
export function registryDir(env: NodeJS.ProcessEnv): string {
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'graylane', 'daemons');
  const stateHome = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(stateHome, 'graylane', 'daemons');
}

const entryFile = (env: NodeJS.ProcessEnv, pid: number) => join(registryDir(env), `${pid}.json`);

/**
 * Records a running daemon (file 0600 in a 0700 dir: it names the user's projects). Throws the
 * file system's error when the registry cannot be written; the caller decides how loud to be.
 */
export function registerDaemon(env: NodeJS.ProcessEnv, daemon: RegisteredDaemon): void {
  const dir = registryDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = entryFile(env, daemon.pid);
  writeFileSync(`${file}.tmp`, JSON.stringify(daemon), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** Removes a daemon's entry (when it stops); a missing entry is fine. */
export function unregisterDaemon(env: NodeJS.ProcessEnv, pid: number): void {
  rmSync(entryFile(env, pid), { force: true });
}

/** Whether a process with this pid runs (one owned by another user counts: it exists). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The registry's entries that still mean something, oldest first. */
interface RegistryEntries {
  /** The daemons that run now. */
  running: RegisteredDaemon[];
  /**
   * Daemons that ended without stopping (killed, crashed): the process is gone, but it never
   * removed its entry and its state dir still names it. What it started may still serve (apps, a
   * router supervisor), and the next `up` there adopts it.
   */
  ended: RegisteredDaemon[];
}

/**
 * Reads the registry. An entry counts as running only while its pid is alive and its state dir
 * still publishes that pid (a daemon killed with SIGKILL cannot remove its entry, and its pid may
 * be reused); an entry whose state dir names another pid, or is gone, is removed on the way. An
 * ended daemon's entry stays until a daemon starts again on its state dir.
 */
function readRegistry(env: NodeJS.ProcessEnv): RegistryEntries {
  const dir = registryDir(env);
  const out: RegistryEntries = { running: [], ended: [] };
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^[0-9]+\.json$/.test(n));
  } catch {
    return out;
  }
  for (const name of names) {
    const file = join(dir, name);
    let entry: RegisteredDaemon | undefined;
    try {
      entry = JSON.parse(readFileSync(file, 'utf8')) as RegisteredDaemon;
    } catch {
      entry = undefined;
    }
    if (entry && typeof entry.pid === 'number' && typeof entry.stateDir === 'string' && readDaemonInfo(entry.stateDir)?.pid === entry.pid) {
      (pidAlive(entry.pid) ? out.running : out.ended).push(entry);
      continue;
    }
    try {
      rmSync(file, { force: true });
    } catch {
      // Another command may be pruning the same entry; it is ignored either way.
    }
  }
  const byStart = (a: RegisteredDaemon, b: RegisteredDaemon) => a.startedAtMs - b.startedAtMs;
  return { running: out.running.sort(byStart), ended: out.ended.sort(byStart) };
}

/** The daemons that run now (see {@link readRegistry}), oldest first. */
export function runningDaemons(env: NodeJS.ProcessEnv): RegisteredDaemon[] {
  return readRegistry(env).running;
}

/**
 * The state dir a command talks to: `--state-dir`, `GRAYLANE_STATE_DIR`, `.graylane/` beside the
 * App file, the nearest `.graylane/` with a daemon in the current directory or above, else the one
 * daemon running for this user. Throws {@link AmbiguousDaemonError} when several run. With none
 * running, the state dir of the one daemon that ended without stopping (its client then says it
 * cannot reach it, which daemon it was, and how to start it again); {@link EndedDaemonsError} when
 * several did; else `.graylane/` in the current directory (whose client then says that no daemon
 * runs there).
 */
export function discoverStateDir(options: { flag?: string; appFile?: string; cwd: string; env: NodeJS.ProcessEnv }): string {
  if (options.flag || options.env.GRAYLANE_STATE_DIR || options.appFile) return resolveStateDir(options);
  const near = nearestStateDir(options.cwd);
  if (near) return near;
  const { running, ended } = readRegistry(options.env);
  if (running.length === 1) return running[0]!.stateDir;
  if (running.length > 1) throw new AmbiguousDaemonError(running);
  if (ended.length === 1) return ended[0]!.stateDir;
  if (ended.length > 1) throw new EndedDaemonsError(ended);
  return join(options.cwd, '.graylane');
}
