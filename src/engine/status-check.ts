import type { RolloutStatus } from './types.js';

const PHASES = new Set(['Healthy', 'Progressing', 'Paused', 'Degraded', 'Completed']);

type Shape = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'string?' | 'number?';

const FIELDS: [keyof RolloutStatus, Shape][] = [
  ['stableRevision', 'string?'], ['canaryRevision', 'string?'], ['currentStepIndex', 'number'], ['abort', 'boolean'],
  ['promoteFull', 'boolean'], ['pauseConditions', 'array'], ['controllerPause', 'boolean'], ['weights', 'object'],
  ['headerRoutes', 'array'], ['mirrorRoutes', 'array'], ['blueGreen', 'object'], ['scaleDownDeadlines', 'array'],
  ['progress', 'object'], ['analysisRuns', 'array'], ['attempt', 'number'], ['abortedAtMs', 'number?'], ['manualWeight', 'number?'],
];

function fits(value: unknown, shape: Shape): boolean {
  if (shape.endsWith('?') && (value === undefined || value === null)) return true;
  const want = shape.replace('?', '');
  if (want === 'array') return Array.isArray(value);
  if (want === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  if (want === 'number') return typeof value === 'number' && Number.isFinite(value);
  return typeof value === want;
}

/**
 * Why a stored value is not a rollout status the engine can run on, or undefined when it is. A
 * status that only looks like one would make the engine act on nonsense; the daemon refuses it.
 */
export function statusProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not an object';
  const s = value as Record<string, unknown>;
  if (!PHASES.has(s.phase as string)) return `phase ${JSON.stringify(s.phase)} is not one of ${[...PHASES].join(', ')}`;
  for (const [field, shape] of FIELDS) {
    if (!fits(s[field], shape)) return `${field} is ${JSON.stringify(s[field]) ?? 'missing'}, not ${shape.endsWith('?') ? `a ${shape.slice(0, -1)} or absent` : `a${shape === 'array' || shape === 'object' ? 'n' : ''} ${shape}`}`;
  }
  const weights = s.weights as Record<string, unknown>;
  if (!fits(weights.canary, 'number') || !fits(weights.stable, 'number')) return 'weights must have numbers canary and stable';
  const progress = s.progress as Record<string, unknown>;
  if (!fits(progress.lastProgressMs, 'number') || !fits(progress.fingerprint, 'string') || !fits(progress.deadlineExceeded, 'boolean')) {
    return 'progress must have lastProgressMs, fingerprint and deadlineExceeded';
  }
  return undefined;
}
