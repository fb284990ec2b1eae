/**
 * What Kubernetes refuses in a `job` metric's block (a Job spec with a pod template whose pods
 * end): checked when a document is loaded and again by the job provider, so a template that could
 * never create its Job is rejected at apply time rather than as Error measurements mid-rollout.
 * Pure: it reads the block only.
 */

/** One problem in a job block; `path` is relative to the block (`['spec', 'template', …]`). */
export interface JobBlockIssue {
  /** Field path inside the `job` block. */
  path: (string | number)[];
  /** Why, as a sentence fragment. */
  reason: string;
}

/** The restart policies Kubernetes accepts for a Job's pods: `Always` would never let it end. */
export const JOB_RESTART_POLICIES = ['Never', 'OnFailure'] as const;

type Loose = Record<string, unknown>;

const isRecord = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);
// A field still holding `{{args.x}}` is checked once the run fills it in.
const isTemplated = (v: unknown): boolean => typeof v === 'string' && v.includes('{{');

/** Every problem of a job block, empty when Kubernetes would accept the Job. */
export function jobBlockIssues(block: unknown): JobBlockIssue[] {
  if (!isRecord(block)) return [{ path: [], reason: 'must be an object with a Job spec' }];
  const spec = block.spec;
  if (!isRecord(spec)) return [{ path: ['spec'], reason: 'a Job spec is required' }];
  const out: JobBlockIssue[] = [];
  if (spec.backoffLimit !== undefined && !isTemplated(spec.backoffLimit) && !(Number.isInteger(spec.backoffLimit) && (spec.backoffLimit as number) >= 0)) {
    out.push({ path: ['spec', 'backoffLimit'], reason: `must be an integer ≥ 0, got ${JSON.stringify(spec.backoffLimit)}` });
  }
  const template = spec.template;
  if (!isRecord(template) || !isRecord(template.spec)) {
    out.push({ path: ['spec', 'template', 'spec'], reason: 'a pod template (template.spec with containers) is required' });
    return out;
  }
  const podSpec = template.spec;
  const containers = podSpec.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    out.push({ path: ['spec', 'template', 'spec', 'containers'], reason: 'at least one container is required' });
  } else {
    containers.forEach((c: unknown, i) => {
      if (!isRecord(c)) return out.push({ path: ['spec', 'template', 'spec', 'containers', i], reason: 'must be a container object' });
      for (const field of ['name', 'image'] as const) {
        if (typeof c[field] !== 'string' || c[field] === '') out.push({ path: ['spec', 'template', 'spec', 'containers', i, field], reason: 'required' });
      }
      return undefined;
    });
  }
  const policy = podSpec.restartPolicy;
  if (!isTemplated(policy) && !(JOB_RESTART_POLICIES as readonly unknown[]).includes(policy)) {
    out.push({
      path: ['spec', 'template', 'spec', 'restartPolicy'],
      reason: `must be Never or OnFailure (Kubernetes refuses a Job whose pods restart always), got ${policy === undefined ? 'none' : JSON.stringify(policy)}`,
    });
  }
  return out;
}

/** `spec.template.spec.restartPolicy` style, for messages. */
export function jobBlockPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((at, p) => (typeof p === 'number' ? `${at}[${p}]` : at === '' ? p : `${at}.${p}`), '');
}
