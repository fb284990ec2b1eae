/** Commands that read or operate a rollout through the daemon. */
import type { Command } from 'commander';
import type { ApiClient } from '../../api/client.js';
import { clusterOptions } from '../cluster/cluster-target.js';
import type { Operation } from '../../controller/control-plane.js';
import type { GuardFiguresView, ServiceView } from '../../controller/view-model.js';
import { CliError, EXIT, type CliContext } from '../context.js';
import type { ClusterFlags } from '../cluster/cluster-target.js';
import { renderList, renderStatus, table } from '../render.js';
import { renderDataPlane } from '../render-data-plane.js';
import { parseDurationMs } from '../../lib/duration.js';
import { LogStreamError } from '../../api/client.js';

function parseTail(value: string): number {
  if (!/^[0-9]+$/.test(value)) throw new CliError(`--tail must be a number of lines such as 100, not "${value}"`, EXIT.usage);
  return Number(value);
}

/** `--since 5m` (a duration back from now) or `--since 2024-05-01T10:00:00Z` (a time). */
function parseSince(value: string, nowMs: number): number {
  if (/^[0-9]+(ms|s|m|h)?$/.test(value.trim())) return nowMs - parseDurationMs(value);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new CliError(`--since must be a duration such as 10m or a time such as 2024-05-01T10:00:00Z, not "${value}"`, EXIT.usage);
  return ms;
}

interface Common extends ClusterFlags { stateDir?: string; json?: boolean }

const stateDirOption = (cmd: Command) => cmd.option('--state-dir <dir>', 'state directory of the daemon (default: GRAYLANE_STATE_DIR, or the nearest .graylane/)');

/** A verb that reaches the daemon or, with a cluster flag, a Kubernetes cluster. */
const rolloutVerb = (cmd: Command) => clusterOptions(stateDirOption(cmd));

/**
 * The status version an operation is decided on when the person gives one; absent, the client
 * uses the version it reads just before (`RolloutClient.operate`).
 */
function givenVersion(given: string | undefined): number | undefined {
  if (given === undefined) return undefined;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--expected-version must be a whole number (the version of \`graylane status --json\`), not "${given}"`, EXIT.usage);
  return n;
}

