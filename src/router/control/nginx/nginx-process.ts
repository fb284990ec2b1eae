/**
 * Debian's nginx as a process graylane owns: its own prefix directory, `daemon off` so the master
 * stays our child, a configuration test before every reload (a bad render never replaces a good
 * one), and reloads by SIGHUP to the master, confirmed by watching its workers. A master an
 * earlier daemon started (and left serving when it died) is adopted by its pid instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { priorityRefusal, setSessionPriority } from '../session-priority.js';
import { NginxRunError } from './errors.js';
import { renderMainConfig } from './render-config.js';
import { signalChild } from '../../../lib/signal-child.js';

/** Options of {@link startNginx}. */
export interface NginxProcessOptions {
  /** The nginx binary; default `/usr/sbin/nginx`. */
  binary?: string;
  /** Directory of its configuration, pid, logs and temp files (created). */
  prefixDir: string;
  /** `worker_processes`. */
  workers: number | 'auto';
  /**
   * `worker_priority` (a nice value); absent: nginx's default. nginx then runs in a session of its
   * own, which gets it too (session-priority.ts).
   */
  workerPriority?: number | undefined;
  /** Old workers' deadline after a reload (`worker_shutdown_timeout`), ms. */
  workerShutdownTimeoutMs: number;
  /** The first http-level configuration. */
  http: string;
  /** How long start and each reload may take; default 10 s. */
  timeoutMs?: number;
}

/** A running nginx master and its workers. */
export interface NginxProcess {
  /** The master's pid. */
  pid: number;
  /** Why nginx's session could not be given `workerPriority`; undefined when it was, or none was asked. */
  readonly priorityRefused: string | undefined;
  /** Tests `http`, puts it in force by a graceful reload; resolves once only new workers accept. Returns the workers that were replaced. */
  reload(http: string): Promise<number[]>;
  /** Of `pids`, those still running. */
  alive(pids: number[]): number[];
  /** The master and its workers. */
  processes(): number[];
  /** Tells nginx to reopen its log files (USR1): its workers write their buffers to the old file first. */
  reopenLogs(): Promise<void>;
  /** Graceful stop (SIGQUIT), SIGKILL at `deadlineMs` from now. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** When the master started (or, adopted without a record of it, was adopted), ms since the epoch. */
  readonly startedAtMs: number;
  /**
   * Calls `listener` once when the master exits without {@link stop} (killed, crashed), with how it
   * ended (`SIGKILL`, `exit code 1`).
   */
  onExit(listener: (cause: string) => void): void;
  /** The workers last seen (their master may be gone: nginx's workers outlive a master killed with -9). */
  lastWorkers(): number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How the master is reached: the child this process spawned, or the pid of one an earlier daemon did. */
interface NginxMaster {
  /** Its pid. */
  readonly pid: number;
  /** Whether it still runs. */
  running(): boolean;
  /** Sends it `signal` when it still runs. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves once it is gone. */
  exited(): Promise<void>;
  /** Calls `listener` once it is gone, with how it ended. */
  onExit(listener: (cause: string) => void): void;
}

function childMaster(child: ChildProcess): NginxMaster {
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    // Read when asked: a spawn that failed has no pid, and that is checked after construction.
    get pid() {
      return child.pid!;
    },
    running,
    signal: (signal) => void signalChild(child, signal),
    exited: () => (running() ? new Promise<void>((r) => child.once('exit', () => r())) : Promise.resolve()),
    onExit: (listener) => {
      if (!running()) listener(child.signalCode ?? `exit code ${child.exitCode}`);
      else child.once('exit', (code, signal) => listener(signal ?? `exit code ${code}`));
    },
  };
}

/**
 * A master this process did not spawn: it runs while its pid carries nginx's master title for this
 * prefix's configuration (so a pid reused by anything else is never signalled); its exit is polled.
 */
function pidMaster(pid: number, conf: string): NginxMaster {
  const running = () => isNginxMaster(pid, conf);
  return {
    pid,
    running,
    signal: (signal) => {
      if (!running()) return;
      try {
        process.kill(pid, signal);
      } catch {
        // Gone between the check and the signal.
      }
    },
    exited: async () => {
      while (running()) await sleep(50);
    },
    onExit: (listener) => {
      // Not our child: no exit status to read, and its exit is polled.
      const poll = setInterval(() => {
        if (running()) return;
        clearInterval(poll);
        listener('exited (its exit status is unknown: it was adopted)');
      }, 500);
      poll.unref();
    },
  };
}

