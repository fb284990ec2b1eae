/**
 * The single-host daemon's parts, put together: store, runtimes, router, controller. The API and
 * the terminal are the CLI's business (`graylane up`); this module owns the lifecycle order, so
 * that routing is restored before anything is reconciled and instances drain before the router stops.
 */
import { dirname, join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { parseDurationMs } from '../../lib/duration.js';
import { createRouter, formatPath, RouterError, type CertificateEvent, type Router, type RouterOptions, type TimeoutOptions } from '../../router/index.js';
import { createInProcessRouterControl } from '../../router/control/in-process/in-process-control.js';
import type { RouterControl } from '../../router/control/router-control.js';
import { startSupervisedRouter, stopLeftoverSupervisor } from '../../router/control/supervisor/supervisor-control.js';
import { availableParallelism } from 'node:os';
import { routerWorkerCount } from './router-workers.js';
import { startSupervisorAdmin } from '../../router/control/supervisor/supervisor-admin.js';
import type { WorkerEvent } from '../../router/control/supervisor/protocol.js';
import type { DataPlaneView } from '../../api/contract/index.js';
import { supervisedView } from './data-plane-view.js';
import { describeWorkerEvent } from './data-plane-events.js';
import type { RouterSettings } from '../../documents/schema.js';
import { createRuntime } from '../../runtime/registry.js';
import { appServiceRevision, formatSpecError, loadDocuments } from '../../documents/index.js';
import type { App } from '../../documents/schema.js';
import { findOrphans, orphanAdoptRecord, stopOrphans, type Orphan } from '../../runtime/process/orphans.js';
import { openStore } from '../../state/registry.js';
import { StoreError, type Store } from '../../state/store.js';
import { ControlPlaneError } from '../control-plane.js';
import { LocalController } from './local-controller.js';
import { analysisLoadChecks } from '../../analysis/load-checks.js';
import { nginxPrefixDir, startNginxDataPlane, type NginxDataPlane } from './nginx-data-plane.js';
import { stopLeftoverNginx } from '../../router/control/nginx/leftover-nginx.js';
import { trafficLoadChecks } from '../../traffic/load-checks.js';

/** Options of {@link startLocalDaemon}. */
export interface LocalDaemonOptions {
  /** The App file. */
  appFile: string;
  /** State directory (created by the caller). */
  stateDir: string;
  /** Token for the router's admin listener. */
  adminToken: string;
  /** Overrides `spec.listen` (tests use port 0). */
  listen?: { host: string; port: number };
  /** Overrides `spec.router.tls.listen` (tests use port 0). */
  httpsListen?: { host: string; port: number };
  /** How long stopping instances get to finish requests; default 30 s. */
  drainTimeoutMs?: number;
  /** Remove services the state has but the App file does not name, even under another App name. */
  prune?: boolean;
  /**
   * What to do with app processes an earlier daemon started for this state dir that the state
   * does not record (it was moved aside or lost); without a choice, such processes stop the start.
   */
  orphans?: 'adopt' | 'stop' | undefined;
  /** Where certificate reloads (and refused replacements) and router worker deaths are reported; stderr by default. */
  log?: (line: string) => void;
  /**
   * Overrides `spec.router.workers`: the router's worker processes under its supervisor (the daemon
   * then serves the admin/metrics listener from their figures); 0 runs the router inside the daemon.
   */
  routerWorkers?: number | undefined;
  /** Cores the default worker count is taken from; `os.availableParallelism()` by default. */
  cores?: number;
}

/** A running daemon. */
export interface LocalDaemon {
  /** The control plane the API serves. */
  controller: LocalController;
  /** The router's URL. */
  routerUrl: string;
  /** The router's admin URL (metrics); undefined under nginx. */
  adminUrl: string | undefined;
  /** The router's HTTPS URL, when `spec.router.tls` is set. */
  httpsUrl?: string;
  /**
   * The router supervisor's pid, whether an earlier daemon's was adopted, and the workers it ran
   * before when this daemon resized it; undefined in-process.
   */
  routerSupervisor: { pid: number; adopted: boolean; resizedFrom?: number } | undefined;
  /** The nginx master graylane runs as the data plane (`spec.router.type: nginx`, managed), and whether an earlier daemon's was adopted. */
  nginx?: { pid: number; adopted: boolean };
  /** What the start could not do as asked and went on without (a worker priority refused). */
  warnings: string[];
  /** Whether requests are routed inside this process (the in-process router), not by other processes. */
  routesInProcess: boolean;
  /** Instances re-adopted at start, and records that could not be. */
  adoption: { adopted: number; rejected: string[] };
  /** Sentences about unrecorded app processes found at start, adopted or stopped. */
  orphans: string[];
  /** Stops: with `stopInstances`, drains and stops the app (Ctrl-C); without, leaves it running. */
  stop(options: { stopInstances: boolean }): Promise<void>;
}

/** A daemon that could not start; the message says why and what to do. */
export class DaemonStartError extends Error {
  constructor(readonly code: 'InvalidApp' | 'ListenFailed' | 'StateUnusable' | 'OrphansFound', message: string, readonly details: string[] = []) {
    super(message);
    this.name = 'DaemonStartError';
  }
}

/** The App's `spec.router` settings as router options (absent ones keep the router's defaults). */
function routerClientOptions(settings: RouterSettings | undefined): Partial<RouterOptions> {
  if (!settings) return {};
  const ms = (d: string | number | undefined) => (d === undefined ? undefined : parseDurationMs(d));
  const timeouts: Partial<TimeoutOptions> = {};
  const set = (k: keyof TimeoutOptions, v: number | undefined) => {
    // The router wants at least 1 ms; `0s` would otherwise be refused as an invalid option.
    if (v !== undefined) timeouts[k] = Math.max(1, v);
  };
  set('clientHeaderMs', ms(settings.clientHeaderTimeout));
  set('clientBodyMs', ms(settings.clientBodyTimeout));
  set('sendMs', ms(settings.sendTimeout));
  set('tunnelIdleMs', ms(settings.tunnelIdleTimeout));
  const out: Partial<RouterOptions> = { timeouts };
  if (settings.maxRequestBodyBytes !== undefined) out.maxRequestBodyBytes = settings.maxRequestBodyBytes;
  if (settings.maxClientConnections !== undefined) out.maxClientConnections = settings.maxClientConnections;
  if (settings.trustedProxies !== undefined) out.trustedProxies = settings.trustedProxies;
  return out;
}

/** The App's `spec.router.tls` as router options: files relative to the App file, redirects by service. */
function routerTlsOptions(app: App, appDir: string, listen: { host: string; port: number } | undefined, log: (line: string) => void): Partial<RouterOptions> {
  const tls = app.spec.router?.tls;
  if (!tls) return {};
  const report = (e: CertificateEvent) => log(`${new Date(e.atMs).toISOString()} ${e.type} ${e.hosts.join(',')}: ${e.reason}`);
  return {
    tls: {
      listen: listen ?? parseListen(tls.listen),
      certificates: tls.certificates.map((c) => ({ hosts: c.hosts, certFile: resolve(appDir, c.certFile), keyFile: resolve(appDir, c.keyFile) })),
      redirectServices: app.spec.services.filter((s) => s.redirectToHttps === true).map((s) => s.name),
      onCertificateEvent: report,
    },
  };
}

/** The data plane the daemon drives: its control, its addresses, and how it stops. */
interface DataPlane {
  control: RouterControl;
  url: string;
  adminUrl: string | undefined;
  httpsUrl?: string | undefined;
  supervisor: { pid: number; adopted: boolean; resizedFrom?: number } | undefined;
  /** See {@link LocalDaemon.warnings}. */
  warnings: string[];
  /** `leaveRunning`: a supervisor keeps serving for the next daemon; an in-process router cannot. */
  stop(options: { drainTimeoutMs: number; leaveRunning: boolean }): Promise<void>;
  /** What the API shows of it. */
  view(): Promise<DataPlaneView>;
  /** Worker deaths and replacements, with router workers; returns the unsubscribe function. */
  onWorkerEvent?(listener: (event: WorkerEvent) => void): () => void;
}

/**
 * Starts the in-process router, or with `workers` starts (or adopts, after a crash) the router
 * supervisor of this state dir, so that a restarted daemon never starts a second one on the port.
 */
async function startDataPlane(options: { workers: number | undefined; router: Router | undefined; stateDir: string; listen: { host: string; port: number }; drainTimeoutMs: number; settings: RouterSettings | undefined; adminToken: string; tls: Partial<RouterOptions>; log: (line: string) => void }): Promise<DataPlane> {
  const client = routerClientOptions(options.settings);
  if (options.workers !== undefined) {
    const supervised = await startSupervisedRouter({ stateDir: options.stateDir, workers: options.workers, workerPriority: options.settings?.workerPriority, router: { listen: options.listen, drainTimeoutMs: options.drainTimeoutMs, ...client, ...options.tls }, onProblem: options.log });
    let admin;
    try {
      admin = await startSupervisorAdmin({ control: supervised, admin: { host: '127.0.0.1', port: 0, token: options.adminToken } });
    } catch (err) {
      if (supervised.adopted) supervised.detach();
      else await supervised.stop({ drainTimeoutMs: 0 });
      throw err;
    }
    return {
      control: supervised,
      url: supervised.url,
      httpsUrl: supervised.httpsUrl,
      adminUrl: admin.url,
      supervisor: { pid: supervised.pid, adopted: supervised.adopted, ...(supervised.resizedFrom !== undefined && { resizedFrom: supervised.resizedFrom }) },
      warnings: supervised.priorityRefused === undefined ? [] : [supervised.priorityRefused],
      view: async () => supervisedView({
        url: supervised.url, httpsUrl: supervised.httpsUrl, pid: supervised.pid, adopted: supervised.adopted,
        status: await supervised.status().catch((error: unknown) => ({ error })),
      }),
      onWorkerEvent: (listener) => supervised.onWorkerEvent(listener),
      async stop({ drainTimeoutMs, leaveRunning }) {
        await admin.close();
        if (leaveRunning) supervised.detach();
        else await supervised.stop({ drainTimeoutMs });
      },
    };
  }
  const router = options.router;
  if (!router) throw new Error('no router to start: neither workers nor an in-process router');
  const { url, adminUrl, httpsUrl } = await router.start();
  return {
    control: createInProcessRouterControl({ router }), url, adminUrl, httpsUrl, supervisor: undefined, warnings: [],
    stop: ({ drainTimeoutMs }) => router.stop({ drainTimeoutMs }),
    view: () => Promise.resolve({ kind: 'in-daemon', url, ...(httpsUrl !== undefined && { httpsUrl }) }),
  };
}

function parseListen(listen: string | undefined): { host: string; port: number } {
  const value = listen ?? '127.0.0.1:8080';
  const cut = value.lastIndexOf(':');
  return { host: value.slice(0, cut).replace(/^\[|\]$/g, ''), port: Number(value.slice(cut + 1)) };
}

const describeOrphan = (o: Orphan) => `pid ${o.pid} (${o.service || '?'} revision ${o.revision || '?'}, port ${o.port})`;

/**
 * Unrecorded app processes of this state dir: refused without a choice, else adopted (those of a
 * revision the App names, recorded so the controller adopts them) or stopped.
 */
async function handleOrphans(store: Store, app: App, options: LocalDaemonOptions): Promise<string[]> {
  const found = findOrphans({ stateDir: options.stateDir, known: new Set(store.listInstances().map((i) => i.id)) });
  if (found.length === 0) return [];
  if (!options.orphans) {
    throw new DaemonStartError(
      'OrphansFound',
      `${found.length} app process(es) started earlier by graylane with state dir ${resolve(options.stateDir)} still run, but the state has no record of them: ${found.map(describeOrphan).join(', ')}. Start again with --adopt-orphans to take them over, or --stop-orphans to stop them first; graylane does not start duplicates without being told.`,
    );
  }
  const templateOf = (o: Orphan) => app.spec.services.find((s) => s.name === o.service && s.process && appServiceRevision(s) === o.revision)?.process;
  const adopt = options.orphans === 'adopt' ? found.filter((o) => templateOf(o) !== undefined) : [];
  const stop = found.filter((o) => !adopt.includes(o));
  for (const o of adopt) store.putInstance({ id: o.instance, service: o.service, revision: o.revision, record: orphanAdoptRecord(o, templateOf(o)) });
  await stopOrphans(stop, 5_000);
  const lines = adopt.map((o) => `adopted ${describeOrphan(o)}, left running by an earlier daemon`);
  for (const o of stop) {
    lines.push(`stopped ${describeOrphan(o)}${options.orphans === 'adopt' ? ': the App file does not describe its revision' : ''}`);
  }
  return lines;
}

/** Starts the daemon's parts in order; on failure, stops what was started and throws. */
export async function startLocalDaemon(options: LocalDaemonOptions): Promise<LocalDaemon> {
  const appFile = resolve(options.appFile);
  let text: string;
  try {
    text = await readFile(appFile, 'utf8');
  } catch (err) {
    throw new DaemonStartError('InvalidApp', `cannot read ${options.appFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const loaded = loadDocuments({ text, file: options.appFile }, { ...analysisLoadChecks, ...trafficLoadChecks() });
  if (loaded.errors.length > 0) throw new DaemonStartError('InvalidApp', `${options.appFile} is invalid; nothing was started`, loaded.errors.map(formatSpecError));
  const appDoc = loaded.documents.find((d) => d.kind === 'App');
  if (appDoc?.kind !== 'App') throw new DaemonStartError('InvalidApp', `${options.appFile} has no App document: \`graylane up\` runs an App (kind: App)`);
  const app = appDoc.doc;
  const listen = options.listen ?? parseListen(app.spec.listen);
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const nginx = app.spec.router?.type === 'nginx';
  const workers = nginx ? undefined : routerWorkerCount({ flag: options.routerWorkers, spec: app.spec.router?.workers, cores: options.cores ?? availableParallelism() });
  if (!nginx && workers === undefined && app.spec.router?.workerPriority !== undefined) {
    // The daemon's priority would pass to every app process it starts: only workers get one.
    throw new DaemonStartError('InvalidApp', `${options.appFile} is invalid; nothing was started`, ['spec.router.workerPriority: needs router workers (spec.router.workers ≥ 1, or graylane up --router-workers): with 0 the router runs inside the daemon, whose priority every app process it starts would inherit']);
  }
  const tls = routerTlsOptions(app, dirname(appFile), options.httpsListen, options.log ?? ((line) => process.stderr.write(`${line}\n`)));
  let router: Router | undefined;
  // Before anything else: unusable certificate files stop the start with nothing started. With
  // workers the router is built for this check only: each worker builds its own.
  if (!nginx) try {
    const checked = createRouter({
      listen,
      admin: { host: '127.0.0.1', port: 0, token: options.adminToken },
      drainTimeoutMs,
      ...routerClientOptions(app.spec.router),
      ...tls,
    });
    if (workers === undefined) router = checked;
  } catch (err) {
    if (!(err instanceof RouterError)) throw err;
    throw new DaemonStartError('InvalidApp', `${options.appFile} is invalid; nothing was started`, err.issues.map((i) => `spec.router.${formatPath(i.path)}: ${i.message}`));
  }

  let store: Store;
  try {
    store = openStore({ type: 'sqlite', file: join(options.stateDir, 'state.db') });
  } catch (err) {
    throw new DaemonStartError('StateUnusable', (err as Error).message);
  }
  let orphans: string[];
  try {
    orphans = await handleOrphans(store, app, options);
  } catch (err) {
    store.close();
    throw err;
  }
  const runs = nginx ? (app.spec.router?.nginx ? 'the nginx you run as its data plane' : 'nginx as its data plane') : workers === undefined ? 'the router inside itself (router workers 0)' : 'router workers as its data plane';
  try {
    // A supervisor an earlier daemon left serving holds the address this data plane listens on.
    if (workers === undefined) {
      const pid = await stopLeftoverSupervisor({ stateDir: options.stateDir, drainTimeoutMs: Math.min(drainTimeoutMs, 5000) });
      if (pid !== undefined) orphans.push(`stopped the router supervisor pid ${pid} an earlier daemon left serving: this daemon runs ${runs}`);
    }
    // So does the nginx it ran, unless this daemon runs that nginx again (it is adopted then).
    if (!nginx || app.spec.router?.nginx) {
      const pid = await stopLeftoverNginx({ prefixDir: nginxPrefixDir(options.stateDir), timeoutMs: Math.min(drainTimeoutMs, 5000) });
      if (pid !== undefined) orphans.push(`stopped nginx pid ${pid} an earlier daemon left serving: this daemon runs ${runs}`);
    }
  } catch (err) {
    store.close();
    throw err;
  }
  if (nginx) return startWithNginx({ options, app, text, appFile, store, orphans, listen, drainTimeoutMs });
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let plane: DataPlane;
  try {
    plane = await startDataPlane({ workers, router, stateDir: options.stateDir, listen, drainTimeoutMs, settings: app.spec.router, adminToken: options.adminToken, tls, log });
  } catch (err) {
    store.close();
    const code = (err as NodeJS.ErrnoException).code;
    const cause = ((err as Error).cause as { code?: string } | undefined)?.code;
    const why = code === 'EADDRINUSE' || cause === 'EADDRINUSE' ? 'the address is already in use: stop what listens there, or change spec.listen (or spec.router.tls.listen)' : (err as Error).message;
    const where = app.spec.router?.tls ? `${listen.host}:${listen.port} and ${app.spec.router.tls.listen}` : `${listen.host}:${listen.port}`;
    throw new DaemonStartError('ListenFailed', `the router cannot listen on ${where}: ${why}`);
  }
  const logs = app.spec.logs ?? {};
  const processRuntime = createRuntime('process', {
    stateDir: options.stateDir, baseDir: dirname(appFile),
    logRotation: { ...(logs.maxFileBytes !== undefined && { maxBytes: logs.maxFileBytes }), ...(logs.keepFiles !== undefined && { keepFiles: logs.keepFiles }) },
    ...(logs.retention !== undefined && { logRetentionMs: parseDurationMs(logs.retention) }),
  });
  const staticRuntime = createRuntime('static', {});
  const controller = new LocalController({ store, processRuntime, staticRuntime, router: plane.control, drainTimeoutMs, dataPlane: () => plane.view() });
  // Told where `up` runs and in every service's event log: the requests a dead worker held were cut.
  const unsubscribe = plane.onWorkerEvent?.((event) => {
    log(`${new Date(event.exit.replacedBy ? event.exit.atMs + event.exit.replacedBy.afterMs : event.exit.atMs).toISOString()} ${describeWorkerEvent(event).message}`);
    controller.workerEvent(event);
  });
  let adoption;
  try {
    adoption = await controller.start({ firstPassByApply: true });
  } catch (err) {
    // An adopted supervisor serves what the next daemon will adopt, as the instances left running do.
    await plane.stop({ drainTimeoutMs: 0, leaveRunning: plane.supervisor?.adopted === true });
    await processRuntime.shutdown({ stopInstances: false });
    store.close();
    if (err instanceof StoreError) throw new DaemonStartError('StateUnusable', err.message);
    throw err;
  }
  try {
    await controller.apply({ text, file: appFile, prune: options.prune });
  } catch (err) {
    await controller.stop({ stopInstances: false });
    await plane.stop({ drainTimeoutMs: 0, leaveRunning: plane.supervisor?.adopted === true });
    store.close();
    if (err instanceof ControlPlaneError) throw new DaemonStartError('InvalidApp', err.message, err.details);
    throw err;
  }
  return {
    controller,
    routerUrl: plane.url,
    adminUrl: plane.adminUrl,
    ...(plane.httpsUrl === undefined ? {} : { httpsUrl: plane.httpsUrl }),
    routerSupervisor: plane.supervisor,
    warnings: plane.warnings,
    routesInProcess: plane.supervisor === undefined,
    adoption,
    orphans,
    async stop({ stopInstances }) {
      unsubscribe?.();
      await controller.stop({ stopInstances });
      await plane.stop({ drainTimeoutMs: stopInstances ? drainTimeoutMs : 1000, leaveRunning: !stopInstances });
      store.close();
    },
  };
}

/** The rest of {@link startLocalDaemon} with nginx as the data plane (`spec.router.type: nginx`). */
async function startWithNginx(ctx: {
  options: LocalDaemonOptions; app: App; text: string; appFile: string; store: Store; orphans: string[]; listen: { host: string; port: number }; drainTimeoutMs: number;
}): Promise<LocalDaemon> {
  const { options, app, store, drainTimeoutMs } = ctx;
  let plane: NginxDataPlane;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Told where `up` runs and in every service's event log, as a router worker's death is.
  const told: { controller?: LocalController } = {};
  const onWorkerEvent = (event: WorkerEvent) => {
    log(`${new Date(event.exit.replacedBy ? event.exit.atMs + event.exit.replacedBy.afterMs : event.exit.atMs).toISOString()} ${describeWorkerEvent(event).message}`);
    told.controller?.workerEvent(event);
  };
  try {
    plane = await startNginxDataPlane({ settings: app.spec.router ?? {}, listen: ctx.listen, stateDir: options.stateDir, drainTimeoutMs, onWorkerEvent, onProblem: log });
  } catch (err) {
    store.close();
    throw new DaemonStartError('ListenFailed', `nginx, the App's data plane, did not start on ${ctx.listen.host}:${ctx.listen.port}: ${(err as Error).message}`);
  }
  const logs = app.spec.logs ?? {};
  const processRuntime = createRuntime('process', {
    stateDir: options.stateDir, baseDir: dirname(ctx.appFile),
    logRotation: { ...(logs.maxFileBytes !== undefined && { maxBytes: logs.maxFileBytes }), ...(logs.keepFiles !== undefined && { keepFiles: logs.keepFiles }) },
    ...(logs.retention !== undefined && { logRetentionMs: parseDurationMs(logs.retention) }),
  });
  const { pid, adopted, stoppedLeftover } = plane.control;
  if (stoppedLeftover !== undefined) ctx.orphans.push(stoppedLeftover);
  const controller = new LocalController({
    store, processRuntime, staticRuntime: createRuntime('static', {}), router: plane.control, drainTimeoutMs,
    dataPlane: () => {
      // Another pid once nginx was started again after its master died.
      const now = plane.control.pid;
      return Promise.resolve({ kind: 'nginx', url: plane.url, ...(now !== undefined && { nginxPid: now, adopted: adopted && now === pid }) });
    },
  });
  told.controller = controller;
  // As with the built-in router: a controller that never started has only its runtime to shut.
  // An nginx an earlier daemon left serving goes on serving its last table, as it did before.
  const fail = async (err: unknown, started: boolean): Promise<never> => {
    if (started) await controller.stop({ stopInstances: false });
    else await processRuntime.shutdown({ stopInstances: false });
    if (adopted) await plane.control.detach();
    else await plane.control.stop({ timeoutMs: 1000 });
    store.close();
    if (err instanceof StoreError) throw new DaemonStartError('StateUnusable', err.message);
    if (err instanceof ControlPlaneError) throw new DaemonStartError('InvalidApp', err.message, err.details);
    throw err;
  };
  let adoption;
  try {
    adoption = await controller.start({ firstPassByApply: true });
  } catch (err) {
    return fail(err, false);
  }
  try {
    await controller.apply({ text: ctx.text, file: ctx.appFile, prune: options.prune });
  } catch (err) {
    return fail(err, true);
  }
  return {
    controller,
    routerUrl: plane.url,
    adminUrl: undefined,
    routerSupervisor: undefined,
    ...(pid !== undefined && { nginx: { pid, adopted } }),
    warnings: plane.control.priorityRefused === undefined ? [] : [plane.control.priorityRefused],
    routesInProcess: false,
    adoption,
    orphans: ctx.orphans,
    async stop({ stopInstances }) {
      await controller.stop({ stopInstances });
      await plane.control.stop({ timeoutMs: stopInstances ? drainTimeoutMs : 1000 });
      store.close();
    },
  };
}
