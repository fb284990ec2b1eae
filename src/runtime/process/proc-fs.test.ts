import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { groupAlive, isAlive, portOwnership, processArgv, processStartMs, readSmallFile, readSmallFileSync } from './proc-fs.js';
import { signalChild } from '../../lib/signal-child.js';

const ownPgid = Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[2]);
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function listen(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

describe('/proc readers', () => {
  it('reads this process start time, to within a second', () => {
    const expected = Date.now() - process.uptime() * 1000;
    expect(Math.abs(processStartMs(process.pid)! - expected)).toBeLessThan(1_000);
  });

  it('reads argv and liveness, and says nothing about a pid that does not exist', () => {
    expect(processArgv(process.pid)![0]).toBe(process.argv0);
    expect(isAlive(process.pid)).toBe(true);
    const missing = 2 ** 22 + 777;
    expect([isAlive(missing), processArgv(missing), processStartMs(missing)]).toEqual([false, undefined, undefined]);
  });

  it('tells our listening port from someone else\'s and from a closed one', async () => {
    const port = await listen();
    expect(await portOwnership(port, ownPgid)).toBe('ours');
    const other = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    cleanups.push(() => signalChild(other, 'SIGKILL'));
    expect(groupAlive(other.pid!)).toBe(true);
    expect(await portOwnership(port, other.pid!)).toBe('foreign');
    const closed = await listen();
    cleanups.pop()!();
    await new Promise((r) => setTimeout(r, 50));
    expect(await portOwnership(closed, ownPgid)).toBe('none');
  });
});

describe('groupAlive', () => {
  it('is false for a group whose processes have all exited, and for one whose only process is a zombie', async () => {
    const gone = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    expect(groupAlive(gone.pid!)).toBe(true);
    process.kill(-gone.pid!, 'SIGKILL');
    await new Promise((r) => gone.once('exit', r));
    expect(groupAlive(gone.pid!)).toBe(false);

    // A child that leads a group of its own and exits, unreaped by its parent: a zombie, alone in that group.
    const parent = spawn('perl', ['-e', 'my $c = fork(); if ($c == 0) { setpgrp(0, 0); exit 0 } $| = 1; print "$c\\n"; sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(() => signalChild(parent, 'SIGKILL'));
    const zombie = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    const deadline = Date.now() + 5_000;
    while (!/^\S+ \(\S+\) Z /.test(readFileSync(`/proc/${zombie}/stat`, 'utf8')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(() => process.kill(-zombie, 0)).not.toThrow();
    expect(groupAlive(zombie)).toBe(false);
  });
});

describe('who holds a port, for the process graylane started', () => {
  const LISTEN = "const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log(s.address().port)); setTimeout(() => {}, 30000)";
  async function started(command: string, args: string[]): Promise<{ pid: number; port: number }> {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(() => process.kill(-child.pid!, 'SIGKILL'));
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    return { pid: child.pid!, port };
  }

  it('is ours when the process itself listens (found without reading the rest of the host)', async () => {
    const { pid, port } = await started(process.execPath, ['-e', LISTEN]);
    expect(await portOwnership(port, pid)).toBe('ours');
  });

  it('is ours when a process it started listens (a shell wrapper, npm start)', async () => {
    const { pid, port } = await started('sh', ['-c', `"${process.execPath}" -e "${LISTEN.replace(/"/g, '\\"')}"; true`]);
    expect(await portOwnership(port, pid)).toBe('ours');
    const stranger = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    cleanups.push(() => signalChild(stranger, 'SIGKILL'));
    expect(await portOwnership(port, stranger.pid!)).toBe('foreign');
  });
});

describe('small /proc files', () => {
  it('are read whole, whether they fit the first buffer or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graylane-procfs-'));
    for (const size of [0, 10, 1023, 1024, 5000]) {
      const file = join(dir, `f${size}`);
      const text = Array.from({ length: size }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
      writeFileSync(file, text);
      expect([readSmallFileSync(file).length, (await readSmallFile(file)).length]).toEqual([size, size]);
      expect(readSmallFileSync(file)).toBe(text);
    }
    // /proc reports size 0 for what it holds; pid, command, state aside, its times move between reads.
    const fields = (text: string) => text.split(' ').slice(0, 2).concat(String(text.split(' ').length));
    expect(fields(readSmallFileSync('/proc/self/stat'))).toEqual(fields(readFileSync('/proc/self/stat', 'latin1')));
  });

  it('a missing file is an error the callers turn into "unknown"', async () => {
    expect(() => readSmallFileSync('/proc/0/stat')).toThrow(/ENOENT/);
    await expect(readSmallFile('/proc/0/stat')).rejects.toThrow(/ENOENT/);
  });
});
