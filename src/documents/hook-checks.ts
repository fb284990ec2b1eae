/**
 * Load-time rules for `hooks` that the schema cannot say: each hook is a command or a Job, Jobs
 * only where there is a cluster to run them, and a prePromotion hook only where there is a last
 * switch to gate.
 */
import type { Hooks, Strategy } from './schema.js';
import type { Issue, PathSegment } from './source.js';

/** Where the hooks run: a Rollout on Kubernetes, or an App service on a single host. */
export interface HookCheckContext {
  /** True for a Rollout (Jobs run), false for an App service (commands only). */
  readonly kubernetes: boolean;
  /** The strategy the hooks gate; absent in an App means a rolling update. */
  readonly strategy: Strategy | undefined;
}

const HOOK_NAMES = ['preRollout', 'prePromotion', 'postPromotion'] as const;

/** Issues of one `hooks` block at `base` (`spec.hooks` or `spec.services[i].hooks`). */
export function checkHooks(hooks: Hooks, base: PathSegment[], ctx: HookCheckContext): Issue[] {
  const out: Issue[] = [];
  const at = (path: PathSegment[], reason: string): Issue => ({ path, reason, code: 'semantic', at: 'value' });
  for (const name of HOOK_NAMES) {
    const hook = hooks[name];
    if (!hook) continue;
    const path = [...base, name];
    if (hook.command && hook.job) out.push(at(path, 'a hook has exactly one of command, job; found both'));
    else if (!hook.command && !hook.job) out.push(at(path, 'a hook has exactly one of command, job; found none'));
    if (hook.job && !ctx.kubernetes) out.push(at([...path, 'job'], 'a Job runs on Kubernetes only; on a single host give the hook a command'));
    if (hook.job && hook.env) out.push(at([...path, 'env'], 'env is for command; put the environment in the Job\'s containers'));
  }
  const canary = ctx.strategy ? ctx.strategy.canary : {};
  if (hooks.prePromotion && canary && (canary.steps ?? []).length === 0) {
    out.push(at([...base, 'prePromotion'], 'a rolling update has no last switch to gate: new instances take traffic as they become ready. Use canary steps or blueGreen, or a preRollout hook'));
  }
  return out;
}
