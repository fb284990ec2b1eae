/** `graylane demo`: what `npm start` runs (the body lives in demo-run.ts, loaded on use). */
import type { Command } from 'commander';
import { EXIT, CliError, type CliContext } from '../context.js';

interface DemoOptions { keep?: boolean; rate: string; port: string }

/** Registers demo. */
export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('Run the shop example: v1, a canary of v2 under simulated browser users, a broken v3 aborted, then a summary.')
    .option('--keep', 'leave the shop running at the end, for a second terminal to play with (Ctrl-C stops it)')
    .option('--rate <pageLoadsPerSecond>', 'simulated page loads per second', '20')
    .option('--port <port>', 'router port (0: any free port)', '8080')
    .addHelpText('after', '\nExamples:\n  npm start\n  graylane demo --keep    # then, in another terminal: graylane status web --watch --state-dir <printed dir>')
    .action(async (o: DemoOptions) => {
      const rate = Number(o.rate);
      if (!(rate > 0)) throw new CliError(`--rate must be a positive number, not "${o.rate}"`, EXIT.usage);
      const { runDemo } = await import('./demo-run.js');
      await runDemo(ctx, { keep: o.keep === true, rate, port: Number(o.port) });
    });
}

