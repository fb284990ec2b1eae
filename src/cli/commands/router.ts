/**
 * `graylane router --config router.yaml`: graylane's HTTP router on its own, its route table
 * from the file, managed through its admin API (or by editing the file and sending SIGHUP).
 */
import type { Command } from 'commander';
import { createRouter, loadRouterConfig, RouterError, type RouterConfig } from '../../router/index.js';
import { CliContext, CliError, EXIT } from '../context.js';

function defaultContext(): CliContext {
  return new CliContext({
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    isTty: process.stdout.isTTY === true,
    env: process.env,
    cwd: process.cwd(),
  });
}

async function load(file: string, ctx: CliContext): Promise<RouterConfig> {
  try {
    return await loadRouterConfig(file, ctx.io.env);
  } catch (err) {
    if (err instanceof RouterError) {
      const [first, ...rest] = err.message.split('\n');
      throw new CliError(first ?? err.message, EXIT.usage, rest.map((l) => l.trimStart()).map((l) => `  ${l}`));
    }
    throw err;
  }
}

/** Registers `graylane router`. */
export function registerRouterCommand(program: Command, ctx: CliContext = defaultContext()): void {
  program
    .command('router')
    .description('Run graylane\'s HTTP router on its own: routes, weights, matches and mirroring from a YAML file; admin API on loopback.')
    .requiredOption('-c, --config <file>', 'router config (listen, admin, timeouts, services)')
    .option('--check', 'validate the config and exit')
    .addHelpText('after', `
Signals: SIGTERM/SIGINT drain and stop (drainTimeoutMs); SIGHUP reloads the services from the file.
Admin API (Authorization: Bearer <token>): GET/PUT /routes, GET /stats?service=&revision=&window=30s, GET /metrics.

Examples:
  graylane router --config router.yaml
  graylane router --config router.yaml --check`)
    .action(async (opts: { config: string; check?: boolean }) => {
      const config = await load(opts.config, ctx);
      if (opts.check) {
        ctx.print(`${opts.config}: ok, ${config.routes.services.length} service(s)`);
        return;
      }
      const router = createRouter(config);
      const { url, adminUrl } = await router.start();
      router.on('event', (e) => ctx.warn(`${new Date(e.atMs).toISOString()} ${e.type} ${e.service}/${e.revision}/${e.instance} ${e.address}${e.reason ? `: ${e.reason}` : ''}`));
      ctx.print(`graylane router listening on ${url}${adminUrl ? `, admin API on ${adminUrl}` : ''}`);
      await new Promise<void>((resolve) => {
        const reload = () => {
          load(opts.config, ctx)
            .then((next) => {
              router.setRouteTable(next.routes);
              ctx.warn(`reloaded ${opts.config}: ${next.routes.services.length} service(s)`);
            })
            .catch((err: unknown) => {
              ctx.warn(`reload failed, keeping the current routes: ${(err as Error).message}`);
              if (err instanceof CliError) for (const d of err.details) ctx.warn(d);
            });
        };
        const stop = (signal: NodeJS.Signals) => {
          process.off('SIGHUP', reload);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          ctx.warn(`${signal}: draining (up to ${config.drainTimeoutMs ?? 30_000} ms)…`);
          void router.stop().then(resolve);
        };
        process.on('SIGHUP', reload);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      ctx.print('graylane router stopped');
    });
}
