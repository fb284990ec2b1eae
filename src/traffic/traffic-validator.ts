/** The validate half of a traffic provider, for providers whose adapter has not arrived yet. */
import type { TrafficProvider } from './traffic-provider.js';

/**
 * What the document loader needs of a provider: its type, what it can do, and the check of a
 * spec's configuration. Every {@link TrafficProvider} is one; a provider registered with only this
 * half validates documents but cannot be asked to apply anything.
 */
export type TrafficValidator = Pick<TrafficProvider, 'type' | 'capabilities' | 'validate'>;