/** Registers get, status, promote, pause, resume, abort, retry, undo, restart, set weight, history, analysis, logs. */
export function registerOperationCommands(program: Command, ctx: CliContext): void {
  rolloutVerb(program.command('get'))
    .description('List services and releases with their rollout state.')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  graylane get\n  graylane get --json | jq .services[0].phase')
    .action(async (o: Common) => {
      const client = await ctx.rollouts(o);
      const services = await client.list();
      ctx.print(o.json ? JSON.stringify({ services }, null, 2) : (services.length === 0 && client.noneMessage) || renderList(services));
    });

  rolloutVerb(program.command('status [service]'))
    .description('Show a rollout: step, weights, instances, traffic and analysis; without a service, every one as `get` lists them. Exit 0 healthy, 1 aborted or degraded.')
    .option('--json', 'print JSON')
    .option('-w, --watch', 'keep the view live until Ctrl-C (or until done with --wait)')
    .option('--wait', 'wait until the rollout is done (exit 0) or aborted/degraded (exit 1)')
    .option('--timeout <duration>', 'with --wait: give up after this long (e.g. 10m); exit 1', '10m')
    .addHelpText('after', '\nExamples:\n  graylane status api\n  graylane status api --watch\n  graylane status api --wait --timeout 10m && echo released')
    .action(async (service: string | undefined, o: Common & { watch?: boolean; wait?: boolean; timeout: string }) => {
      const client = await ctx.rollouts(o);
      if (service === undefined) {
        if (o.watch || o.wait) throw new CliError(`--${o.watch ? 'watch' : 'wait'} follows one rollout: name the service, e.g. \`graylane status api ${o.watch ? '--watch' : '--wait'}\` (\`graylane status\` lists them)`, EXIT.usage);
        const services = await client.list();
        // An older daemon has no such endpoint: the services are what was asked for.
        const dataPlane = await client.dataPlane?.().catch(() => undefined);
        const list = (services.length === 0 && client.noneMessage) || renderList(services);
        ctx.print(o.json ? JSON.stringify({ services, ...(dataPlane && { dataPlane }) }, null, 2) : dataPlane ? `${list}\n\n${renderDataPlane(dataPlane)}` : list);
        ctx.exitCode = services.some((v) => v.phase === 'Degraded' || v.stateWrites) ? EXIT.degraded : EXIT.ok;
        return;
      }
      const show = (v: ServiceView) => ctx.print(o.json ? JSON.stringify(v) : renderStatus(v));
      const first = await client.get(service);
      if (!o.watch && !o.wait) {
        show(first);
        ctx.exitCode = first.phase === 'Degraded' || first.stateWrites ? EXIT.degraded : EXIT.ok;
        return;
      }
      let timeoutMs: number;
      try {
        timeoutMs = parseDurationMs(o.timeout);
      } catch (err) {
        throw new CliError(`--timeout: ${(err as Error).message}`, EXIT.usage);
      }
      const abort = new AbortController();
      const timer = o.wait ? setTimeout(() => abort.abort(), timeoutMs) : undefined;
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      let last = first;
      const draw = (v: ServiceView) => {
        if (o.watch && ctx.io.isTty && !o.json) ctx.io.out('\x1b[2J\x1b[H');
        show(v);
      };
      draw(first);
      // The view says when nothing moves on any more (done, or degraded): the daemon decides it once for every client.
      const done = (v: ServiceView) => o.wait === true && v.terminal;
      try {
        if (!done(first)) {
          for await (const view of client.watch(service, abort.signal)) {
            last = view;
            if (o.watch) draw(last);
            if (done(last)) break;
          }
        }
      } finally {
        clearTimeout(timer);
        process.off('SIGINT', stop);
      }
      if (!o.watch && o.wait) show(last);
      if (o.wait && !done(last)) throw new CliError(`${service} did not finish within ${o.timeout}: it is ${last.phase} at step ${last.step}/${last.steps}`, EXIT.degraded);
      ctx.exitCode = last.phase === 'Degraded' ? EXIT.degraded : EXIT.ok;
    });

  const op = (name: string, description: string, build: (o: Record<string, unknown>) => Operation, extra?: (c: Command) => Command, example = '') => {
    let cmd = rolloutVerb(program.command(`${name} <service>`)).description(description).option('--json', 'print the new state as JSON')
      .option('--expected-version <n>', 'act only if the status is still this version (the version of `status --json`); default: the version read just before');
    if (extra) cmd = extra(cmd);
    cmd.addHelpText('after', `\nExample:\n  graylane ${name} api${example}`);
    cmd.action(async (service: string, o: Common & Record<string, unknown>) => {
      const v = await (await ctx.rollouts(o)).operate(service, build(o), { expectedVersion: givenVersion(o.expectedVersion as string | undefined) });
      ctx.print(o.json ? JSON.stringify(v, null, 2) : renderStatus(v));
    });
  };
  op('promote', 'Go to the next step (skip a pause or an inconclusive analysis); --full skips every remaining step.', (o) => ({ type: 'promote', full: o.full === true }), (c) => c.option('--full', 'promote to 100% now, skipping the remaining steps'), ' --full');
  op('pause', 'Pause the rollout where it is; traffic stays as it is.', () => ({ type: 'pause' }));
  op('resume', 'Resume a paused rollout.', () => ({ type: 'resume' }));
  op('abort', 'Abort the rollout: 100% of traffic back to stable at once.', () => ({ type: 'abort' }));
  op('retry', 'Retry an aborted rollout from its first step.', () => ({ type: 'retry' }));

  op('undo', 'Roll back to the previous revision (or --to-revision N from `graylane history`).', (o) => {
    if (o.toRevision === undefined) return { type: 'undo' };
    const n = Number(o.toRevision);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`--to-revision must be a revision number such as 2 (see \`graylane history\`), not "${o.toRevision as string}"`, EXIT.usage);
    return { type: 'undo', toRevision: n };
  }, (c) => c.option('--to-revision <n>', 'revision number from `graylane history`'), ' --to-revision 2');
  op('restart', 'Replace every instance of the revision in force with a new one (on Kubernetes: sets spec.restartAt to now).', () => ({ type: 'restart' }));

  const set = program.command('set').description('Set something by hand.');
  rolloutVerb(set.command('weight <service> <percent>'))
    .description('Send PERCENT of traffic to the canary by hand (the console slider; of a release: every member); holds until the next promote.')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  graylane set weight api 50')
    .action(async (service: string, percent: string, o: Common) => {
      // Digits only: Number() would take "" as 0 and "1e1" as 10.
      const n = /^[0-9]{1,3}%?$/.test(percent) ? Number(percent.replace(/%$/, '')) : NaN;
      if (!Number.isInteger(n) || n < 0 || n > 100) throw new CliError(`weight must be a whole number from 0 to 100, not "${percent}"`, EXIT.usage);
      const v = await (await ctx.rollouts(o)).operate(service, { type: 'setWeight', percent: n }, {});
      ctx.print(o.json ? JSON.stringify(v, null, 2) : renderStatus(v));
    });

  rolloutVerb(set.command('header-route <service> <route>'))
    .description('Send requests with a header (or a cookie) to the canary by hand, whatever the weight; replaces a route of that name; --remove takes it away. Holds until a step of that name changes it, or the rollout ends or aborts.')
    .option('--header <name=value>', 'match requests whose header NAME is exactly VALUE')
    .option('--cookie <name=value>', 'match requests whose cookie NAME is exactly VALUE')
    .option('--remove', 'remove the route')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  graylane set header-route web beta --header x-beta=1\n  graylane set header-route web beta --cookie beta=yes\n  graylane set header-route web beta --remove')
    .action(async (service: string, route: string, o: Common & { header?: string; cookie?: string; remove?: boolean }) => {
      const given = [o.header !== undefined, o.cookie !== undefined, o.remove === true].filter(Boolean).length;
      if (given !== 1) throw new CliError('set header-route needs exactly one of --header NAME=VALUE, --cookie NAME=VALUE or --remove', EXIT.usage);
      let match: Extract<Operation, { type: 'setHeaderRoute' }>['match'];
      if (o.header !== undefined) {
        const [name, value] = pair('--header', o.header);
        match = [{ headerName: name, headerValue: { exact: value } }];
      } else if (o.cookie !== undefined) {
        const [name, value] = pair('--cookie', o.cookie);
        match = [{ cookieName: name, cookieValue: { exact: value } }];
      }
      const v = await (await ctx.rollouts(o)).operate(service, { type: 'setHeaderRoute', name: route, ...(match ? { match } : {}) }, {});
      ctx.print(o.json ? JSON.stringify(v, null, 2) : renderStatus(v));
    });

  rolloutVerb(set.command('mirror-route <service> <route>'))
    .description('Copy PERCENT of matching requests to the canary by hand (clients get stable\'s answers); replaces a route of that name; --remove takes it away. Holds until a step of that name changes it, or the rollout ends or aborts.')
    .option('--percent <n>', 'share of matching requests to copy, 1 to 100')
    .option('--path-prefix <prefix>', 'only requests whose path starts with PREFIX (default: every path)')
    .option('--method <method>', 'only requests with this method, e.g. GET')
    .option('--remove', 'remove the route')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  graylane set mirror-route web shadow --percent 100\n  graylane set mirror-route web shadow --percent 10 --path-prefix /api --method GET\n  graylane set mirror-route web shadow --remove')
    .action(async (service: string, route: string, o: Common & { percent?: string; pathPrefix?: string; method?: string; remove?: boolean }) => {
      let operation: Operation;
      if (o.remove === true) {
        if (o.percent !== undefined || o.pathPrefix !== undefined || o.method !== undefined) throw new CliError('set mirror-route --remove takes no --percent, --path-prefix or --method', EXIT.usage);
        operation = { type: 'setMirrorRoute', name: route };
      } else {
        if (o.percent === undefined) throw new CliError('set mirror-route needs --percent N (1 to 100) or --remove', EXIT.usage);
        const n = /^[0-9]{1,3}%?$/.test(o.percent) ? Number(o.percent.replace(/%$/, '')) : NaN;
        if (!Number.isInteger(n) || n < 1 || n > 100) throw new CliError(`--percent must be a whole number from 1 to 100, not "${o.percent}"`, EXIT.usage);
        if (o.pathPrefix !== undefined && !o.pathPrefix.startsWith('/')) throw new CliError(`--path-prefix must start with "/", not "${o.pathPrefix}"`, EXIT.usage);
        if (o.method !== undefined && !/^[A-Za-z]+$/.test(o.method)) throw new CliError(`--method must be an HTTP method such as GET, not "${o.method}"`, EXIT.usage);
        // Without a match a mirror route is removed (Argo's rule): every path is "/" onwards.
        const match = [{ path: { prefix: o.pathPrefix ?? '/' }, ...(o.method === undefined ? {} : { method: { exact: o.method.toUpperCase() } }) }];
        operation = { type: 'setMirrorRoute', name: route, percentage: n, match };
      }
      const v = await (await ctx.rollouts(o)).operate(service, operation, {});
      ctx.print(o.json ? JSON.stringify(v, null, 2) : renderStatus(v));
    });

  rolloutVerb(program.command('history <service>'))
    .description('List the revisions of a service (of a release: of every member, named "member revision"), newest first. Environment values are masked (NAME=***) unless --show-env.')
    .option('--show-env', 'print environment values (they may hold secrets)')
    .option('--json', 'print JSON')
    .action(async (service: string, o: Common & { showEnv?: boolean }) => {
      const revisions = await (await ctx.rollouts(o)).history(service, { showEnv: o.showEnv === true });
      if (o.json) return ctx.print(JSON.stringify({ revisions }, null, 2));
      ctx.print(table([['REVISION', 'NAME', 'ROLE', 'CREATED', 'CHANGE'], ...revisions.map((r) => [`#${r.number}`, r.name, r.role, new Date(r.createdAtMs).toISOString(), r.summary])]));
    });

  rolloutVerb(program.command('analysis <service>'))
    .description('Show analysis runs and their measurements (of a release: every member\'s, named "member/run"; on a cluster: the Rollout\'s AnalysisRuns).')
    .option('--json', 'print JSON')
    .action(async (service: string, o: Common) => {
      const runs = await (await ctx.rollouts(o)).analysis(service);
      if (o.json) return ctx.print(JSON.stringify({ runs }, null, 2));
      if (runs.length === 0) return ctx.print(`no analysis runs for ${service}`);
      for (const run of runs) {
        ctx.print(`${run.kind === 'guard' ? 'guard' : run.name}  ${run.phase}  started ${new Date(run.startedAtMs).toISOString()}${run.message ? `  ${run.message}` : ''}`);
        if (run.guard) for (const line of guardFigures(run.guard)) ctx.print(`  ${line}`);
        for (const m of run.metrics) {
          const values = m.measurements.slice(-10).map((x) => `${x.phase[0]}:${JSON.stringify(x.value)}`).join(' ');
          ctx.print(`  ${m.name}  ${m.phase}  ${values}`);
        }
      }
    });

  stateDirOption(program.command('logs <service>'))
    .description('Print the logs of a service\'s instances, streamed (any size, bounded memory); of a release: every member\'s, each line prefixed "member | ".')
    .option('--revision <revision>', 'only this revision (name or number)')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--tail <n>', 'only the last N lines of each instance')
    .option('--since <duration|time>', 'only lines written in the last DURATION (30s, 5m, 1h) or since TIME (2024-05-01T10:00:00Z); exact to about a second')
    .addHelpText('after', '\nExamples:\n  graylane logs api --tail 100\n  graylane logs api --since 10m -f')
    .action(async (service: string, o: Common & { revision?: string; follow?: boolean; tail?: string; since?: string }) => {
      const tailLines = o.tail === undefined ? undefined : parseTail(o.tail);
      const sinceMs = o.since === undefined ? undefined : parseSince(o.since, Date.now());
      const client = ctx.client(o);
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      const known = o.revision === undefined ? undefined : await knownRevision(client, service, o.revision);
      if (known === false && /^[0-9]+$/.test(o.revision!)) throw noSuchRevision(service, o.revision!);
      let printed = false;
      try {
        for await (const text of client.logs(service, { revision: o.revision, follow: o.follow, tailLines, sinceMs, signal: abort.signal })) {
          printed ||= text.length > 0;
          ctx.io.out(text);
        }
        // A name history does not know may still have logs kept on disk; only silence is an error.
        if (known === false && !printed) throw noSuchRevision(service, o.revision!);
      } catch (err) {
        // A stream cut because the daemon went away says so (exit 3), like every other command.
        if (err instanceof LogStreamError && !(await client.healthy())) throw client.wentAway();
        if (err instanceof LogStreamError) throw new CliError(err.message, EXIT.degraded);
        throw err;
      } finally {
        process.off('SIGINT', stop);
      }
    });
}

