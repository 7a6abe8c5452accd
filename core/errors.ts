// The error catalog: every error code the API or the websocket can return, in ONE table with its
// HTTP status, whether retrying can help, and where it may be sent. Nothing else pairs a status
// with a code: routes throw AppError, answers written by hand (raw uWS, node:http) come from
// httpError(), websocket frames from gateway/ws/error-frame.ts; each accepts only a code of this
// table that may be sent there.
// docs/errors.md documents the same table; test/unit/errors.unit.test.ts holds them together.

/** The statuses the contract (PROTOCOL.md §2) allows, plus 500 for bugs and 501 (nominal, websocket only). */
type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 501 | 503;

interface ErrorSpec {
  status: ErrorStatus;
  /**
   * The same request (or frame) may succeed later unchanged: clients wait and retry. Everything
   * else needs a change first (a new token, other input) or is a bug.
   */
  retryable: boolean;
  /** Retry-After (seconds) of an answer that names none itself; every 429 and 503 has one. */
  retryAfterS?: number;
  /** Sent as an HTTP answer (routes, refused websocket upgrades, signed /objects URLs, /metrics). */
  http: boolean;
  /**
   * Sent in websocket `error` frames; the close code is the one a flood of refused frames ends
   * with when the last one had this code (PROTOCOL.md §3: 1009 for size, else 1008).
   */
  ws: false | { floodClose: 1008 | 1009 };
}

const WS = { floodClose: 1008 } as const;

export const ERRORS = {
  invalid_json: { status: 400, retryable: false, http: true, ws: WS },
  invalid_request: { status: 400, retryable: false, http: true, ws: WS },
  invalid_cursor: { status: 400, retryable: false, http: true, ws: false },
  invalid_seq: { status: 400, retryable: false, http: true, ws: false },
  unauthorized: { status: 401, retryable: false, http: true, ws: false },
  token_expired: { status: 401, retryable: false, http: true, ws: false },
  forbidden: { status: 403, retryable: false, http: true, ws: false },
  tenant_mismatch: { status: 403, retryable: false, http: true, ws: false },
  not_participant: { status: 403, retryable: false, http: true, ws: WS },
  origin_not_allowed: { status: 403, retryable: false, http: true, ws: false },
  not_found: { status: 404, retryable: false, http: true, ws: false },
  conflict: { status: 409, retryable: false, http: true, ws: false },
  message_deleted: { status: 409, retryable: false, http: true, ws: false },
  upload_closed: { status: 409, retryable: false, http: true, ws: false },
  payload_too_large: { status: 413, retryable: false, http: true, ws: false },
  unsupported_media_type: { status: 415, retryable: false, http: true, ws: false },
  rate_limited: { status: 429, retryable: true, retryAfterS: 1, http: true, ws: WS },
  too_many_connections: { status: 429, retryable: true, retryAfterS: 5, http: true, ws: false },
  dependency_unavailable: { status: 503, retryable: true, retryAfterS: 1, http: true, ws: WS },
  internal: { status: 500, retryable: false, http: true, ws: false },
  // websocket-only codes: the status is nominal, it never reaches the wire
  unknown_type: { status: 400, retryable: false, http: false, ws: WS },
  frame_too_large: { status: 413, retryable: false, http: false, ws: { floodClose: 1009 } },
  not_implemented: { status: 501, retryable: false, http: false, ws: WS },
  feature_disabled: { status: 503, retryable: true, http: false, ws: WS },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;
/** The codes an HTTP answer may carry. */
export type HttpErrorCode = { [C in ErrorCode]: (typeof ERRORS)[C]['http'] extends true ? C : never }[ErrorCode];
/** The codes a websocket `error` frame may carry. */
export type WsErrorCode = { [C in ErrorCode]: (typeof ERRORS)[C]['ws'] extends false ? never : C }[ErrorCode];

/** The catalog entry of a code, widened for readers that iterate (tests, docs). */
export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERRORS[code];
}

export class AppError extends Error {
  readonly status: ErrorStatus;
  /** Seconds, for 429 and 503 (Retry-After): the caller's, else the catalog's default. */
  readonly retryAfterS: number | undefined;
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    retryAfterS?: number,
  ) {
    super(message);
    const spec: ErrorSpec = ERRORS[code];
    this.status = spec.status;
    this.retryAfterS = retryAfterS ?? spec.retryAfterS;
  }
}

/** The body of every HTTP error answer. */
export interface ErrorJson {
  error: { code: HttpErrorCode; message: string; details?: Record<string, unknown> };
}

/** An HTTP error answer as the contract shapes it: status, headers (Retry-After, WWW-Authenticate) and body. */
export interface HttpErrorAnswer {
  status: ErrorStatus;
  headers: Record<string, string>;
  body: ErrorJson;
}

export function httpError(err: AppError): HttpErrorAnswer;
export function httpError(code: HttpErrorCode, message: string, details?: Record<string, unknown>): HttpErrorAnswer;
export function httpError(e: AppError | HttpErrorCode, message = '', details?: Record<string, unknown>): HttpErrorAnswer {
  const err = e instanceof AppError ? e : new AppError(e, message, details);
  const headers: Record<string, string> = {};
  if (err.retryAfterS !== undefined) headers['retry-after'] = String(err.retryAfterS);
  if (err.status === 401) headers['www-authenticate'] = 'Bearer';
  return { status: err.status, headers, body: errorJson(err.code, err.message, err.details) };
}

function errorJson(code: HttpErrorCode, message: string, details?: Record<string, unknown>): ErrorJson {
  return { error: details ? { code, message, details } : { code, message } };
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
