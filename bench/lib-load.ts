/**
 * The load the daemon benchmarks (seamless, crash, memory) hold on the router: Debian's wrk with
 * every request logged (lib-wrk-log.ts), or, with `--client node`, this process's undici loop
 * (lib-daemon.ts), which stalls with the machine and so measures itself too; kept to compare.
 */
import { startLoadLoop, type LoadLoop, type RequestLog } from './lib-daemon.js';
import { startWrkLoad } from './lib-wrk-log.js';

/** Which load generator. */
export type LoadClient = 'wrk' | 'node';

/** `--client wrk|node`; wrk when absent. */
export function clientFlag(args: readonly string[]): LoadClient {
  const at = args.indexOf('--client');
  const client = at >= 0 ? args[at + 1] : 'wrk';
  if (client !== 'wrk' && client !== 'node') throw new Error("--client takes wrk (Debian's wrk, the default) or node (this process's undici loop)");
  return client;
}

/** What a stopped load measured. */
export interface LoadResult {
  log: RequestLog;
  /** Requests due but not sent (node: too many in flight). */
  dropped: number;
  /** wrk's connect, read and write errors and timeouts. A connection refused is not a request to wrk: it reconnects, counting each refusal here and logging nothing. */
  socketErrors: number;
}

/** A running load. */
export interface Load {
  stop(): Promise<LoadResult>;
}

/** Options of {@link startLoad}. */
export interface LoadOptions {
  client: LoadClient;
  /** `http://host:port` of the router. */
  origin: string;
  /** Paths sent in turn, the rate spread evenly over them. */
  paths: string[];
  ratePerSecond: number;
  /** node: give up on a request after this long. */
  timeoutMs?: number;
  /** wrk: its nice value (see WrkLoadOptions.nice); the node client runs in the bench's own process. */
  clientPriority?: number | undefined;
}

/** One log in send order from several. */
function mergeLogs(logs: RequestLog[]): RequestLog {
  const rows = logs.flatMap((l) => l.sentMs.map((sent, i) => ({ sent, done: l.doneMs[i]!, status: l.status[i]!, by: l.servedBy[i]!, error: l.errors.get(i) })));
  rows.sort((a, b) => a.sent - b.sent);
  const out: RequestLog = { sentMs: [], doneMs: [], status: [], servedBy: [], errors: new Map() };
  rows.forEach((r, i) => {
    out.sentMs.push(r.sent);
    out.doneMs.push(r.done);
    out.status.push(r.status);
    out.servedBy.push(r.by);
    if (r.error !== undefined) out.errors.set(i, r.error);
  });
  return out;
}

/** Starts constant-rate keep-alive load; see the module comment. */
export function startLoad(o: LoadOptions): Load {
  if (o.client === 'node') {
    const loops: LoadLoop[] = o.paths.map((p) => startLoadLoop({ url: `${o.origin}${p}`, ratePerSecond: o.ratePerSecond / o.paths.length, ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }) }));
    return {
      async stop() {
        const logs: RequestLog[] = [];
        for (const l of loops) logs.push(await l.stop());
        return { log: mergeLogs(logs), dropped: loops.reduce((n, l) => n + l.dropped(), 0), socketErrors: 0 };
      },
    };
  }
  const wrk = startWrkLoad({ url: `${o.origin}${o.paths[0] ?? '/'}`, paths: o.paths, ratePerSecond: o.ratePerSecond, nice: o.clientPriority });
  return {
    async stop() {
      const { log, socketErrors: e } = await wrk.stop();
      return { log, dropped: 0, socketErrors: e.connect + e.read + e.write + e.timeout };
    },
  };
}
