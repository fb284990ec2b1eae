// What both shop services share: env knobs, the x-served-by header, /healthz, the failure knob
// of the broken v3, and a graceful SIGTERM. Plain node:http, no dependencies.
import { createServer } from 'node:http';

/**
 * Reads the knobs every shop service understands from the environment.
 * PORT (0 picks a free port), VERSION (v1, v2, ...), FAIL_RATE (0..1, the fraction of requests
 * answered 500), EXTRA_LATENCY_MS (added before answering), SHUTDOWN_TIMEOUT_MS.
 */
export function readConfig(env = process.env) {
  const port = Number(env.PORT ?? 0);
  const failRate = Number(env.FAIL_RATE ?? 0);
  const extraLatencyMs = Number(env.EXTRA_LATENCY_MS ?? 0);
  const shutdownTimeoutMs = Number(env.SHUTDOWN_TIMEOUT_MS ?? 10_000);
  const version = env.VERSION || 'v1';
  const bad = [
    [!Number.isInteger(port) || port < 0 || port > 65535, `PORT must be a port number, got "${env.PORT}"`],
    [!(failRate >= 0 && failRate <= 1), `FAIL_RATE must be between 0 and 1, got "${env.FAIL_RATE}"`],
    [!(extraLatencyMs >= 0), `EXTRA_LATENCY_MS must be >= 0, got "${env.EXTRA_LATENCY_MS}"`],
    [!(shutdownTimeoutMs >= 0), `SHUTDOWN_TIMEOUT_MS must be >= 0, got "${env.SHUTDOWN_TIMEOUT_MS}"`],
  ].filter(([isBad]) => isBad);
  if (bad.length > 0) {
    for (const [, message] of bad) console.error(message);
    process.exit(2);
  }
  return { port, version, failRate, extraLatencyMs, shutdownTimeoutMs, host: env.HOST || '127.0.0.1' };
}

/**
 * The feature level of a version: `v2` → 2. The shop's API contract grows with it (v2 adds
 * `price.currency`), and the frontend of level N needs the API of level N.
 */
export function featureLevel(version) {
  const m = /^v(\d+)/.exec(version);
  return m ? Number(m[1]) : 1;
}

/**
 * Starts a service. `handle(req, res, url)` answers everything but /healthz; the kit adds
 * x-served-by, the failure knob and the extra latency, and drains on SIGTERM/SIGINT.
 */
export function serve({ service, config, handle }) {
  const servedBy = `${service}@${config.version}`;
  let requests = 0;
  let failed = 0;
  let shuttingDown = false;
  const inFlight = new Set();

  // Deterministic failure fraction: over any run of requests, failures are FAIL_RATE of them,
  // so tests and demos see the same shape every time instead of a random walk.
  const shouldFail = () => {
    requests += 1;
    if (config.failRate <= 0) return false;
    if (Math.floor(requests * config.failRate) > failed) {
      failed += 1;
      return true;
    }
    return false;
  };

  const server = createServer((req, res) => {
    res.setHeader('x-served-by', servedBy);
    // Once draining, tell keep-alive clients to reconnect (to another instance) after this answer.
    if (shuttingDown) res.setHeader('connection', 'close');
    inFlight.add(res);
    res.on('close', () => {
      inFlight.delete(res);
      if (shuttingDown) setImmediate(() => server.closeIdleConnections());
    });
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') {
      res.writeHead(shuttingDown ? 503 : 200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(shuttingDown ? 'draining\n' : 'ok\n');
      return;
    }
    const answer = () => {
      if (shouldFail()) {
        res.writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ error: `${servedBy} failed on purpose (FAIL_RATE=${config.failRate})` }));
        return;
      }
      try {
        handle(req, res, url);
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    };
    // Drain the request body first so keep-alive connections stay reusable.
    req.resume();
    req.on('end', () => {
      if (config.extraLatencyMs > 0) setTimeout(answer, config.extraLatencyMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 65_000; // longer than common proxies' idle timeouts: the proxy closes first
  server.headersTimeout = 66_000;

  const shutdown = (signal) => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log(`${servedBy} ${signal}: draining ${inFlight.size} in-flight request(s)`);
    for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    // close() stops accepting and resolves when in-flight requests are done; idle keep-alive
    // sockets are closed now, busy ones after their response (connection: close above).
    server.close(() => {
      console.log(`${servedBy} drained, exiting`);
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => {
      console.error(`${servedBy} still busy after ${config.shutdownTimeoutMs}ms, exiting anyway`);
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  server.on('error', (err) => {
    console.error(`${servedBy} cannot listen on ${config.host}:${config.port}: ${err.message}`);
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    const address = server.address();
    // One parseable line: whoever started us with PORT=0 learns the port from it.
    console.log(`${servedBy} listening on http://${config.host}:${address.port}`);
  });
  return server;
}