/** Whether `pid` is a running nginx master started with the configuration file `conf`. */
export function isNginxMaster(pid: number, conf: string): boolean {
  const title = titleOf(pid);
  return title.startsWith('nginx: master process') && title.split(' ').includes(conf);
}

/**
 * SIGKILLs those of `pids` that are still nginx workers: a master killed with -9 leaves its
 * workers serving, holding the port, with nothing to reload or stop them.
 */
export function killWorkers(pids: number[]): void {
  for (const pid of pids) {
    if (!titleOf(pid).startsWith('nginx: worker process')) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/** Pids of a process's children, from /proc. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The process title of a pid ("nginx: worker process is shutting down"), empty when gone. */
function titleOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Inodes of the sockets a process holds open, from /proc (empty once it is gone). */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // Closed between the listing and the read.
    }
  }
  return out;
}

/** Inodes of every listening TCP socket in a process's network namespace, from /proc. */
function listeningInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // Field 3 is the state (0A: LISTEN), field 9 the inode.
      if (f[3] === '0A' && f[9] !== undefined) out.add(f[9]);
    }
  }
  return out;
}

/** Runs `nginx -t` on a configuration; rejects with nginx's own words when it is refused. */
function testConfig(binary: string, prefixDir: string, conf: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-t', '-q', '-p', prefixDir, '-e', join(prefixDir, 'error.log'), '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => signalChild(child, 'SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new NginxRunError('StartFailed', `cannot run ${binary}: ${e.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new NginxRunError('InvalidConfig', `nginx refused the rendered configuration: ${err.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

class ManagedNginx implements NginxProcess {
  private stopped = false;
  private known: number[] = [];

  constructor(
    private readonly master: NginxMaster,
    private readonly binary: string,
    private readonly dir: string,
    private readonly timeoutMs: number,
    readonly priorityRefused: string | undefined,
    readonly startedAtMs: number,
  ) {}

  get pid(): number {
    return this.master.pid;
  }

  workers(): number[] {
    const now = childrenOf(this.pid);
    if (now.length > 0) this.known = now;
    return now;
  }

  lastWorkers(): number[] {
    this.workers();
    return this.known;
  }

  onExit(listener: (cause: string) => void): void {
    this.master.onExit((cause) => {
      if (!this.stopped) listener(cause);
    });
  }

  async reload(http: string): Promise<number[]> {
    if (this.stopped || !this.master.running()) throw new NginxRunError('NotStarted', 'nginx is not running');
    const next = join(this.dir, 'routes.next.conf');
    writeFileSync(next, http);
    writeFileSync(join(this.dir, 'nginx.test.conf'), readFileSync(join(this.dir, 'nginx.conf'), 'utf8').replace(join(this.dir, 'routes.conf'), next));
    await testConfig(this.binary, this.dir, join(this.dir, 'nginx.test.conf'), this.timeoutMs);
    renameSync(next, join(this.dir, 'routes.conf'));
    const before = this.workers();
    this.master.signal('SIGHUP');
    // In force once new workers run and no old one can take a connection any more. An old worker
    // retitles itself "is shutting down" on the master's QUIT just before it closes its listening
    // sockets; on a loaded machine it can be descheduled in between, so what is checked is the
    // sockets themselves: none of the master's listening sockets left among its descriptors.
    const end = Date.now() + this.timeoutMs;
    for (;;) {
      const now = this.workers();
      const fresh = now.filter((p) => !before.includes(p));
      const oldAccepting = before.filter((p) => now.includes(p) && this.accepting(p));
      if (fresh.length > 0 && oldAccepting.length === 0) return before;
      if (Date.now() > end) throw new NginxRunError('ReloadFailed', `nginx did not reload within ${this.timeoutMs} ms; see ${join(this.dir, 'error.log')}`);
      await sleep(10);
    }
  }

  /** Whether a worker may still accept: not retitled as shutting down, or still holding a listening socket. */
  private accepting(pid: number): boolean {
    if (!titleOf(pid).includes('shutting down')) return titleOf(pid) !== '';
    const listening = listeningInodes(this.pid);
    const mine = [...socketInodes(this.pid)].filter((i) => listening.has(i));
    const held = socketInodes(pid);
    return mine.some((i) => held.has(i));
  }

  processes(): number[] {
    return [this.pid, ...this.workers()];
  }

  reopenLogs(): Promise<void> {
    if (this.stopped || !this.master.running()) return Promise.reject(new NginxRunError('NotStarted', 'nginx is not running'));
    this.master.signal('SIGUSR1');
    return Promise.resolve();
  }

  alive(pids: number[]): number[] {
    const now = this.workers();
    return pids.filter((p) => now.includes(p));
  }

  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopped = true;
    if (!this.master.running()) return;
    const exited = this.master.exited();
    this.master.signal('SIGQUIT');
    const timer = setTimeout(() => {
      // nginx's workers outlive a master killed with -9 and would go on holding the port.
      killWorkers(this.workers());
      this.master.signal('SIGKILL');
    }, options.timeoutMs ?? 5000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Whether a user that neither owns nor shares the group of any directory on the way (nginx's
 * `nobody`) can reach `dir`: every directory from the root down lets others search it.
 */
export function othersCanReach(dir: string): boolean {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

/** The configuration file of the nginx graylane runs in `prefixDir`. */
export function nginxConfFile(prefixDir: string): string {
  return join(prefixDir, 'nginx.conf');
}

/** Writes `nginx.conf` (the main configuration, which includes `routes.conf`) into `prefixDir`. */
function writeMainConfig(options: Pick<NginxProcessOptions, 'prefixDir' | 'workers' | 'workerPriority' | 'workerShutdownTimeoutMs'>): void {
  const dir = options.prefixDir;
  for (const d of ['', 'body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  // Started as root, nginx runs its workers as nobody, and a worker reopens the access log itself
  // (on USR1): it must be able to reach the directory, or it keeps writing the rotated file (whose
  // lines are then lost when it goes). The directory is opened to it; when a parent is not (a state
  // dir under /root, mode 0700), the workers run as root, as graylane and its apps do then.
  const root = process.getuid?.() === 0;
  if (root) chmodSync(dir, statSync(dir).mode | 0o011);
  const workerUser = root && !othersCanReach(dir) ? userInfo().username : undefined;
  writeFileSync(nginxConfFile(dir), renderMainConfig({ prefixDir: dir, workers: options.workers, workerPriority: options.workerPriority, workerUser, workerShutdownTimeoutMs: options.workerShutdownTimeoutMs, httpInclude: join(dir, 'routes.conf') }));
}

/**
 * Takes over the master at `pid` that an earlier daemon started in `prefixDir` and left serving:
 * its `routes.conf` stays in force until the next reload, which also puts `workers` and the
 * shutdown timeout in force (the main configuration is written anew for it). Throws `NotStarted`
 * when `pid` is not that master.
 */
export function adoptNginx(options: Omit<NginxProcessOptions, 'http' | 'workerPriority'> & { pid: number; priorityRefused: string | undefined; startedAtMs: number; workerPriority?: number | undefined }): NginxProcess {
  const conf = nginxConfFile(options.prefixDir);
  if (!isNginxMaster(options.pid, conf)) throw new NginxRunError('NotStarted', `pid ${options.pid} is not the nginx master of ${options.prefixDir}`);
  writeMainConfig(options);
  const nginx = new ManagedNginx(pidMaster(options.pid, conf), options.binary ?? '/usr/sbin/nginx', options.prefixDir, options.timeoutMs ?? 10_000, options.priorityRefused, options.startedAtMs);
  nginx.workers();
  return nginx;
}

/** Writes the configuration into `prefixDir` and starts nginx; resolves once its workers run. */
export async function startNginx(options: NginxProcessOptions): Promise<NginxProcess> {
  const binary = options.binary ?? '/usr/sbin/nginx';
  const dir = options.prefixDir;
  const timeoutMs = options.timeoutMs ?? 10_000;
  writeMainConfig(options);
  writeFileSync(join(dir, 'routes.conf'), options.http);
  await testConfig(binary, dir, join(dir, 'nginx.conf'), timeoutMs);
  const priority = options.workerPriority;
  const child = spawn(binary, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'], detached: priority !== undefined });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // The session exists once spawn returns (libuv waits for the exec); its workers, forked later or not, share it.
  const refused = priority === undefined || child.pid === undefined ? undefined : setSessionPriority(priority, `/proc/${child.pid}/autogroup`);
  const priorityRefused = refused === undefined || priority === undefined ? undefined : priorityRefusal({ who: 'nginx\'s workers', priority, code: refused, runAt: 'the default' });
  const nginx = new ManagedNginx(childMaster(child), binary, dir, timeoutMs, priorityRefused, Date.now());
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.pid === undefined) {
      const log = (() => { try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; } })();
      throw new NginxRunError('StartFailed', `nginx exited at start: ${(err || log).trim().split('\n').slice(-2).join(' ')}`);
    }
    if (nginx.workers().length > 0) return nginx;
    if (Date.now() > end) {
      await nginx.stop({ timeoutMs: 0 });
      throw new NginxRunError('StartFailed', `nginx started no worker within ${timeoutMs} ms`);
    }
    await sleep(20);
  }
}
