/**
 * A hook on Kubernetes runs as a Job. A hook given as a bare `command` (so that one document works
 * on a single host and on a cluster) becomes a Job made from the NEW revision's pod template: the
 * same image, environment, volumes and service account the new code gets, its first container's
 * command replaced by the hook's. Pure: the cluster root calls it on the template of a hook's run
 * before handing the run to the `job` metric provider.
 */
import type { AnalysisTemplateSpec, Metric } from './schema.js';

/** Labels every hook Job and its pods carry (and nothing of the app's, see below). */
export const HOOK_LABEL = 'graylane.dev/hook';
export const HOOK_ROLLOUT_LABEL = 'graylane.dev/rollout';
export const HOOK_REVISION_LABEL = 'graylane.dev/revision';

/** The pod template cannot carry a hook: it has no container to run the command in. */
export class HookJobError extends Error {
  override readonly name = 'HookJobError';
  readonly code = 'HookPodTemplateInvalid';
}

/** Input of {@link hookJobTemplate}. */
export interface HookJobInput {
  /** The hook run's one-metric template (`StartAnalysisAction.hook.template`). */
  template: AnalysisTemplateSpec;
  /** The new revision's pod template (a PodTemplateSpec, as its ReplicaSet has it). */
  podTemplate: unknown;
  /** The Rollout's name. */
  rollout: string;
  /** The new revision (pod-template hash). */
  revision: string;
}

type Json = Record<string, unknown>;

/**
 * The hook's template with every `command` metric turned into a `job` metric; `job` metrics (the
 * user's own Job) are left as they are.
 */
export function hookJobTemplate(input: HookJobInput): AnalysisTemplateSpec {
  return { ...input.template, metrics: input.template.metrics.map((m) => (m.provider.command ? { ...m, provider: { job: jobFor(input, m) } } : m)) };
}

function jobFor(input: HookJobInput, metric: Metric): NonNullable<Metric['provider']['job']> {
  const hook = metric.name;
  const command = metric.provider.command!;
  const pod = asObject(structuredClone(input.podTemplate));
  const podSpec = asObject(pod.spec);
  const containers = Array.isArray(podSpec.containers) ? (podSpec.containers as Json[]) : [];
  const first = containers[0];
  if (!first) throw new HookJobError(`${hook} hook: the pod template of revision ${input.revision} has no container to run ${JSON.stringify(command.command)} in`);
  const labels = { [HOOK_LABEL]: hook, [HOOK_ROLLOUT_LABEL]: input.rollout, [HOOK_REVISION_LABEL]: input.revision };
  const env = [
    ...(Array.isArray(first.env) ? (first.env as Json[]) : []).filter((e) => !Object.hasOwn(command.env ?? {}, String(e.name))),
    ...Object.entries(command.env ?? {}).map(([name, value]) => ({ name, value })),
    { name: 'GRAYLANE_HOOK', value: hook }, { name: 'GRAYLANE_REVISION', value: input.revision },
  ];
  // A migration serves nothing: probes would only kill or hold it, ports would only advertise it.
  const { readinessProbe: _r, livenessProbe: _l, startupProbe: _s, ports: _p, args: _a, ...rest } = first;
  const container = { ...rest, command: [...command.command], env };
  const metadata = asObject(pod.metadata);
  return {
    metadata: { labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: command.timeoutSeconds,
      template: {
        // None of the app's labels: the Rollout's Services and ReplicaSets select by them, and
        // the hook's pod must neither get traffic nor count as an instance.
        metadata: { ...(metadata.annotations ? { annotations: metadata.annotations } : {}), labels },
        // Only the first container: the others (proxies, log shippers) would run forever and the Job never finish.
        spec: { ...podSpec, containers: [container], restartPolicy: 'Never' },
      },
    },
  };
}

function asObject(v: unknown): Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}
