/**
 * The edges of a supervisor left by an earlier daemon: a record whose process is gone, a record
 * whose pid now belongs to something else, and a resize request the supervisor must refuse.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { supervisorCleanup } from '../../../../test/fixtures/router/supervisor-cleanup.js';
import { PROTOCOL_VERSION, SUPERVISOR_INFO_FILE } from './protocol.js';
import { startSupervisedRouter, stopLeftoverSupervisor } from './supervisor-control.js';
import { signalChild } from '../../../lib/signal-child.js';

// Whatever a failed test left: no supervisor outlives the file.
const { started, dirs } = supervisorCleanup();

function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'graylane-leftover-'));
  dirs.push(d);
  return d;
}

const record = (dir: string, pid: number) =>
  writeFileSync(join(dir, SUPERVISOR_INFO_FILE), JSON.stringify({ pid, socketPath: join(dir, 'router.sock'), url: 'http://127.0.0.1:1', listen: { host: '127.0.0.1', port: 0 }, protocol: PROTOCOL_VERSION }));

describe('a supervisor left by an earlier daemon', () => {
  it('none recorded: nothing to stop', async () => {
    expect(await stopLeftoverSupervisor({ stateDir: stateDir(), drainTimeoutMs: 100 })).toBeUndefined();
  });

  it('a record of a process that is gone is removed, and nothing is stopped', async () => {
    const dir = stateDir();
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => gone.once('exit', r));
    record(dir, gone.pid!);
    expect(await stopLeftoverSupervisor({ stateDir: dir, drainTimeoutMs: 100 })).toBeUndefined();
    expect(existsSync(join(dir, SUPERVISOR_INFO_FILE))).toBe(false);
  });

  it('a recorded pid that now belongs to something else, with no socket, is left alone', async () => {
    const dir = stateDir();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      record(dir, other.pid!);
      expect(await stopLeftoverSupervisor({ stateDir: dir, drainTimeoutMs: 100 })).toBeUndefined();
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
      expect(existsSync(join(dir, SUPERVISOR_INFO_FILE))).toBe(false);
    } finally {
      signalChild(other, 'SIGKILL');
    }
  });

  it('a live one is drained and stopped, its pid returned and its record removed', async () => {
    const dir = stateDir();
    const s = await startSupervisedRouter({ stateDir: dir, workers: 1, router: { listen: { host: '127.0.0.1', port: 0 } } });
    started.push(s);
    s.detach();
    expect(await stopLeftoverSupervisor({ stateDir: dir, drainTimeoutMs: 100 })).toBe(s.pid);
    expect(() => process.kill(s.pid, 0)).toThrow();
    expect(existsSync(join(dir, SUPERVISOR_INFO_FILE))).toBe(false);
  }, 30_000);

  it('refuses a resize to a count outside 1 to 256, and keeps its workers', async () => {
    const dir = stateDir();
    const s = await startSupervisedRouter({ stateDir: dir, workers: 1, router: { listen: { host: '127.0.0.1', port: 0 } } });
    started.push(s);
    const { socketPath } = JSON.parse(readFileSync(join(dir, SUPERVISOR_INFO_FILE), 'utf8')) as { socketPath: string };
    const reply = await new Promise<{ ok: boolean; error?: { code?: string; message: string } }>((resolve, reject) => {
      const socket = connect(socketPath, () => socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id: 1, op: 'resize', workers: 0 })}\n`));
      let buffered = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        for (const line of buffered.split('\n').slice(0, -1)) {
          const m = JSON.parse(line) as { id?: number; ok: boolean; error?: { code?: string; message: string } };
          if (m.id === 1) {
            socket.destroy();
            resolve(m);
          }
        }
        buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
      });
      socket.on('error', reject);
    });
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_OPTIONS', message: 'workers must be an integer from 1 to 256, got 0' } });
    expect(await s.workers()).toHaveLength(1);
    await s.stop({ drainTimeoutMs: 100 });
  }, 30_000);
});
