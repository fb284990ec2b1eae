/**
 * The messages between the daemon's adapter and the router supervisor (JSON lines over a Unix
 * socket), and between the supervisor and its workers (each worker process's IPC channel). Every
 * line the daemon and the supervisor exchange carries {@link PROTOCOL_VERSION}: a supervisor left running
 * by an older graylane is refused rather than misread.
 */
import type { Socket } from 'node:net';
import type { RouteTable, RouterEvent } from '../../contract/index.js';
import type { CertificateEvent, RouterOptions } from '../../types.js';
import type { DrainOutcome } from '../router-control.js';
import type { WireMergedReport, WireWorkerReport } from './wire-report.js';

/** Version of the daemon ↔ supervisor protocol (5: reports carry latency histograms packed, see wire-report.ts). */
export const PROTOCOL_VERSION = 5;

/** What the adapter passes the supervisor on its command line. */
export interface SupervisorConfig {
  /** Where `router.json` and the socket go. */
  stateDir: string;
  /** Data-plane workers. */
  workers: number;
  /** The workers' scheduling priority (nice value); absent: inherited. */
  workerPriority?: number | undefined;
  /** The workers' router options (listen included; no admin listener, no callbacks). */
  router: RouterOptions;
}

/** The workers' TLS options as they cross a process boundary: no callback. */
export type SupervisorTls = Omit<NonNullable<RouterOptions['tls']>, 'onCertificateEvent'>;

/** Name of the supervisor's record in the state dir. */
export const SUPERVISOR_INFO_FILE = 'router.json';
/** Name of the supervisor's socket in the state dir. */
export const SUPERVISOR_SOCKET_FILE = 'router.sock';

/** What the supervisor writes to `router.json` in the state dir once it serves. */
export interface SupervisorInfo {
  /** The supervisor's pid (its process group's id too: it is started detached). */
  pid: number;
  /** The Unix socket the daemon connects to. */
  socketPath: string;
  /** The proxy's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The address it was asked to listen on (port 0 included), to tell whether a restart may adopt it. */
  listen: { host: string; port: number };
  /** The HTTPS base URL, when the workers serve HTTPS. */
  httpsUrl?: string;
  /**
   * The HTTPS listener it was asked for (listen, certificates, redirects), absent without one: a
   * daemon whose App asks for another does not adopt it.
   */
  tls?: SupervisorTls;
  /** The workers' priority it was asked for, absent without one: a daemon asking for another does not adopt it. */
  workerPriority?: number;
  /** {@link PROTOCOL_VERSION} of the supervisor. */
  protocol: number;
}

/** One worker, as the supervisor sees it. */
export interface WorkerStatus {
  pid: number;
  /** Version of the last table the worker acknowledged (0 before its first). */
  tableVersion: number;
  /** Requests it routed, all revisions together, per its last report. */
  requests: number;
  /** Its scheduling priority (nice value) now. */
  priority: number;
  /** When it was started, ms since the epoch. */
  startedAtMs: number;
  /** Told to stop by a resize: it finishes its requests and exits, and is not replaced. */
  retiring?: true;
}

/** A worker that died without being told to stop, and the one started in its place. */
export interface WorkerExit {
  /** The pid that died. */
  pid: number;
  /** When it died, ms since the epoch. */
  atMs: number;
  /** How it ended: a signal's name (`SIGKILL`) or `exit code N`. */
  cause: string;
  /** How long it had run, ms. */
  livedMs: number;
  /** The worker started in its place, once that one serves: its pid, and how long after the exit. */
  replacedBy?: { pid: number; afterMs: number };
}

/** Exits the supervisor remembers for `status`; older ones are only counted. */
export const WORKER_EXITS_KEPT = 10;

/** What `status` answers. */
export interface SupervisorStatus {
  /** The workers running now, oldest first. */
  workers: WorkerStatus[];
  /** The latest {@link WORKER_EXITS_KEPT} exits, oldest first. */
  exits: WorkerExit[];
  /** Every exit since the supervisor started. */
  exitsTotal: number;
}

/** Pushed when a worker dies (`worker-exited`) and when its replacement serves (`worker-replaced`). */
export interface WorkerEvent {
  type: 'worker-exited' | 'worker-replaced';
  exit: WorkerExit;
  /**
   * Whose exit: a router worker's (absent), the router supervisor's (told by the daemon's side,
   * which starts another), or the master of the nginx graylane runs as the data plane.
   */
  process?: 'supervisor' | 'nginx';
}

