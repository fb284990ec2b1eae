import { GRAYLANE_VERSION } from './install/install-names.js';
import { Command, CommanderError } from 'commander';
import { ApiError, ContractViolationError, DaemonUnreachableError } from '../api/client.js';
import { CliContext, CliError, EXIT, type CliIo } from './context.js';
import { ClusterUnreachableError } from './cluster/cluster-errors.js';
import { registerOperationCommands } from './commands/operations.js';
import { registerDocumentCommands } from './commands/documents.js';
import { registerDaemonCommands } from './commands/daemon.js';
import { registerPlanCommand } from './commands/plan.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerInstallCommand } from './commands/install.js';
import { registerControllerCommand } from './commands/controller-command.js';
import { registerDashboardCommand } from './commands/dashboard.js';
import { registerTokenCommand } from './commands/token.js';

const VERSION = GRAYLANE_VERSION;

/** Builds the command tree; exported so tests and `--help` share one definition. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('graylane')
    .description('Progressive delivery without a failed request: canary, blue-green, rolling updates and releases of a frontend with its backends.')
    .version(VERSION)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) })
    .addHelpText('after', `
Examples:
  graylane up -f graylane.yaml          run the router, controller and API in the foreground
  graylane apply -f graylane.yaml       roll out what changed
  graylane status api --watch           follow a rollout live
  graylane promote api                  go to the next step
  graylane validate rollout.yaml        check documents (exit 2 on errors)
  graylane plan rollout.yaml            show the timeline a rollout will follow`);
  registerDocumentCommands(program, ctx);
  registerPlanCommand(program, ctx);
  registerDaemonCommands(program, ctx);
  registerDemoCommand(program, ctx);
  registerOperationCommands(program, ctx);
  registerInstallCommand(program, ctx);
  registerControllerCommand(program, ctx);
  registerDashboardCommand(program, ctx);
  registerTokenCommand(program, ctx);
  for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
  return program;
}

/** Runs the CLI with argv (without node and script) and resolves to the process exit code. */
export async function main(argv: string[], io?: Partial<CliIo>): Promise<number> {
  const closed = { out: false, err: false };
  const ctx = new CliContext({
    out: (s) => void (closed.out || process.stdout.write(s)),
    err: (s) => void (closed.err || process.stderr.write(s)),
    isTty: process.stdout.isTTY === true,
    env: process.env,
    cwd: process.cwd(),
    ...io,
  });
  if (!io?.out) guardOutput(process.stdout, () => {
    if (closed.out) return;
    closed.out = true;
    if (ctx.onOutputClosed) ctx.onOutputClosed();
    else if (!ctx.keepRunningWhenOutputCloses) process.exit(EXIT.ok);
  });
  if (!io?.err) guardOutput(process.stderr, () => void (closed.err = true));
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    return reportError(ctx, err);
  }
}

/**
 * A reader that went away (`graylane logs api | head`, a `tee` killed by Ctrl-C) makes writes
 * fail with EPIPE, emitted as an 'error' event that would otherwise end the process with a stack
 * trace, and a daemon with it, leaving its app processes orphaned. Later writes are dropped.
 */
function guardOutput(stream: NodeJS.WriteStream, onClosed: () => void): void {
  // Any other failure to write (EIO of a vanished terminal, ENOSPC of a redirect) is no reason to
  // kill a daemon either, and there is nowhere left to report it: all count as "closed".
  stream.on('error', () => onClosed());
}

function reportError(ctx: CliContext, err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof CliError) {
    ctx.warn(`error: ${err.message}`);
    for (const d of err.details) ctx.warn(d);
    return err.exitCode;
  }
  if (err instanceof DaemonUnreachableError || err instanceof ClusterUnreachableError) {
    ctx.warn(`error: ${err.message}`);
    return EXIT.unreachable;
  }
  // A daemon of another version (or a bug) answered outside the contract: one sentence, not a stack.
  if (err instanceof ContractViolationError) {
    ctx.warn(`error: ${err.message}`);
    return EXIT.degraded;
  }
  if (err instanceof ApiError) {
    ctx.warn(`error: ${err.message}`);
    for (const d of err.details) ctx.warn(d);
    return ['ValidationFailed', 'BadRequest', 'NotFound', 'InvalidOperation', 'Unauthorized'].includes(err.code) ? EXIT.usage : EXIT.degraded;
  }
  ctx.warn(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return EXIT.degraded;
}
