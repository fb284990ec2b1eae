/**
 * The in-memory state port the controller core's fixture tests run on passes the same
 * conformance suite as the SQLite adapter, so a fixture test's world commits as the real one does.
 */
import { statePortConformance } from '../state-port.case.test.js';
import { MemoryState } from './memory-state.js';

statePortConformance('memory', () => {
  const state = new MemoryState();
  return { state, recordedEvents: (key) => state.events(key).map(({ atMs, level, reason, message }) => ({ atMs, level, reason, message })) };
});