/** Requests of the daemon; each gets exactly one {@link SupervisorReply} with the same id. */
export type SupervisorRequest =
  | { v: number; id: number; op: 'hello' }
  | { v: number; id: number; op: 'apply'; table: RouteTable }
  | { v: number; id: number; op: 'await-drained'; instance: string; deadlineMs: number }
  | { v: number; id: number; op: 'snapshot' }
  | { v: number; id: number; op: 'status' }
  /** Runs `workers` workers from now on (forks more, or drains and stops the newest extra ones); answers the count before. */
  | { v: number; id: number; op: 'resize'; workers: number }
  | { v: number; id: number; op: 'shutdown'; drainTimeoutMs: number };

/** What `hello` answers: enough to adopt a running supervisor. */
export interface HelloResult {
  pid: number;
  url: string;
  /** The HTTPS base URL, when the workers serve HTTPS. */
  httpsUrl?: string;
  version: number;
  table: RouteTable;
  report: WireMergedReport;
  /** Why the workers could not be given the priority asked for (no root, no CAP_SYS_NICE). */
  priorityRefused?: string;
}

/** A failed request: the error's class name and code travel so the adapter can rebuild it. */
export interface WireError {
  name: string;
  code: string;
  message: string;
  issues?: unknown[];
}

/** The supervisor's answers and pushes. */
export type SupervisorMessage =
  | { v: number; id: number; ok: true; result: unknown }
  | { v: number; id: number; ok: false; error: WireError }
  | { v: number; push: 'report'; report: WireMergedReport }
  | { v: number; push: 'event'; event: RouterEvent }
  | { v: number; push: 'certificate'; event: CertificateEvent }
  | { v: number; push: 'worker'; event: WorkerEvent };

/** Supervisor → worker. */
export type ToWorker =
  | { t: 'table'; version: number; table: RouteTable }
  | { t: 'await-drained'; id: number; instance: string; deadlineMs: number }
  | { t: 'report'; id: number }
  /** Another worker ejected (`ejectionMs`) or readmitted (none) this instance: follow it. */
  | { t: 'peer-ejection'; instance: string; address: string; ejectionMs?: number }
  | { t: 'stop'; drainTimeoutMs: number }
  /** With the listening socket's handle: listen on it rather than bind (sent before the first table). */
  | { t: 'socket'; kind: ListenerKind };

/** Worker → supervisor. */
export type FromWorker =
  | { t: 'hello' }
  | { t: 'ack'; version: number }
  | { t: 'nack'; version: number; error: WireError }
  | { t: 'drained'; id: number; outcome: DrainOutcome }
  | { t: 'report'; id?: number; report: WireWorkerReport }
  | { t: 'event'; event: RouterEvent }
  | { t: 'certificate'; event: CertificateEvent }
  /** With the handle of a socket this worker bound (the first to listen): the supervisor keeps it for the others. */
  | { t: 'socket'; kind: ListenerKind }
  | { t: 'listening'; url: string; httpsUrl?: string }
  | { t: 'listen-failed'; error: WireError };

/** The proxy's listeners: plain HTTP, and HTTPS when TLS is configured. */
export type ListenerKind = 'http' | 'https';

/** Supervisor → the daemon that started it, over the IPC channel of its start only. */
export type StartupMessage = { t: 'ready'; info: SupervisorInfo } | { t: 'failed'; error: WireError };

/** Calls `onLine` with each JSON value received on `socket`, one per line; bad lines are dropped. */
export function readJsonLines(socket: Socket, onLine: (value: unknown) => void): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let cut: number;
    while ((cut = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 1);
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        // A torn or foreign line cannot be answered; the peer's request times out on its side.
        continue;
      }
      onLine(value);
    }
  });
}

/** Writes one JSON line; false when the socket is gone. */
export function writeJsonLine(socket: Socket, value: unknown): boolean {
  if (socket.destroyed || !socket.writable) return false;
  socket.write(`${JSON.stringify(value)}\n`);
  return true;
}

/** An error as it crosses a process boundary. */
export function toWireError(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  const withCode = e as Error & { code?: unknown; issues?: unknown };
  return {
    name: e.name,
    code: typeof withCode.code === 'string' ? withCode.code : 'INTERNAL',
    message: e.message,
    ...(Array.isArray(withCode.issues) && { issues: withCode.issues as unknown[] }),
  };
}
