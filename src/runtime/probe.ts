/** One-shot health checks used by probe loops: HTTP GET (Kubernetes semantics) and TCP connect. */
import http from 'node:http';
import net from 'node:net';
import { stallTolerantDeadline } from './stall-tolerant-deadline.js';

/** Outcome of one check; `detail` explains a failure in a few words. */
export interface CheckResult {
  ok: boolean;
  detail: string;
  /** The connection was refused: nothing listens (yet). */
  refused?: boolean;
  /** Counts neither as a success nor as a failure (e.g. a port not opened yet during start-up). */
  pending?: boolean;
}

/** Arguments of {@link httpCheck}. */
export interface HttpCheckOptions {
  host: string;
  port: number;
  path: string;
  timeoutMs: number;
  /** Extra request headers (the instance id, so an app may log who probes it). */
  headers?: Record<string, string>;
}

/** GET `path`; any status in 200–399 passes, as for a Kubernetes httpGet probe. */
export function httpCheck(options: HttpCheckOptions): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const req = http.get(
      {
        host: options.host,
        port: options.port,
        path: options.path,
        agent: false,
        headers: { 'user-agent': 'graylane-probe', connection: 'close', ...options.headers },
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 400;
        finish({ ok, detail: `GET ${options.path} returned HTTP ${status}` });
        res.on('error', () => undefined);
      },
    );
    // One deadline for the whole exchange (a socket's `timeout` would only cover its inactivity).
    const deadline = stallTolerantDeadline(options.timeoutMs, () => {
      finish({ ok: false, detail: `GET ${options.path} timed out after ${options.timeoutMs} ms` });
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish({ ok: false, detail: `GET ${options.path} failed: ${err.code ?? err.message}`, refused: err.code === 'ECONNREFUSED' });
    });
    req.on('close', () => deadline.clear());
  });
}

/** Passes when a TCP connection to host:port is accepted within the timeout. */
export function tcpCheck(options: { host: string; port: number; timeoutMs: number }): Promise<CheckResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: options.host, port: options.port });
    const done = (result: CheckResult) => {
      deadline.clear();
      socket.destroy();
      resolve(result);
    };
    const deadline = stallTolerantDeadline(options.timeoutMs, () => done({ ok: false, detail: `TCP connect to ${options.host}:${options.port} timed out after ${options.timeoutMs} ms` }));
    socket.once('connect', () => done({ ok: true, detail: 'TCP connect accepted' }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({ ok: false, detail: `TCP connect to ${options.host}:${options.port} failed: ${err.code ?? err.message}`, refused: err.code === 'ECONNREFUSED' }),
    );
  });
}
