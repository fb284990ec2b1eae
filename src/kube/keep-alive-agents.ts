/**
 * Connection reuse for `@kubernetes/client-node` 1.x. Its KubeConfig builds a new `http(s).Agent`
 * for every request (`applySecurityAuthentication` → `createAgent`), so every call opens a new
 * TCP connection, and against a real API server a new TLS handshake: under load that was the
 * largest single cost of a reconcile pass after the spec's validation. This wraps one KubeConfig
 * so that requests with the same connection settings share one keep-alive agent.
 *
 * A kept connection can be closed by the server just as the next request goes out on it: the
 * clients are therefore also made to send an idempotent request again after such a reset
 * ({@link retryStaleConnections}), and an idle connection is dropped after `idleSocketMs`, or
 * earlier when the server announces a shorter keep-alive (node honours `Keep-Alive: timeout=N`
 * only for an agent that has a timeout of its own).
 *
 * Proxy agents (SOCKS, HTTP(S) proxy) are left as the client made them: their identity carries
 * the proxy and they are not plain node agents.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { retryStaleConnections } from './stale-connection-retry.js';

/** Options of {@link shareKeepAliveAgents}. */
export interface KeepAliveAgentOptions {
  /** Sockets kept open per host at most when idle (default 32). */
  maxFreeSockets?: number | undefined;
  /**
   * How long a connection may stay idle before the client closes it (default
   * {@link DEFAULT_IDLE_SOCKET_MS}); a shorter keep-alive the server announces wins.
   */
  idleSocketMs?: number | undefined;
}

/**
 * Below the idle limit of the load balancers most often put in front of an API server (60 s for
 * AWS's classic ELB, Azure's 4 minutes, GCP's 10 minutes), so the client, not the balancer, ends a
 * quiet connection.
 */
export const DEFAULT_IDLE_SOCKET_MS = 30_000;

const SHARED = Symbol('graylane.keepAliveAgents');
const MAX_IDENTITIES = 8;

/** Which of an agent's options decide who it may connect as: TLS material and server identity. */
const IDENTITY_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

/** Whether two agents' identity options are the same (certificates compared byte for byte). */
function sameIdentity(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return IDENTITY_KEYS.every((key) => {
    const x = a[key];
    const y = b[key];
    if (x === y) return true;
    if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) return x.equals(y);
    return JSON.stringify(x) === JSON.stringify(y);
  });
}

/**
 * Makes `kubeConfig` hand out one shared keep-alive agent per connection identity instead of a new
 * agent per request. Idempotent; returns the same KubeConfig.
 */
export function shareKeepAliveAgents(kubeConfig: KubeConfig, options: KeepAliveAgentOptions = {}): KubeConfig {
  const marked = kubeConfig as KubeConfig & { [SHARED]?: true };
  if (marked[SHARED]) return kubeConfig;
  marked[SHARED] = true;
  retryStaleConnections(kubeConfig);
  // A handful of identities at most (one per cluster and user): a list compared in place beats hashing per request.
  const agents: Array<{ kind: 'http' | 'https'; identity: Record<string, unknown>; agent: http.Agent }> = [];
  const original = kubeConfig.applySecurityAuthentication.bind(kubeConfig);
  kubeConfig.applySecurityAuthentication = async (context) => {
    await original(context);
    const made = context.getAgent();
    // Exactly node's agents: a proxy agent subclasses them but must not be rebuilt as a plain one.
    const kind = made?.constructor === https.Agent ? 'https' : made?.constructor === http.Agent ? 'http' : undefined;
    if (made === undefined || kind === undefined) return;
    const agentOptions = (made as http.Agent & { options: Record<string, unknown> }).options;
    let shared = agents.find((a) => a.kind === kind && sameIdentity(a.identity, agentOptions))?.agent;
    if (shared === undefined) {
      const settings = { ...agentOptions, keepAlive: true, maxFreeSockets: options.maxFreeSockets ?? 32, timeout: options.idleSocketMs ?? DEFAULT_IDLE_SOCKET_MS };
      shared = kind === 'https' ? new https.Agent(settings) : new http.Agent(settings);
      // Rotated client certificates each leave an agent behind: keep the newest few only.
      agents.unshift({ kind, identity: agentOptions, agent: shared });
      for (const old of agents.splice(MAX_IDENTITIES)) old.agent.destroy();
    }
    context.setAgent(shared);
  };
  return kubeConfig;
}
