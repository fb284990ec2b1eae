/**
 * Where a daemon keeps its state and how the CLI finds it: `--state-dir`, else
 * `GRAYLANE_STATE_DIR`, else `.graylane/` beside the App file (for `up` and `apply -f`), else the
 * nearest `.graylane/` in the current directory or above it (the CLI then asks the registry of
 * running daemons, daemon-registry.ts).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';

/** What a running daemon publishes in its state dir for the CLI. */
export interface DaemonInfo {
  /** The daemon's API base URL. */
  apiUrl: string;
  /** The built-in router's URL. */
  routerUrl: string;
  /** Router admin/metrics URL. */
  adminUrl?: string;
  /** Daemon process id. */
  pid: number;
  /** The App file it was started with. */
  appFile: string;
  /** Start time, epoch ms. */
  startedAtMs: number;
}

/** Resolves the state dir from the flag, the environment and the App file, in that order. */
export function resolveStateDir(options: { flag?: string; appFile?: string; cwd?: string; env?: NodeJS.ProcessEnv }): string {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  if (options.flag) return resolve(cwd, options.flag);
  if (env.GRAYLANE_STATE_DIR) return resolve(cwd, env.GRAYLANE_STATE_DIR);
  if (options.appFile) return join(dirname(resolve(cwd, options.appFile)), '.graylane');
  return nearestStateDir(cwd) ?? join(cwd, '.graylane');
}

/** The `graylane up` that starts a state dir's daemon again (and adopts what it left running). */
export function startCommand(stateDir: string, appFile: string): string {
  const beside = resolve(stateDir) === join(dirname(resolve(appFile)), '.graylane');
  return `graylane up -f ${appFile}${beside ? '' : ` --state-dir ${stateDir}`}`;
}

/** The nearest `.graylane/` a daemon published its addresses in, in `cwd` or above it. */
export function nearestStateDir(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.graylane', 'daemon.json'))) return join(dir, '.graylane');
    if (dirname(dir) === dir) return undefined;
  }
}

/** Why a state dir cannot be used safely. */
export type StateDirErrorCode = 'ForeignOwner' | 'Insecure';

/** The state dir is not safe to keep secrets in; the message says why and what to do. */
export class StateDirError extends Error {
  constructor(readonly code: StateDirErrorCode, message: string) {
    super(message);
    this.name = 'StateDirError';
  }
}

/**
 * Creates the state dir, or tightens an existing one, so that only its owner can read it: the
 * dir and every dir below it 0700, every file 0600. state.db holds every service's environment
 * and the release HMAC secret, so a readable dir would let another local user read secrets and
 * forge release tokens. Files created later (SQLite's -wal and -shm, logs) sit in a 0700 dir;
 * call again once they exist to give them 0600 too. Throws {@link StateDirError} when the dir (or
 * anything in it) belongs to another user, or cannot be tightened.
 */
export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  tighten(dir, 0o700, statSync(dir));
}

const uid = (): number | undefined => (typeof process.getuid === 'function' ? process.getuid() : undefined);

function tighten(path: string, mode: number, st: Stats): void {
  // A link inside the dir is neither followed nor changed: chmod through it would change its target.
  if (st.isSymbolicLink()) return;
  const me = uid();
  if (me !== undefined && st.uid !== me) {
    throw new StateDirError(
      'ForeignOwner',
      `${path} belongs to user ${st.uid}, not to this user (${me}): another user could read the services' environment and forge release tokens. Use a state dir of your own (--state-dir), or give it to this user (chown).`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    try {
      chmodSync(path, mode);
    } catch (err) {
      throw new StateDirError('Insecure', `${path} is open to other users (mode ${(st.mode & 0o777).toString(8)}) and cannot be made private: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. Use another --state-dir.`);
    }
  }
  if (!st.isDirectory()) return;
  for (const entry of readdirSync(path)) {
    const child = lstatSync(join(path, entry));
    tighten(join(path, entry), child.isDirectory() ? 0o700 : 0o600, child);
  }
}

/** Reads the API token, creating it (mode 0600) at first start. */
export function loadOrCreateToken(dir: string): string {
  const file = join(dir, 'token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return token;
}

/** Reads the token for a client; undefined when the daemon never started here. */
export function readToken(dir: string): string | undefined {
  const file = join(dir, 'token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/** Publishes the daemon's addresses atomically (write, then rename). */
export function writeDaemonInfo(dir: string, info: DaemonInfo): void {
  const file = join(dir, 'daemon.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The daemon's published addresses, if any. */
export function readDaemonInfo(dir: string): DaemonInfo | undefined {
  const file = join(dir, 'daemon.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DaemonInfo;
  } catch {
    return undefined;
  }
}
