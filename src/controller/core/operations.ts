/**
 * The one operation vocabulary of the controller core: the engine's. The CLI, the API and the
 * console name operations as people type them (`promote --full`, `set weight 30`); they are
 * mapped here, once, onto the engine's operations, plus the two the engine leaves to the
 * controller: undo (a new desired revision, then a reconcile) and restart.
 */
import type { UserOperation } from '../../engine/index.js';
import type { Operation as ApiOperation } from '../control-plane.js';

/** Undo: the caller sets the desired revision back (to `toRevision`, or the previous one) and reconciles. */
export interface UndoOperation {
  type: 'undo';
  /** The revision number to go back to; absent: the stable one during a rollout, or the one before. */
  toRevision?: number | undefined;
}

/** Restart: new instances of the revision in force. */
export interface RestartOperation {
  type: 'restart';
}

/** What the core does for a person's operation on a rollout or a release. */
export type CoreOperation = UserOperation | UndoOperation | RestartOperation;

/** Maps an operation as the API names it onto the core's (the engine's) vocabulary. Pure. */
export function fromApiOperation(operation: ApiOperation): CoreOperation {
  switch (operation.type) {
    case 'promote':
      return operation.full ? { type: 'promoteFull' } : { type: 'promote' };
    case 'setWeight':
      return { type: 'setWeight', weight: operation.percent };
    case 'undo':
      return operation.toRevision === undefined ? { type: 'undo' } : { type: 'undo', toRevision: operation.toRevision };
    case 'setHeaderRoute':
      return { type: 'setHeaderRoute', name: operation.name, ...(operation.match === undefined ? {} : { match: operation.match }) };
    case 'setMirrorRoute':
      return {
        type: 'setMirrorRoute', name: operation.name,
        ...(operation.percentage === undefined ? {} : { percentage: operation.percentage }),
        ...(operation.match === undefined ? {} : { match: operation.match }),
      };
    case 'pause':
    case 'resume':
    case 'abort':
    case 'retry':
    case 'restart':
      return { type: operation.type };
  }
}