/** Whether `graylane history` knows a revision by number or name. */
async function knownRevision(client: ApiClient, service: string, revision: string): Promise<boolean> {
  const { revisions } = await client.history(service);
  // A release names its members' revisions "member name".
  return revisions.some((r) => String(r.number) === revision || r.name === revision || r.name.endsWith(` ${revision}`));
}

function noSuchRevision(service: string, revision: string): CliError {
  return new CliError(`${service} has no revision ${/^[0-9]+$/.test(revision) ? '#' : ''}${revision}: \`graylane history ${service}\` lists its revisions`, EXIT.usage);
}

/** The figures a guard verdict was reached on, one line per test. */
function guardFigures(g: GuardFiguresView): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const side = (what: string, s: GuardFiguresView['canary']) => `${what}: ${s.requests} requests, ${s.errors} failed (${pct(s.errorRate)})`;
  const lines = [`errors${g.failedOn === 'errors' ? ' (failed)' : ''}  ${side(`canary ${g.canaryRevision}`, g.canary)}; ${side('stable', g.stable)}`];
  if (g.latency) lines.push(`latency${g.failedOn === 'latency' ? ' (failed)' : ''}  slower than ${g.latency.thresholdMs} ms: canary ${pct(g.latency.canarySlowRate)}, stable ${pct(g.latency.stableSlowRate)}`);
  else lines.push('latency  not judged yet (the slow threshold is fixed from stable first)');
  return lines;
}

/** NAME=VALUE of a route option, split at the first "=". */
function pair(option: string, text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0 || at === text.length - 1) throw new CliError(`${option} takes NAME=VALUE, e.g. ${option} x-beta=1; not "${text}"`, EXIT.usage);
  return [text.slice(0, at), text.slice(at + 1)];
}
