/**
 * Template equality for adopting Argo Rollouts' ReplicaSets (`--argo-rollouts`): a revision whose
 * pod template equals an existing ReplicaSet's keeps that ReplicaSet, so no pod is restarted when
 * graylane takes over from Argo's controller. Argo compares the same way (its hash differs from
 * graylane's, so the hash cannot be the test): the `rollouts-pod-template-hash` label is ignored,
 * the desired template gets the API server's defaults (the stored one has them), and an absent
 * field equals an empty one.
 */
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import { POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';

type Loose = Record<string, unknown>;

function isRecord(v: unknown): v is Loose {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

function defaultProbe(probe: unknown): void {
  if (!isRecord(probe)) return;
  probe.timeoutSeconds ??= 1;
  probe.periodSeconds ??= 10;
  probe.successThreshold ??= 1;
  probe.failureThreshold ??= 3;
  if (isRecord(probe.httpGet)) probe.httpGet.scheme ??= 'HTTP';
}

function defaultContainer(c: unknown): void {
  if (!isRecord(c)) return;
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  // The server's rule: an untagged or `latest` image is pulled every time.
  const image = typeof c.image === 'string' ? c.image : '';
  const tagged = /:[^/]+$/.test(image) || image.includes('@');
  c.imagePullPolicy ??= !tagged || image.endsWith(':latest') ? 'Always' : 'IfNotPresent';
  for (const p of Array.isArray(c.ports) ? c.ports : []) if (isRecord(p)) p.protocol ??= 'TCP';
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) defaultProbe(probe);
}

/** The pod template as the API server stores it: its defaults filled in (a copy; `template` is not changed). */
export function withServerDefaults(template: V1PodTemplateSpec): Loose {
  const copy = structuredClone(template) as unknown as Loose;
  if (!isRecord(copy.spec)) copy.spec = {};
  const spec = copy.spec as Loose;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  for (const list of [spec.containers, spec.initContainers]) for (const c of Array.isArray(list) ? list : []) defaultContainer(c);
  // The deprecated alias the server copies from serviceAccountName: never in what a user wrote.
  delete spec.serviceAccount;
  if (isRecord(copy.metadata) && isRecord(copy.metadata.labels)) {
    const labels = { ...copy.metadata.labels };
    delete labels[POD_TEMPLATE_HASH_LABEL];
    copy.metadata = { ...copy.metadata, labels };
  }
  return copy;
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).every((k) => isEmpty(v[k])));
}

/** Deep equality where an absent field, null, `{}` and `[]` are all the same (as Go's semantic equality has it). */
function semanticEqual(a: unknown, b: unknown): boolean {
  if (isEmpty(a) && isEmpty(b)) return true;
  if (a instanceof Date || b instanceof Date) return new Date(a as Date).getTime() === new Date(b as Date).getTime();
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => semanticEqual(x, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => semanticEqual(a[k], b[k]));
  }
  return a === b;
}

/**
 * Whether a ReplicaSet's stored pod template (`live`) runs the same pods as the Rollout's
 * template (`desired`), the pod-template-hash label aside.
 */
export function samePodTemplate(live: V1PodTemplateSpec | undefined, desired: V1PodTemplateSpec): boolean {
  if (live === undefined) return false;
  return semanticEqual(withServerDefaults(live), withServerDefaults(desired));
}
