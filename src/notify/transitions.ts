/**
 * Which controller events are transitions people are told of. The core already says everything
 * as events with reasons (the engine's and the release loop's); this reads them rather than
 * teaching the core about notifications.
 */
import type { NotificationTransition } from './notification.js';

const BY_REASON: Readonly<Record<string, NotificationTransition>> = {
  RolloutStarted: 'started',
  RolloutSuperseded: 'started',
  ReleaseStarted: 'started',
  RolloutStepCompleted: 'step',
  RolloutPaused: 'paused',
  RolloutPromoted: 'promoted',
  RolloutPromotedFull: 'promoted',
  ReleasePromoted: 'promoted',
  RolloutAborted: 'aborted',
  ReleaseAborted: 'aborted',
  ProgressDeadlineExceeded: 'degraded',
  RollbackToStable: 'rolled-back',
  RollbackWithinWindow: 'rolled-back',
  RollbackToWarmRevision: 'rolled-back',
  Undo: 'rolled-back',
  RolloutCompleted: 'completed',
  ReleaseCompleted: 'completed',
};

/** The transition an event reason stands for, or undefined for events that are no transition. */
export function transitionOf(reason: string): NotificationTransition | undefined {
  return Object.hasOwn(BY_REASON, reason) ? BY_REASON[reason] : undefined;
}

/** Whether a reason is a release's (its subject is the release, not a service). */
export function isReleaseReason(reason: string): boolean {
  return reason.startsWith('Release');
}
