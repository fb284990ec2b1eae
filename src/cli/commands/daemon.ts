/** `graylane up` (the daemon in the foreground) and `graylane apply`. */
import { tuneDaemonHeap } from './daemon-heap.js';
import { GRAYLANE_VERSION } from '../install/install-names.js';
import { readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ensureStateDir, loadOrCreateToken, readDaemonInfo, StateDirError, writeDaemonInfo } from '../../api/state-dir.js';
import { pidAlive, registerDaemon, registryDir, unregisterDaemon } from '../../api/daemon-registry.js';
import { CliError, EXIT, type CliContext } from '../context.js';
import { ReadinessReport } from '../readiness-report.js';

/** Makes the state dir private to this user, or fails with the sentence that says why it cannot be. */
function secureStateDir(dir: string): void {
  try {
    ensureStateDir(dir);
  } catch (err) {
    if (err instanceof StateDirError) throw new CliError(`${err.message}; nothing was started`, EXIT.usage);
    throw err;
  }
}

function say(print: () => void): void {
  try {
    print();
  } catch {
    // Nowhere to report a failed write to.
  }
}

/** Registers up and apply. */
export function registerDaemonCommands(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('Run the router, the controller and the API in the foreground; Ctrl-C drains and stops the app.')
    .option('-f, --file <file>', 'the App file', 'graylane.yaml')
    .option('--state-dir <dir>', 'state directory (default: .graylane/ beside the App file, or GRAYLANE_STATE_DIR)')
    .option('--listen <host:port>', 'override spec.listen of the App file')
    .option('--drain-timeout <seconds>', 'how long stopping instances get to finish their requests', '30')
    .option('--prune', 'remove services the state dir has but the App file does not name (with their history)')
    .option('--adopt-orphans', 'take over app processes an earlier graylane started for this state dir that the state does not record')
    .option('--stop-orphans', 'stop such processes before starting')
    .option('--router-workers <n>', 'the router\'s worker processes under its own supervisor, which outlives a crashed daemon and the next `up` adopts (default: spec.router.workers, else one per core); 0 runs the router inside the daemon')
    .addHelpText('after', '\nExamples:\n  graylane up -f examples/shop/graylane.yaml\n  graylane up -f graylane.yaml --state-dir /var/lib/graylane')
    .action(async (o: { file: string; stateDir?: string; listen?: string; drainTimeout: string; prune?: boolean; adoptOrphans?: boolean; stopOrphans?: boolean; routerWorkers?: string }) => {
      // The app must be drained and stopped on Ctrl-C even when whoever read our output is gone.
      ctx.keepRunningWhenOutputCloses = true;
      if (o.adoptOrphans && o.stopOrphans) throw new CliError('--adopt-orphans and --stop-orphans exclude each other: choose one', EXIT.usage);
      const orphans = o.adoptOrphans ? 'adopt' : o.stopOrphans ? 'stop' : undefined;
      const routerWorkers = o.routerWorkers === undefined ? undefined : Number(o.routerWorkers);
      if (routerWorkers !== undefined && (!/^[0-9]+$/.test(o.routerWorkers!) || routerWorkers > 256)) {
        throw new CliError(`--router-workers must be an integer from 0 (the router inside the daemon) to 256, not "${o.routerWorkers}"`, EXIT.usage);
      }
      const stateDir = ctx.stateDir({ stateDir: o.stateDir, file: o.file });
      secureStateDir(stateDir);
      const running = readDaemonInfo(stateDir);
      if (running && running.pid !== process.pid && pidAlive(running.pid)) {
        throw new CliError(`a graylane daemon (pid ${running.pid}) already runs with state dir ${stateDir}; stop it first, or use another --state-dir`, EXIT.usage);
      }
      let listen: { host: string; port: number } | undefined;
      if (o.listen) {
        const m = /^(.+):([0-9]{1,5})$/.exec(o.listen);
        if (!m) throw new CliError(`--listen must be host:port, not "${o.listen}"`, EXIT.usage);
        listen = { host: m[1]!, port: Number(m[2]) };
      }
      const token = loadOrCreateToken(stateDir);
      const { DaemonStartError, startLocalDaemon } = await import('../../controller/local/daemon.js');
      const { startApiServer } = await import('../../api/server.js');
      tuneDaemonHeap({ routesInProcess: undefined });
      let daemon;
      try {
        daemon = await startLocalDaemon({ appFile: o.file, stateDir, adminToken: token, listen, drainTimeoutMs: Number(o.drainTimeout) * 1000, prune: o.prune === true, orphans, routerWorkers });
      } catch (err) {
        if (err instanceof DaemonStartError) throw new CliError(err.message, EXIT.usage, err.details);
        throw err;
      }
      tuneDaemonHeap({ routesInProcess: daemon.routesInProcess });
      // SQLite created its -wal and -shm files meanwhile: private too.
      secureStateDir(stateDir);
      const api = await startApiServer({ backend: daemon.controller, token, version: GRAYLANE_VERSION });
      const startedAtMs = Date.now();
      writeDaemonInfo(stateDir, { apiUrl: api.url, routerUrl: daemon.routerUrl, adminUrl: daemon.adminUrl, pid: process.pid, appFile: resolve(o.file), startedAtMs });
      let registered = true;
      try {
        registerDaemon(ctx.io.env, { pid: process.pid, stateDir, appFile: resolve(o.file), startedAtMs });
      } catch (err) {
        registered = false;
        ctx.warn(`warning: cannot record this daemon in ${registryDir(ctx.io.env)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): commands run elsewhere than ${resolve(stateDir, '..')} need GRAYLANE_STATE_DIR=${stateDir}`);
      }
      ctx.print(`graylane is up (pid ${process.pid})`);
      ctx.print(`  router   ${daemon.routerUrl}`);
      if (daemon.httpsUrl) ctx.print(`  https    ${daemon.httpsUrl}`);
      ctx.print(`  api      ${api.url}   (token in ${stateDir}/token)`);
      ctx.print(`  console  ${api.url}/ (sign in with the token from \`graylane token\`)`);
      if (daemon.adminUrl) ctx.print(`  metrics  curl -H "authorization: Bearer $(cat ${stateDir}/token)" ${daemon.adminUrl}/metrics`);
      ctx.print(`  state    ${stateDir}`);
      ctx.print(`  CLI      graylane get   (in any directory while this is the only daemon; else export GRAYLANE_STATE_DIR=${stateDir})`);
      const sup = daemon.routerSupervisor;
      if (sup) ctx.print(`  router supervisor pid ${sup.pid}${sup.adopted ? ', adopted from an earlier daemon' : ''}${sup.resizedFrom !== undefined ? ` (resized from ${sup.resizedFrom} workers)` : ''} (Ctrl-C stops it; a crash leaves it serving)`);
      if (daemon.nginx) ctx.print(`  nginx pid ${daemon.nginx.pid}${daemon.nginx.adopted ? ', adopted from an earlier daemon' : ''} (Ctrl-C stops it; a crash leaves it serving)`);
      if (daemon.adoption.adopted > 0) ctx.print(`  re-adopted ${daemon.adoption.adopted} running instance(s)`);
      for (const r of daemon.adoption.rejected) ctx.warn(`warning: ${r}`);
      for (const w of daemon.warnings) ctx.warn(`warning: ${w}`);
      for (const line of daemon.orphans) ctx.print(`  ${line}`);
      ctx.print('Ctrl-C drains and stops the app.');
      // The router answers 503 until a service's instances are ready: say when each one is.
      const readiness = new ReadinessReport({ print: (line) => say(() => ctx.print(line)), startedAtMs });
      const look = () => {
        for (const v of daemon.controller.list()) readiness.see(v, Date.now());
      };
      const unwatch = daemon.controller.subscribe(({ view }) => view && readiness.see(view, Date.now()));
      const lookAgain = setTimeout(look, 20_500);
      look();
      await new Promise<void>((done) => {
        const stop = () => {
          unwatch();
          clearTimeout(lookAgain);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          // Output is best effort here: a failed write must not keep the app from being stopped.
          say(() => ctx.print('stopping: draining instances…'));
          // Each step runs whatever happened to the one before: a failing API close must not leave the app running.
          void api
            .close()
            .catch(() => undefined)
            .then(() => daemon.stop({ stopInstances: true }))
            .finally(() => {
              if (registered) {
                try {
                  unregisterDaemon(ctx.io.env, process.pid);
                } catch {
                  // A stale entry is ignored once this pid is gone.
                }
              }
              return rm(resolve(stateDir, 'daemon.json'), { force: true });
            })
            .then(done, done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      say(() => ctx.print('stopped.'));
    });

  program
    .command('apply')
    .description('Apply an App file: a changed service template creates a revision and starts its rollout.')
    .requiredOption('-f, --file <file>', 'the App file')
    .option('--state-dir <dir>', 'state directory of the daemon')
    .option('--prune', 'remove services the daemon runs but the file does not name, with their history (needed when the App name differs)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  graylane apply -f graylane.yaml && graylane status api --wait')
    .action(async (o: { file: string; stateDir?: string; json?: boolean; prune?: boolean }) => {
      let text: string;
      try {
        text = await readFile(o.file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${o.file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, EXIT.usage);
      }
      const result = await ctx.client(o).apply(text, resolve(o.file), { prune: o.prune });
      if (o.json) return ctx.print(JSON.stringify(result, null, 2));
      for (const w of result.warnings) ctx.warn(`warning: ${w}`);
      for (const s of result.services) ctx.print(`${s.name}: revision #${s.revisionNumber} (${s.revision}) ${s.change}`);
      for (const name of result.removed) ctx.print(`${name}: removed, with its history`);
    });
}
