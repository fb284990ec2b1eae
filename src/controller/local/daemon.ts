/**
 * The single-host daemon's parts, put together: store, runtimes, router, controller. The API and
 * the terminal are the CLI's business (`graylane up`); this module owns the lifecycle order, so
 * that routing is restored before anything is reconciled and instances drain before the router stops.
 */
import { dirname, join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { createRouter, type Router } from '../../router/index.js';
import { createRuntime } from '../../runtime/registry.js';
import { formatSpecError, loadDocuments } from '../../spec/index.js';
import { openStore } from '../../store/registry.js';
import type { Store } from '../../store/store.js';
import { ControlPlaneError } from '../control-plane.js';
import { LocalController } from './local-controller.js';
import { parseDurationMs } from '../../lib/duration.js';
import { analysisLoadChecks } from '../../analysis/load-checks.js';

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
  /** How long stopping instances get to finish requests; default 30 s. */
  drainTimeoutMs?: number;
}

/** A running daemon. */
export interface LocalDaemon {
  /** The control plane the API serves. */
  controller: LocalController;
  /** The router's URL. */
  routerUrl: string;
  /** The router's admin URL (metrics). */
  adminUrl: string | undefined;
  /** Instances re-adopted at start, and records that could not be. */
  adoption: { adopted: number; rejected: string[] };
  /** Stops: with `stopInstances`, drains and stops the app (Ctrl-C); without, leaves it running. */
  stop(options: { stopInstances: boolean }): Promise<void>;
}

/** A daemon that could not start; the message says why and what to do. */
export class DaemonStartError extends Error {
  constructor(readonly code: 'InvalidApp' | 'ListenFailed' | 'StateUnusable', message: string, readonly details: string[] = []) {
    super(message);
    this.name = 'DaemonStartError';
  }
}

function parseListen(listen: string | undefined): { host: string; port: number } {
  const value = listen ?? '127.0.0.1:8080';
  const cut = value.lastIndexOf(':');
  return { host: value.slice(0, cut).replace(/^\[|\]$/g, ''), port: Number(value.slice(cut + 1)) };
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
  const loaded = loadDocuments({ text, file: options.appFile }, analysisLoadChecks);
  if (loaded.errors.length > 0) throw new DaemonStartError('InvalidApp', `${options.appFile} is invalid; nothing was started`, loaded.errors.map(formatSpecError));
  const appDoc = loaded.documents.find((d) => d.kind === 'App');
  if (appDoc?.kind !== 'App') throw new DaemonStartError('InvalidApp', `${options.appFile} has no App document: \`graylane up\` runs an App (kind: App)`);
  const app = appDoc.doc;

  let store: Store;
  try {
    store = openStore({ type: 'sqlite', file: join(options.stateDir, 'state.db') });
  } catch (err) {
    throw new DaemonStartError('StateUnusable', (err as Error).message);
  }
  const listen = options.listen ?? parseListen(app.spec.listen);
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const router: Router = createRouter({
    listen,
    admin: { host: '127.0.0.1', port: 0, token: options.adminToken },
    drainTimeoutMs,
  });
  let addresses;
  try {
    addresses = await router.start();
  } catch (err) {
    store.close();
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the address is already in use: stop what listens there, or change spec.listen' : (err as Error).message;
    throw new DaemonStartError('ListenFailed', `the router cannot listen on ${listen.host}:${listen.port}: ${why}`);
  }
  const logs = app.spec.logs ?? {};
  const processRuntime = createRuntime('process', {
    stateDir: options.stateDir, baseDir: dirname(appFile),
    logRotation: { ...(logs.maxFileBytes !== undefined && { maxBytes: logs.maxFileBytes }), ...(logs.keepFiles !== undefined && { keepFiles: logs.keepFiles }) },
    ...(logs.retention !== undefined && { logRetentionMs: parseDurationMs(logs.retention) }),
  });
  const staticRuntime = createRuntime('static', {});
  const controller = new LocalController({ store, processRuntime, staticRuntime, router, drainTimeoutMs });
  const adoption = await controller.start();
  try {
    await controller.apply({ text, file: appFile });
  } catch (err) {
    await controller.stop({ stopInstances: false });
    await router.stop({ drainTimeoutMs: 0 });
    store.close();
    if (err instanceof ControlPlaneError) throw new DaemonStartError('InvalidApp', err.message, err.details);
    throw err;
  }
  return {
    controller,
    routerUrl: addresses.url,
    adminUrl: addresses.adminUrl,
    adoption,
    async stop({ stopInstances }) {
      await controller.stop({ stopInstances });
      await router.stop({ drainTimeoutMs: stopInstances ? drainTimeoutMs : 1000 });
      store.close();
    },
  };
}
