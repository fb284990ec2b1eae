/**
 * `graylane apply` of another App's file to a running daemon (a wrong --state-dir, say) removes
 * nothing unless asked, and a service applied from another directory runs there; `history` does
 * not print environment values unless asked.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, realpathSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { appDir, BIN, cli, hit, startDaemon, stopDaemon, waitFor, writeApp, type Daemon } from './harness.js';
import type { ServiceView } from '../../src/controller/view-model.js';

let d: Daemon;
let other: string;

/** An App named `name` with one service `service` running server.mjs from `dir`. */
function otherApp(dir: string, name: string, service: string, file = 'graylane.yaml'): string {
  const path = join(dir, file);
  writeFileSync(path, `apiVersion: graylane.dev/v1alpha1
kind: App
metadata: {name: ${name}}
spec:
  services:
  - name: ${service}
    pathPrefix: /${service}
    replicas: 1
    process:
      command: [node, server.mjs]
      env: {VERSION: ${service}}
      readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 0.2, failureThreshold: 1}
      terminationGracePeriodSeconds: 5
`);
  return path;
}

/** Pids of the processes started for the daemon of `stateDir` (their environment names it). */
function processesOf(stateDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`GRAYLANE_STATE_DIR=${stateDir}`)) pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

async function names(): Promise<string[]> {
  return (JSON.parse((await cli(d.stateDir, ['get', '--json'])).out) as { services: ServiceView[] }).services.map((s) => s.name).sort();
}

beforeAll(async () => {
  const dir = appDir();
  writeApp(dir, { version: 'v1', replicas: 1, strategy: '      canary: {}', env: { DB_PASSWORD: 'hunter2' } });
  d = await startDaemon(dir);
  await waitFor(async () => (await hit(`${d.info.routerUrl}/`)).version === 'v1', 20_000, 'v1 serving');
  other = mkdtempSync(join(tmpdir(), 'graylane-other-'));
  copyFileSync(join(dir, 'server.mjs'), join(other, 'server.mjs'));
}, 30_000);
afterAll(async () => {
  await stopDaemon(d);
});

describe('history', () => {
  it('shows environment names with masked values; --show-env and ?showEnv=true show the values', async () => {
    const masked = await cli(d.stateDir, ['history', 'app']);
    expect(masked.code).toBe(0);
    expect(masked.out).toContain('DB_PASSWORD=***');
    expect(masked.out).not.toContain('hunter2');
    const json = await cli(d.stateDir, ['history', 'app', '--json']);
    expect(json.out).not.toContain('hunter2');
    const shown = await cli(d.stateDir, ['history', 'app', '--show-env']);
    expect(shown.out).toContain('DB_PASSWORD=hunter2');
    const token = (await import('node:fs')).readFileSync(join(d.stateDir, 'token'), 'utf8').trim();
    const api = async (q: string) => (await fetch(`${d.info.apiUrl}/v1/services/app/history${q}`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(await api('')).not.toContain('hunter2');
    expect(await api('?showEnv=true')).toContain('DB_PASSWORD=hunter2');
  });
});

describe('apply of another App', () => {
  it('without --prune: refused with a sentence naming what would be removed; nothing applied', async () => {
    const r = await cli(d.stateDir, ['apply', '-f', otherApp(other, 'billing', 'invoices')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('is App "billing" but this daemon runs App "e2e": applying it would remove service app with its history. Nothing was applied. To remove it, pass --prune');
    expect(await names()).toEqual(['app']);
    expect((await hit(`${d.info.routerUrl}/`)).version).toBe('v1');
  });

  it('with --prune: lists what it removed, and the new service runs in its own file\'s directory', async () => {
    const r = await cli(d.stateDir, ['apply', '-f', otherApp(other, 'billing', 'invoices'), '--prune']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^invoices: revision #1 \([a-z0-9]+\) created\napp: removed, with its history\n$/);
    expect(await names()).toEqual(['invoices']);
    const { pid } = await waitFor(async () => {
      const res = await fetch(`${d.info.routerUrl}/invoices`);
      return res.ok ? ((await res.json()) as { version: string; pid: number }) : undefined;
    }, 20_000, 'invoices serving');
    expect(readlinkSync(`/proc/${pid}/cwd`)).toBe(realpathSync(other));
  }, 40_000);

  it('the same App name: services it no longer names are removed without --prune, and listed', async () => {
    const r = await cli(d.stateDir, ['apply', '-f', otherApp(other, 'billing', 'payments', 'second.yaml')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('invoices: removed, with its history');
    expect(await names()).toEqual(['payments']);
  });

  it('`graylane up` of another App with the state dir of this one: exit 2 with the same sentence, nothing started', async () => {
    await stopDaemon(d);
    const r = spawnSync(process.execPath, [BIN, 'up', '-f', otherApp(other, 'shop', 'orders', 'third.yaml'), '--state-dir', d.stateDir, '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is App "shop" but this daemon runs App "billing": applying it would remove service payments with its history. Nothing was applied. To remove it, pass --prune');
    // Nothing started either: the refused daemon did not bring up the stored App's payments first.
    expect(processesOf(d.stateDir)).toEqual([]);
  }, 30_000);
});
