/**
 * The socket keeper: a node:cluster worker of the router supervisor that takes the listening
 * sockets as every worker does and then never accepts a connection. node:cluster's primary closes
 * a listening socket when the last worker holding it goes; with one worker (one core), or all of
 * them dying at once, the port would refuse connections until a replacement listens (about a
 * second measured) and drop those waiting in its backlog. With the keeper holding it, the socket
 * stays open: connections wait in the kernel's backlog and the replacement accepts them.
 *
 * It never returns to its event loop once it holds the sockets (so it never accepts), and ends
 * itself when its supervisor is gone, so that a supervisor killed with -9 leaves no process on
 * the port. Loads nothing of the router: it costs a bare node process.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { RouterOptions } from '../../types.js';
import { WORKER_OPTIONS_ENV } from './worker-constants.js';

const options = JSON.parse(process.env[WORKER_OPTIONS_ENV] ?? '{}') as Pick<RouterOptions, 'listen' | 'tls'>;
const addresses = [options.listen, options.tls?.listen].filter((a): a is { host: string; port: number } => a !== undefined);

/** The parent's pid now: once the supervisor is gone this process is someone else's child. */
function parentPid(): number | undefined {
  try {
    // Field 4 of /proc/self/stat; the command name before it may hold spaces but ends with ')'.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function supervisorAlive(supervisor: number): boolean {
  const now = parentPid();
  if (now !== undefined) return now === supervisor;
  try {
    process.kill(supervisor, 0);
    return true;
  } catch {
    return false;
  }
}

/** Never returns: the event loop must not run again, or it would accept connections here. */
function hold(supervisor: number): never {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    Atomics.wait(cell, 0, 0, 1000);
    if (!supervisorAlive(supervisor)) process.exit(0);
  }
}

/**
 * The same calls the workers make (host and port as given), so that node:cluster hands this
 * process the very sockets they share; one after the other, blocking inside the last one's
 * callback: 'listening' is emitted before the event loop polls the socket.
 */
function listenAll(rest: { host: string; port: number }[], supervisor: number): void {
  const [next, ...after] = rest;
  if (!next) hold(supervisor);
  const server = createServer();
  // Only while a second address is being taken can a connection reach this process: better a
  // reset the client retries than a connection nobody ever answers.
  server.on('connection', (socket) => socket.destroy());
  server.once('error', (err) => {
    process.stderr.write(`graylane router socket keeper: cannot hold ${next.host}:${next.port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(next.port, next.host, () => listenAll(after, supervisor));
}

listenAll(addresses, process.ppid);
