/** `graylane token`: the daemon's token, to paste into the console's sign-in. */
import type { Command } from 'commander';
import { readToken } from '../../api/state-dir.js';
import { CliError, EXIT, type CliContext } from '../context.js';

/** Registers token. */
export function registerTokenCommand(program: Command, ctx: CliContext): void {
  program
    .command('token')
    .description('Print the daemon\'s token: sign in to the web console with it (the CLI reads it by itself).')
    .option('--state-dir <dir>', 'state directory of the daemon')
    .addHelpText('after', '\nExample:\n  graylane token            then paste it into the console\'s sign-in')
    .action((o: { stateDir?: string }) => {
      const stateDir = ctx.stateDir({ stateDir: o.stateDir });
      const token = readToken(stateDir);
      if (token === undefined) {
        throw new CliError(`no graylane daemon ran with state dir ${stateDir}: start one with \`graylane up\` (or name its directory with --state-dir)`, EXIT.unreachable);
      }
      // Alone on its line: `graylane token | pbcopy` copies exactly the token.
      ctx.print(token);
    });
}
