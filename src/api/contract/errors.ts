/**
 * The API's errors: every code, the HTTP status it is answered with, and the body's shape
 * (a code, a sentence that says what to do, and details, one line each).
 */
import { Type, type Static } from '@sinclair/typebox';

/** Why a control-plane call failed (the controller's codes). */
export type ControlPlaneErrorCode = 'NotFound' | 'InvalidOperation' | 'ValidationFailed' | 'Conflict' | 'Internal';

/** Every code the API answers with, beside the controller's: the server's own and the state's. */
export type ApiErrorCode = ControlPlaneErrorCode | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'TooManyRequests' | 'StateDirFull' | 'StateWriteFailed';

/** The HTTP status of each code. */
export const HTTP_STATUS_OF: Record<ApiErrorCode, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  TooManyRequests: 429,
  NotFound: 404,
  InvalidOperation: 409,
  Conflict: 409,
  ValidationFailed: 422,
  Internal: 500,
  StateDirFull: 503,
  StateWriteFailed: 503,
};

/** What each status means, for the OpenAPI document. */
export const STATUS_MEANING: Record<number, string> = {
  400: 'the request body or a parameter is malformed; the message names the field and the reason',
  401: 'missing or wrong token, or no console session (sign in again)',
  403: 'a console change without the session\'s CSRF token (header x-graylane-csrf), or from another origin',
  404: 'no such service, release or endpoint',
  409: 'the operation makes no sense in the current state, or the status moved on since expectedVersion (the message says what changed)',
  422: 'the document is invalid; details has one line per error',
  429: 'too many wrong tokens lately: wait the seconds Retry-After says',
  500: 'the daemon failed; the message says how',
  503: 'the daemon cannot write its state (e.g. the state directory is full); nothing was changed',
};

/** The body of every error answer. */
export const ErrorBodySchema = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'machine-readable code: BadRequest, Unauthorized, Forbidden, TooManyRequests, NotFound, InvalidOperation, Conflict, ValidationFailed, Internal, StateDirFull, StateWriteFailed' }),
    message: Type.String({ description: 'a sentence that says what went wrong and what to do' }),
    details: Type.Optional(Type.Array(Type.String(), { description: 'extra lines (validation errors one per line)' })),
    field: Type.Optional(Type.String({ description: 'of a BadRequest: the field of the body at fault, as a JSON pointer' })),
  }),
});

/** See {@link ErrorBodySchema}. */
export type ErrorBody = Static<typeof ErrorBodySchema>;
