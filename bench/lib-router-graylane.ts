/**
 * Benchmark proxy, run as its own process: graylane's router in front of one upstream address
 * (argv[2]). Prints `{"url":...}` on stdout once listening; stops on SIGTERM (so `--cpu-prof`
 * profiles get written).
 */
import { createRouter } from '../src/router/index.js';

const address = process.argv[2];
if (!address) throw new Error('usage: lib-router-graylane.ts HOST:PORT');
const router = createRouter({
  listen: { host: '127.0.0.1', port: 0 },
  routes: {
    services: [{ name: 'bench', pathPrefix: '/', stable: 'v1', canaryWeight: 0, revisions: { v1: { instances: [{ id: 'u1', address, ready: true }] } } }],
  },
});
const { url } = await router.start();
process.stdout.write(`${JSON.stringify({ url })}\n`);
process.on('SIGTERM', () => {
  void router.stop({ drainTimeoutMs: 100 }).then(() => process.exit(0));
});
