import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { groupAlive, isAlive, portOwnership, processArgv, processStartMs } from './proc-fs.js';

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
    cleanups.push(() => other.kill('SIGKILL'));
    expect(groupAlive(other.pid!)).toBe(true);
    expect(await portOwnership(port, other.pid!)).toBe('foreign');
    const closed = await listen();
    cleanups.pop()!();
    await new Promise((r) => setTimeout(r, 50));
    expect(await portOwnership(closed, ownPgid)).toBe('none');
  });
});
