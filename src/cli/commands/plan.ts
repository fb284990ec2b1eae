/** `graylane plan FILE`: the timeline a rollout will follow, from the engine's own rules. */
import type { Command } from 'commander';
import type { RolloutPlan } from '../../engine/index.js';
import type { RolloutSpec } from '../../documents/schema.js';
import { formatDurationMs } from '../../lib/duration.js';
import { CliError, EXIT, type CliContext } from '../context.js';
import { table } from '../render.js';
import { loadOrFail } from './documents.js';

const time = (ms: number) => (Number.isFinite(ms) ? formatDurationMs(ms) : 'a person decides');

function renderPlan(name: string, plan: RolloutPlan): string {
  const lines = [`${name}: ${plan.strategy}, ${plan.replicas} replica${plan.replicas === 1 ? '' : 's'}`];
  lines.push(table([
    ['STEP', 'WHAT', 'NEW', 'STABLE', 'REPLICAS new/stable', 'DONE EARLIEST', 'DONE LATEST', 'WORST ROLLBACK'],
    ...plan.rows.map((r) => [
      r.stepIndex === undefined ? '-' : String(r.stepIndex + 1),
      r.description,
      `${r.canaryWeight}%`,
      `${r.stableWeight}%`,
      `${r.replicas.canary}/${r.replicas.stable}`,
      time(r.earliestFinishMs),
      time(r.latestFinishMs),
      time(r.worstCaseRollbackMs),
    ]),
  ]).replace(/^/gm, '  '));
  lines.push(`  finishes: earliest ${time(plan.earliestFinishMs)}, latest ${time(plan.latestFinishMs)}`);
  lines.push(`  worst case from a failure to all traffic on stable: ${time(plan.worstCaseRollbackMs)} (${plan.rollbackNote})`);
  for (const n of plan.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}

/** Registers plan. */
export function registerPlanCommand(program: Command, ctx: CliContext): void {
  program
    .command('plan <files...>')
    .description('Show the timeline each rollout will follow: weights, replicas, pauses, analyses, finish times and worst-case rollback.')
    .option('--json', 'print JSON')
    .option('--guard-interval <duration>', 'on Kubernetes: the controller\'s --guard-interval', '5s')
    .option('--scrape-interval <duration>', 'on Kubernetes: how often Prometheus scrapes the data plane', '15s')
    .addHelpText('after', '\nExamples:\n  graylane plan graylane.yaml\n  graylane plan rollout.yaml analysis.yaml --json\n  graylane plan istio-rollout.yaml --scrape-interval 30s')
    .action(async (files: string[], o: { json?: boolean; guardInterval: string; scrapeInterval: string }) => {
      const loaded = await loadOrFail(ctx, files);
      const { planRollout } = await import('../../engine/index.js');
      const { rolloutFromAppService } = await import('../../documents/index.js');
      const { planGuardOf } = await import('./plan-guard.js');
      const { parseDurationMs } = await import('../../lib/duration.js');
      const duration = (flag: string, text: string): number => {
        let ms = NaN;
        try {
          ms = parseDurationMs(text);
        } catch { /* said below */ }
        if (!(ms >= 1000)) throw new CliError(`${flag}: "${text}" is not a duration of 1s or more (e.g. 15s)`, EXIT.usage);
        return ms;
      };
      const intervalMs = duration('--guard-interval', o.guardInterval);
      const scrapeIntervalMs = duration('--scrape-interval', o.scrapeInterval);
      const guardOf = (spec: RolloutSpec) => planGuardOf(spec, { intervalMs, scrapeIntervalMs });
      const templates = loaded.documents.flatMap((d) => (d.kind === 'AnalysisTemplate' || d.kind === 'ClusterAnalysisTemplate' ? [d.doc] : []));
      const targets: { name: string; spec: RolloutSpec }[] = [];
      for (const d of loaded.documents) {
        if (d.kind === 'Rollout') targets.push({ name: d.name, spec: d.doc.spec });
        if (d.kind === 'App') {
          for (const s of d.doc.spec.services) if (s.process) targets.push({ name: s.name, spec: rolloutFromAppService(d.doc, s) });
        }
      }
      if (targets.length === 0) throw new CliError(`${files.join(', ')} has no Rollout and no App service with a process: nothing to plan`, EXIT.usage);
      const plans = targets.map((t) => ({ name: t.name, plan: planRollout({ spec: t.spec, templates, guard: guardOf(t.spec) }) }));
      if (o.json) {
        const finite = (_k: string, v: unknown) => (v === Infinity ? null : v);
        return ctx.print(JSON.stringify({ plans }, finite, 2));
      }
      ctx.print(plans.map((p) => renderPlan(p.name, p.plan)).join('\n\n'));
    });
}
