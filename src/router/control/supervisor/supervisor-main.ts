/**
 * The router supervisor: a process of its own (started detached by the daemon's adapter, see
 * `supervisor-control.ts`) that holds the proxy's listening sockets (see `sockets` below), runs N
 * workers that accept from them, keeps the table in force and its version, replaces a worker that
 * dies, sums the workers' counters, and answers the daemon on a Unix socket. It outlives a daemon
 * that crashes and keeps serving its last table; a restarted daemon adopts it from `router.json`.
 *
 * Run as `node supervisor-main.js '<SupervisorConfig as JSON>'`.
 */
import { fork as forkProcess, type ChildProcess } from 'node:child_process';
import { rmSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { getPriority, setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import type { RouteTable, RouterEvent } from '../../contract/index.js';
import type { CertificateEvent } from '../../types.js';
import { assertRouteTable } from '../../route-table-check.js';
import type { DrainOutcome } from '../router-control.js';
import { FigureMerger, type MergedReport } from './figures.js';
import { SharedEjections } from './shared-ejections.js';
import {
  PROTOCOL_VERSION, readJsonLines, toWireError, writeJsonLine,
  type FromWorker, type StartupMessage, type SupervisorConfig, SUPERVISOR_INFO_FILE, SUPERVISOR_SOCKET_FILE, type SupervisorInfo, type SupervisorRequest, type SupervisorStatus, type ToWorker, type WireError, type WorkerEvent, type WorkerExit, WORKER_EXITS_KEPT,
} from './protocol.js';
import { REPORT_HEARTBEAT_MS, REPORT_INTERVAL_MS, WORKER_OPTIONS_ENV } from './worker-constants.js';
import { workerExecArgv } from './heap-flags.js';
import { packReport, unpackReport, type WireMergedReport } from './wire-report.js';
import { SocketHandover } from './socket-handover.js';
import { DroppedMessages } from './dropped-messages.js';
import { priorityRefusal, setSessionPriority } from '../session-priority.js';
import { signalChild } from '../../../lib/signal-child.js';

interface WorkerState {
  /** This supervisor's number for it (pids can be reused). */
  id: number;
  child: ChildProcess;
  pid: number;
  forkedAtMs: number;
  acked: number;
  listening: boolean;
  /** It said hello: it hears messages (one sent earlier is lost). */
  greeted: boolean;
  requests: number;
  /** The exit of the worker this one replaces, told `worker-replaced` once this one listens. */
  replacing?: WorkerExit;
}

interface PendingApply { version: number; waiting: Set<number>; done: (error?: WireError) => void }
interface PendingCollect<T> { waiting: Set<number>; results: T[]; done: () => void }

const config = JSON.parse(process.argv[2] ?? '{}') as SupervisorConfig;
const socketPath = join(config.stateDir, SUPERVISOR_SOCKET_FILE);
const infoFile = join(config.stateDir, SUPERVISOR_INFO_FILE);
const here = fileURLToPath(import.meta.url);

let version = 0;
let table: RouteTable = { services: [] };
let url = '';
let httpsUrl: string | undefined;
let ready = false;
let stopping = false;
let nextId = 1;
const workers = new Map<number, WorkerState>();
const merger = new FigureMerger();
const ejections = new SharedEjections();
/** The latest exits of workers that died, oldest first, and how many died in all. */
const exits: WorkerExit[] = [];
let exitsTotal = 0;
/** Workers told to stop by a resize: their exit is not replaced. */
const retiring = new Set<number>();
// The daemon is pushed the merged figures when a worker reported something new since the last
// push (workers hold back reports that say nothing new), and at least every heartbeat.
let reportedSincePush = false;
let pushedAtMs = 0;
const applies: PendingApply[] = [];
const drains = new Map<number, PendingCollect<DrainOutcome>>();
const reports = new Map<number, PendingCollect<true>>();
const clients = new Set<Socket>();
/** Drain events already forwarded, `type\ninstance`: each worker drains, the daemon hears it once. */
const forwarded = new Set<string>();
/**
 * Certificate changes already reported, `type\ncertFile\nstamp`: every worker watches the files
 * and sees each change, the daemon hears of it once. Bounded: a long-lived supervisor sees few.
 */
const certificateChanges = new Set<string>();

/**
 * The listening sockets, as raw handles: the first worker binds them and hands them over, and every
 * later worker listens on them. Held here, never listened on (a raw handle is not polled), so this
 * process accepts no connection, and the sockets outlive every worker: with one worker, or all of
 * them dying at once, connections wait in the kernel's backlog for the replacement rather than
 * being refused. They close with this process. Each worker accepts connections itself, as the
 * router in the daemon does, taking every connection waiting in one turn of its event loop (a
 * hand-off through this process, as node:cluster's round-robin does, queued bursts of new
 * connections here for longer than clients wait, and lost those of a worker dying mid hand-off).
 */
const handover = new SocketHandover<WorkerState, object>({ tls: config.router.tls !== undefined });
const workerFile = here.replace(/supervisor-main\.(ts|js)$/, 'worker-main.$1');
const workerArgv = workerExecArgv(process.execArgv);
let nextWorkerId = 1;

/** Why a worker could not be given `config.workerPriority`, the first time it was refused. */
let priorityRefused: string | undefined;

/** Whether the supervisor's session has been given `config.workerPriority` (session-priority.ts). */
let sessionPrioritized = false;

function prioritize(pid: number): void {
  if (config.workerPriority === undefined) return;
  let code: string | undefined;
  try {
    setPriority(pid, config.workerPriority);
    if (!sessionPrioritized) {
      code = setSessionPriority(config.workerPriority);
      sessionPrioritized = code === undefined;
    }
  } catch (err) {
    // node's SystemError carries the errno's name in `info`.
    code = (err as { info?: { code?: string } }).info?.code ?? (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
  if (code !== undefined) priorityRefused ??= priorityRefusal({ who: 'the router workers', priority: config.workerPriority, code, runAt: String(priorityOf(pid)) });
}

/** A worker's nice value now; 0 for one already gone. */
function priorityOf(pid: number): number {
  try {
    return getPriority(pid);
  } catch {
    return 0;
  }
}

function fork(replacing?: WorkerExit): void {
  const child = forkProcess(workerFile, [], {
    execArgv: workerArgv,
    env: { ...process.env, [WORKER_OPTIONS_ENV]: JSON.stringify(config.router) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  prioritize(child.pid ?? 0);
  const state: WorkerState = { id: nextWorkerId++, child, pid: child.pid ?? 0, forkedAtMs: Date.now(), acked: 0, listening: false, greeted: false, requests: 0, ...(replacing && { replacing }) };
  workers.set(state.id, state);
  child.on('message', (m: FromWorker, handle: unknown) => containWorkerMessage(state, m, handle));
  child.on('exit', () => onWorkerExit(state));
  // A message sent to a worker that died a moment ago fails with EPIPE before its exit is seen:
  // unheard, that error would end the supervisor and every worker with it. The exit is handled
  // below; what the message asked for waits on the live workers only.
  child.on('error', (err: Error) => {
    process.stderr.write(`graylane router supervisor: worker ${state.pid}: ${err.message}\n`);
  });
}

function sendTo(state: WorkerState, message: ToWorker, handle?: object): void {
  if (state.child.connected) state.child.send(message, handle as never);
}

function exited(state: WorkerState): boolean {
  return state.child.exitCode !== null || state.child.signalCode !== null;
}

/**
 * A worker ready to hear: given the sockets held here, then the table in force (on which it starts
 * listening), so that it never routes by an older one. With no sockets held yet, the first such
 * worker binds them; the others wait for it ({@link release}).
 */
function start(state: WorkerState): void {
  const next = handover.ready(state);
  if (next.kind === 'wait') return;
  for (const kind of ['http', 'https'] as const) {
    const handle = next.handles[kind];
    if (handle !== undefined) sendTo(state, { t: 'socket', kind }, handle);
  }
  sendTo(state, { t: 'table', version, table });
}

/** Starts the workers that waited for the sockets (the binder listens, or died binding them). */
function release(waiting: WorkerState[]): void {
  for (const w of waiting) if (!exited(w) && workers.has(w.id)) start(w);
}

/** Messages of each kind a worker sent that could not be handled, for the log's counts. */
const dropped = new DroppedMessages();

/**
 * One worker's message that cannot be handled (a report that does not add up, or a bug in handling
 * it) costs that message, never this process: it holds every listening socket and the other workers'
 * state. Said in the log on the first of its kind and then at every power of ten, so a worker that
 * keeps sending bad reports five times a second does not fill the disk.
 */
function containWorkerMessage(state: WorkerState, m: FromWorker, handle: unknown): void {
  try {
    onWorkerMessage(state, m, handle);
  } catch (err) {
    const kind = typeof m === 'object' && m !== null && typeof m.t === 'string' ? m.t : 'unknown';
    const line = dropped.drop(kind, (count) => `graylane router supervisor: dropped a '${kind}' message of worker ${state.pid} (${count} dropped so far): ${(err as Error).message}\n`);
    if (line) process.stderr.write(line);
    // A report asked for is counted as answered: the collection waits for the live workers only.
    if (kind === 'report' && m.t === 'report' && m.id !== undefined) answered(reports.get(m.id), state);
  }
}

function answered<T>(pending: PendingCollect<T> | undefined, state: WorkerState): void {
  pending?.waiting.delete(state.id);
  if (pending?.waiting.size === 0) pending.done();
}

function onWorkerMessage(state: WorkerState, m: FromWorker, handle: unknown): void {
  switch (m.t) {
    case 'hello':
      state.greeted = true;
      // Retired by a resize before it could hear of it: it stops before it ever listens.
      if (retiring.has(state.id)) {
        sendTo(state, { t: 'stop', drainTimeoutMs: 0 });
        return;
      }
      // Sent once the worker listens for messages (a message sent earlier would be lost).
      start(state);
      return;
    case 'socket':
      if (typeof handle === 'object' && handle !== null) handover.received(m.kind, handle);
      return;
    case 'listening':
      state.listening = true;
      url = m.url;
      httpsUrl = m.httpsUrl;
      if (state.replacing) {
        state.replacing.replacedBy = { pid: state.pid, afterMs: Date.now() - state.replacing.atMs };
        pushWorkerEvent({ type: 'worker-replaced', exit: state.replacing });
        delete state.replacing;
      }
      // The binder's sockets came before this message: the workers waiting for them can listen.
      release(handover.listening(state));
      if (!ready && [...workers.values()].every((w) => w.listening)) becomeReady();
      return;
    case 'listen-failed':
      if (!ready) startupFailed(m.error);
      else process.stderr.write(`graylane router supervisor: worker ${state.pid} cannot serve: ${m.error.message}\n`);
      return;
    case 'certificate':
      forwardCertificate(m.event);
      return;
    case 'ack':
      state.acked = Math.max(state.acked, m.version);
      for (const p of [...applies]) {
        if (p.version <= m.version) p.waiting.delete(state.id);
        if (p.waiting.size === 0) p.done();
      }
      return;
    case 'nack':
      for (const p of [...applies]) if (p.version === m.version) p.done(m.error);
      return;
    case 'drained': {
      const pending = drains.get(m.id);
      if (!pending) return;
      pending.results.push(m.outcome);
      pending.waiting.delete(state.id);
      if (pending.waiting.size === 0) pending.done();
      return;
    }
    case 'report': {
      const report = unpackReport(m.report);
      merger.report(state.id, report);
      reportedSincePush = true;
      state.requests = report.revisions.reduce((n, r) => n + r.totals.requests, 0);
      if (m.id !== undefined) answered(reports.get(m.id), state);
      return;
    }
    case 'event': {
      const verdict = ejections.onEvent(state.id, m.event);
      if (verdict.peers) for (const w of live()) if (w !== state) sendTo(w, verdict.peers);
      if (verdict.forward) forwardEvent(m.event);
      return;
    }
  }
}

function forwardEvent(event: RouterEvent): void {
  if (event.type === 'instance-draining' || event.type === 'instance-drained' || event.type === 'instance-drain-timeout') {
    const key = `${event.type}\n${event.instance}`;
    if (forwarded.has(key)) return;
    forwarded.add(key);
  }
  for (const c of clients) writeJsonLine(c, { v: PROTOCOL_VERSION, push: 'event', event });
}

function forwardCertificate(event: CertificateEvent): void {
  const key = `${event.type}\n${event.certFile}\n${event.stamp ?? event.reason}`;
  if (certificateChanges.has(key)) return;
  if (certificateChanges.size >= 1000) certificateChanges.clear();
  certificateChanges.add(key);
  // Also in the supervisor's log: no daemon may be connected to hear it.
  process.stderr.write(`graylane router supervisor: ${new Date(event.atMs).toISOString()} ${event.type} ${event.hosts.join(',')}: ${event.reason}\n`);
  for (const c of clients) writeJsonLine(c, { v: PROTOCOL_VERSION, push: 'certificate', event });
}

function onWorkerExit(state: WorkerState): void {
  const id = state.id;
  workers.delete(id);
  merger.retire(id);
  // It died binding the sockets: a waiting worker binds what is missing.
  release(handover.exited(state));
  for (const m of ejections.onWorkerExit(id)) for (const w of live()) sendTo(w, m);
  // What waited on the dead worker waits on the others only; its replacement gets the table in force.
  for (const p of [...applies]) {
    p.waiting.delete(id);
    if (p.waiting.size === 0) p.done();
  }
  for (const pending of [...drains.values(), ...reports.values()]) {
    pending.waiting.delete(id);
    if (pending.waiting.size === 0) pending.done();
  }
  if (retiring.delete(id) || stopping || !ready) return;
  const now = Date.now();
  const { signalCode, exitCode } = state.child;
  const exit: WorkerExit = { pid: state.pid, atMs: now, cause: signalCode ?? `exit code ${exitCode ?? '?'}`, livedMs: now - state.forkedAtMs };
  exits.push(exit);
  if (exits.length > WORKER_EXITS_KEPT) exits.shift();
  exitsTotal++;
  process.stderr.write(`graylane router supervisor: worker ${exit.pid} exited (${exit.cause}); starting another\n`);
  pushWorkerEvent({ type: 'worker-exited', exit });
  // A worker that dies at once would otherwise be replaced in a tight loop.
  if (exit.livedMs > 1000) fork(exit);
  else setTimeout(() => { if (!stopping) fork(exit); }, 500);
}

function pushWorkerEvent(event: WorkerEvent): void {
  for (const c of clients) writeJsonLine(c, { v: PROTOCOL_VERSION, push: 'worker', event });
}

/** The workers that hear messages and have been given the table (not those waiting for the sockets). */
function live(): WorkerState[] {
  return [...workers.values()].filter((w) => w.child.connected && !handover.isWaiting(w));
}

function merged(): MergedReport {
  return merger.merged({ atMs: Date.now(), tableVersion: version });
}

function apply(next: RouteTable): Promise<{ version: number; changed: boolean }> {
  assertRouteTable(next);
  // Version 0 is no table yet (its workers answer 503 router-starting): an empty first table is news.
  if (version > 0 && isDeepStrictEqual(next, table)) return Promise.resolve({ version, changed: false });
  version++;
  table = structuredClone(next);
  const routed = new Set(table.services.flatMap((s) => Object.values(s.revisions).flatMap((r) => r.instances.filter((i) => !i.draining).map((i) => i.id))));
  for (const key of [...forwarded]) if (routed.has(key.slice(key.indexOf('\n') + 1))) forwarded.delete(key);
  const targets = live();
  const applied = version;
  return new Promise((resolve, reject) => {
    const pending: PendingApply = {
      version: applied,
      waiting: new Set(targets.map((w) => w.id)),
      done: (error) => {
        const at = applies.indexOf(pending);
        if (at < 0) return;
        applies.splice(at, 1);
        if (error) reject(Object.assign(new Error(error.message), error));
        else resolve({ version: applied, changed: true });
      },
    };
    applies.push(pending);
    for (const w of targets) sendTo(w, { t: 'table', version: applied, table });
    if (pending.waiting.size === 0) pending.done();
  });
}

function collect<T>(registry: Map<number, PendingCollect<T>>, message: (id: number) => ToWorker, timeoutMs: number): Promise<T[]> {
  const id = nextId++;
  const targets = live().filter((w) => w.listening);
  return new Promise((resolve) => {
    const pending: PendingCollect<T> = {
      waiting: new Set(targets.map((w) => w.id)),
      results: [],
      done: () => {
        clearTimeout(timer);
        if (registry.delete(id)) resolve(pending.results);
      },
    };
    const timer = setTimeout(pending.done, Math.max(0, timeoutMs));
    registry.set(id, pending);
    for (const w of targets) sendTo(w, message(id));
    if (pending.waiting.size === 0) pending.done();
  });
}

async function awaitDrained(instance: string, deadlineMs: number): Promise<DrainOutcome> {
  // A little past the deadline: each worker answers `timeout` itself at the deadline.
  const outcomes = await collect(drains, (id) => ({ t: 'await-drained', id, instance, deadlineMs }), deadlineMs - Date.now() + 1000);
  if (outcomes.includes('timeout')) return 'timeout';
  if (outcomes.includes('drained')) return 'drained';
  return outcomes.length === 0 && Date.now() >= deadlineMs ? 'timeout' : 'unknown';
}

async function snapshot(): Promise<WireMergedReport> {
  await collect(reports, (id) => ({ t: 'report', id }), 2000);
  return packReport(merged());
}

function resize(count: number): { before: number } {
  if (!Number.isInteger(count) || count < 1 || count > 256) throw Object.assign(new Error(`workers must be an integer from 1 to 256, got ${count}`), { code: 'INVALID_OPTIONS' });
  const serving = live().filter((w) => !retiring.has(w.id));
  const before = serving.length;
  config.workers = count;
  for (let i = serving.length; i < count; i++) fork();
  // The newest go first: the oldest have warm connection pools and optimised code.
  for (const w of serving.sort((a, b) => b.forkedAtMs - a.forkedAtMs).slice(0, Math.max(0, serving.length - count))) {
    retiring.add(w.id);
    // One still starting is told when it says hello.
    if (w.greeted) sendTo(w, { t: 'stop', drainTimeoutMs: 5000 });
  }
  process.stderr.write(`graylane router supervisor: ${before} → ${count} workers\n`);
  return { before };
}

function status(): SupervisorStatus {
  return {
    workers: live().sort((a, b) => a.forkedAtMs - b.forkedAtMs).map((w) => ({
      pid: w.pid, tableVersion: w.acked, requests: w.requests, priority: priorityOf(w.pid), startedAtMs: w.forkedAtMs, ...(retiring.has(w.id) && { retiring: true }),
    })),
    exits: exits.map((e) => ({ ...e })),
    exitsTotal,
  };
}

async function handle(client: Socket, request: SupervisorRequest): Promise<unknown> {
  if (request.v !== PROTOCOL_VERSION) throw Object.assign(new Error(`protocol ${request.v} is not this supervisor's ${PROTOCOL_VERSION}`), { code: 'PROTOCOL_MISMATCH' });
  switch (request.op) {
    case 'hello':
      return { pid: process.pid, url, ...(httpsUrl !== undefined && { httpsUrl }), version, table, report: packReport(merged()), ...(priorityRefused !== undefined && { priorityRefused }) };
    case 'apply':
      return apply(request.table);
    case 'await-drained':
      return awaitDrained(request.instance, request.deadlineMs);
    case 'snapshot':
      return snapshot();
    case 'status':
      return status();
    case 'resize':
      return resize(request.workers);
    case 'shutdown':
      // Answered first: the caller learns the stop began; it watches the pid for the end.
      setImmediate(() => void shutdown(request.drainTimeoutMs));
      void client;
      return { pid: process.pid };
  }
}

function serveClient(client: Socket): void {
  clients.add(client);
  client.on('close', () => clients.delete(client));
  client.on('error', () => client.destroy());
  readJsonLines(client, (value) => {
    const request = value as SupervisorRequest;
    handle(client, request).then(
      (result) => writeJsonLine(client, { v: PROTOCOL_VERSION, id: request.id, ok: true, result }),
      (err: unknown) => writeJsonLine(client, { v: PROTOCOL_VERSION, id: request.id, ok: false, error: toWireError(err) }),
    );
  });
}

const server = createServer(serveClient);

function becomeReady(): void {
  ready = true;
  const { tls } = config.router;
  const info: SupervisorInfo = {
    pid: process.pid, socketPath, url, listen: config.router.listen, protocol: PROTOCOL_VERSION,
    ...(httpsUrl !== undefined && { httpsUrl }),
    ...(config.workerPriority !== undefined && { workerPriority: config.workerPriority }),
    ...(tls && { tls: { listen: tls.listen, certificates: tls.certificates, ...(tls.reloadIntervalMs !== undefined && { reloadIntervalMs: tls.reloadIntervalMs }), ...(tls.redirectServices && { redirectServices: tls.redirectServices }) } }),
  };
  const tmp = `${infoFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`);
  renameSync(tmp, infoFile);
  tellParent({ t: 'ready', info });
}

function tellParent(message: StartupMessage): void {
  if (process.connected) process.send?.(message, () => process.disconnect());
}

function startupFailed(error: WireError): void {
  tellParent({ t: 'failed', error });
  stopping = true;
  for (const w of workers.values()) signalChild(w.child, 'SIGKILL');
  setTimeout(() => process.exit(1), 200);
}

async function shutdown(drainTimeoutMs: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(pushTimer);
  const exits = [...workers.values()].map((w) => new Promise<void>((r) => {
    if (exited(w)) r();
    else w.child.once('exit', () => r());
  }));
  for (const w of workers.values()) sendTo(w, { t: 'stop', drainTimeoutMs });
  const hardStop = setTimeout(() => {
    for (const w of workers.values()) signalChild(w.child, 'SIGKILL');
  }, drainTimeoutMs + 2000);
  await Promise.all(exits);
  clearTimeout(hardStop);
  // The workers have drained; the sockets close with this process.
  rmSync(infoFile, { force: true });
  server.close();
  for (const c of clients) c.destroy();
  process.exit(0);
}

const pushTimer = setInterval(() => {
  if (!ready || clients.size === 0) return;
  const now = Date.now();
  if (!reportedSincePush && now - pushedAtMs < REPORT_HEARTBEAT_MS) return;
  reportedSincePush = false;
  pushedAtMs = now;
  const report = packReport(merged());
  for (const c of clients) writeJsonLine(c, { v: PROTOCOL_VERSION, push: 'report', report });
}, REPORT_INTERVAL_MS);

process.on('SIGTERM', () => void shutdown(1000));
process.on('SIGINT', () => void shutdown(1000));

try {
  unlinkSync(socketPath);
} catch {
  // None left by an earlier supervisor.
}
server.listen(socketPath, () => {
  for (let i = 0; i < config.workers; i++) fork();
});
server.on('error', (err) => startupFailed(toWireError(err)));
