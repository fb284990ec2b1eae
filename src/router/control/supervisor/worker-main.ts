/**
 * One data-plane worker of the router supervisor (a child process with an IPC channel): the
 * existing router, given its tables by the supervisor, accepting connections itself on the
 * listening sockets the supervisor hands it (the first worker binds them and hands them to the
 * supervisor, which keeps them open for every later worker), reporting its counters every
 * {@link REPORT_INTERVAL_MS} when they changed (else every {@link REPORT_HEARTBEAT_MS}) and on
 * request, and forwarding its events.
 */
import { createRouter, type ListeningHandles, type Router } from '../../router.js';
import type { RouterOptions } from '../../types.js';
import { createInProcessRouterControl } from '../in-process/in-process-control.js';
import type { FromWorker, ListenerKind, ToWorker } from './protocol.js';
import { toWireError } from './protocol.js';
import { workerReport } from './worker-report.js';
import { packReport } from './wire-report.js';
import { REPORT_HEARTBEAT_MS, REPORT_INTERVAL_MS, WORKER_OPTIONS_ENV } from './worker-constants.js';
import { ChangeGate } from './change-gate.js';


function send(message: FromWorker, handle?: object): void {
  // The supervisor is gone when the channel is: the disconnect handler below ends this worker.
  if (process.connected) process.send?.(message, handle as never);
}

/** The listening sockets the supervisor handed over, if any: listened on rather than bound. */
const given: Partial<Record<ListenerKind, object>> = {};

const options = JSON.parse(process.env[WORKER_OPTIONS_ENV] ?? '{}') as RouterOptions;
/** The router, or, when its options cannot be used (a certificate file gone bad since the daemon checked), the reason. */
function build(): { router: Router } | { error: unknown } {
  try {
    return { router: createRouter({
      ...options,
      // Its supervisor merges the cumulative totals, and the daemon windows them.
      perSecondStats: false,
      ...(options.tls && { tls: { ...options.tls, onCertificateEvent: (event) => send({ t: 'certificate', event }) } }),
      onEvent: (event) => send({ t: 'event', event }),
    }) };
  } catch (error) {
    return { error };
  }
}

const built = build();
if ('error' in built) {
  // Told to the supervisor, which reports it; the exit waits for the message to leave.
  process.send?.({ t: 'listen-failed', error: toWireError(built.error) } satisfies FromWorker, () => process.exit(1));
  await new Promise<never>(() => undefined);
}
const { router } = built as { router: Router };
const control = createInProcessRouterControl({ router });
let listening = false;

const report = () => packReport(workerReport(router, Date.now()));

async function onMessage(message: ToWorker, handle: unknown): Promise<void> {
  switch (message.t) {
    case 'socket':
      if (typeof handle === 'object' && handle !== null) given[message.kind] = handle;
      return;
    case 'table':
      try {
        // Version 0 is the supervisor's before the daemon gave it a table: the router's own "starting".
        if (message.version > 0) await control.applyTable(message.table);
      } catch (err) {
        send({ t: 'nack', version: message.version, error: toWireError(err) });
        return;
      }
      // The first table is in force before the first connection is taken.
      if (!listening) {
        listening = true;
        try {
          const handles: ListeningHandles | undefined = given.http ? { http: given.http, https: given.https } : undefined;
          const { url, httpsUrl } = await router.start({ handles });
          // Bound here (all of them, or the HTTPS one a binder that died before handing it over
          // did not leave): the supervisor keeps the sockets, for the other workers and for when
          // this one dies.
          const bound = router.listeningHandles();
          if (bound && !given.http) send({ t: 'socket', kind: 'http' }, bound.http);
          if (bound?.https && !given.https) send({ t: 'socket', kind: 'https' }, bound.https);
          send({ t: 'listening', url, ...(httpsUrl !== undefined && { httpsUrl }) });
        } catch (err) {
          send({ t: 'listen-failed', error: toWireError(err) });
          // The message must reach the supervisor before the channel closes with this process.
          setTimeout(() => process.exit(1), 100);
          return;
        }
      }
      send({ t: 'ack', version: message.version });
      return;
    case 'await-drained':
      send({ t: 'drained', id: message.id, outcome: await control.awaitDrained(message.instance, message.deadlineMs) });
      return;
    case 'report':
      send({ t: 'report', id: message.id, report: report() });
      return;
    case 'peer-ejection':
      router.followPeerEjection({ instance: message.instance, address: message.address, ejectionMs: message.ejectionMs });
      return;
    case 'stop':
      clearInterval(timer);
      await router.stop({ drainTimeoutMs: message.drainTimeoutMs });
      process.exit(0);
  }
}

process.on('message', (message: ToWorker, handle: unknown) => {
  onMessage(message, handle).catch((err: unknown) => {
    process.stderr.write(`graylane router worker ${process.pid}: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
});
send({ t: 'hello' });
// Without its supervisor a worker has no listening socket to serve from and no one to report to.
process.on('disconnect', () => process.exit(0));
const gate = new ChangeGate(REPORT_HEARTBEAT_MS);
// A release's per-second entries move with the clock alone; its cumulative figures say whether anything happened.
const withoutSeconds = (key: string, value: unknown) => (key === 'seconds' ? undefined : value);
const timer = setInterval(() => {
  const r = report();
  if (gate.pass(JSON.stringify(r, withoutSeconds), Date.now())) send({ t: 'report', report: r });
}, REPORT_INTERVAL_MS);
