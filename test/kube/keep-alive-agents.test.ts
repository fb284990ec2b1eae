import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreV1Api, HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { shareKeepAliveAgents } from '../../src/kube/keep-alive-agents.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** An API server stand-in that answers every request with an empty namespace list and counts TCP connections. */
async function countingServer(): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'NamespaceList', metadata: {}, items: [] }));
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

function configFor(options: { server: string; clientCertificate?: string }): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: options.server, skipTLSVerify: true }],
    users: [{ name: 'u', ...(options.clientCertificate === undefined ? {} : { certData: Buffer.from(options.clientCertificate).toString('base64') }) }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function agentOf(kc: KubeConfig): Promise<unknown> {
  const context = new RequestContext('https://api.example:6443/api/v1/namespaces', HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context.getAgent();
}

describe('shareKeepAliveAgents', () => {
  it('makes sequential API calls reuse one connection, where the bare client opens one per call', async () => {
    const api = await countingServer();
    const bare = configFor({ server: api.url }).makeApiClient(CoreV1Api);
    for (let i = 0; i < 5; i++) await bare.listNamespace();
    const bareConnections = api.connections();
    const shared = shareKeepAliveAgents(configFor({ server: api.url })).makeApiClient(CoreV1Api);
    for (let i = 0; i < 5; i++) await shared.listNamespace();
    expect(bareConnections).toBe(5);
    expect(api.connections() - bareConnections).toBe(1);
  });

  it('hands the same agent to requests with the same identity, and another for another client certificate', async () => {
    const a = shareKeepAliveAgents(configFor({ server: 'https://api.example:6443', clientCertificate: 'cert-one' }));
    const first = await agentOf(a);
    expect(await agentOf(a)).toBe(first);
    a.users[0] = { ...a.users[0]!, certData: Buffer.from('cert-two').toString('base64') };
    expect(await agentOf(a)).not.toBe(first);
  });

  it('is idempotent: wrapping twice does not wrap the wrapper', async () => {
    const kc = configFor({ server: 'https://api.example:6443' });
    const wrapped = shareKeepAliveAgents(kc);
    const once: unknown = Reflect.get(wrapped, 'applySecurityAuthentication');
    expect(Reflect.get(shareKeepAliveAgents(kc), 'applySecurityAuthentication')).toBe(once);
    expect(await agentOf(kc)).toBe(await agentOf(kc));
  });
});
