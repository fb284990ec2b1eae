/** A minimal typed emitter for instance changes; a throwing listener cannot break the runtime. */
import type { InstanceChange } from './runtime.js';

export class ChangeEmitter {
  private readonly listeners = new Set<(change: InstanceChange) => void>();

  /** Adds a listener; returns its removal. */
  on(_event: 'change', listener: (change: InstanceChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls every listener with the change. */
  emit(change: InstanceChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // A listener's bug must not stop the runtime's bookkeeping.
      }
    }
  }
}
