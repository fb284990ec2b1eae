/**
 * The contract's schemas that values are checked against at run time: every endpoint's body and
 * answer, the error body and the event stream's items. Their validators are generated from this
 * list, in this order (`npm run gen:contract`, validators.generated.ts).
 */
import type { TSchema } from '@sinclair/typebox';
import { ENDPOINTS } from './endpoints.js';
import { ErrorBodySchema } from './errors.js';
import { EventViewSchema } from './events.js';
import { ServiceViewSchema } from './views.js';

/** Each schema once, in a stable order. */
export const CONTRACT_SCHEMAS: readonly TSchema[] = [...new Set([
  ...ENDPOINTS.flatMap((e) => [e.body, e.response].filter((s): s is TSchema => s !== undefined)),
  ErrorBodySchema,
  EventViewSchema,
  ServiceViewSchema,
])];
