// The error catalog: every error code the API or the websocket can return, with its HTTP status.
// Handlers throw AppError; the HTTP layer and the websocket turn it into the contract's shapes.
export const ERRORS = {
  invalid_json: 400,
  invalid_request: 400,
  invalid_cursor: 400,
  invalid_seq: 400,
  unauthorized: 401,
  token_expired: 401,
  forbidden: 403,
  tenant_mismatch: 403,
  not_participant: 403,
  origin_not_allowed: 403,
  not_found: 404,
  conflict: 409,
  message_deleted: 409,
  upload_closed: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  too_many_connections: 429,
  dependency_unavailable: 503,
  internal: 500,
  // websocket-only codes (sent in `error` frames)
  unknown_type: 400,
  frame_too_large: 413,
  not_implemented: 501,
  feature_disabled: 503,
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    /** Seconds, for 429 and 503 (Retry-After). */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.status = ERRORS[code];
  }
}

export function errorBody(code: string, message: string, details?: Record<string, unknown>): string {
  return JSON.stringify({ error: details ? { code, message, details } : { code, message } });
}

/** Errors from Redis or Postgres connectivity: answered 503 with Retry-After, never 500. */
export function isDependencyError(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.name === 'DeadlineExceeded') return true;
  const code = e.code ?? '';
  return (
    // Object storage too: a full or failing disk, an S3 outage (SDK error names) are not the request's fault.
    ['EIO', 'ENOSPC', 'EMFILE', 'ENFILE', 'EAI_AGAIN'].includes(code) ||
    ['ServiceUnavailable', 'SlowDown', 'InternalError', 'RequestTimeout', 'TimeoutError'].includes(e.name ?? '') ||
    ['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'ETIMEDOUT', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_ENDED',
      'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', '57P01', '57P03', '53300'].includes(code) ||
    e.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN/.test(e.message ?? '')
  );
}
