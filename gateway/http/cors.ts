// CORS for the HTTP API, from the same allow-list as websocket upgrades (CHORUS_ALLOWED_ORIGINS), so
// that one setting says which browser origins may talk to Chorus at all.
//
// - An allowed `Origin` is echoed in `Access-Control-Allow-Origin` (`*` when the list is `*`); any
//   other gets no CORS header, and the browser keeps the answer from the page. The request itself
//   is still handled: CORS protects what a page may read, not what a server accepts.
// - Credentials are never allowed (no `Access-Control-Allow-Credentials`): the API authenticates
//   with a bearer token in `Authorization`, never with cookies, so a page must hold the token itself.
// - `Vary: Origin` on every API answer, so that a shared cache never serves one origin's CORS
//   headers to another.
// - Preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered 204 with the methods,
//   request headers and `max-age` below, or 403 `origin_not_allowed` for an origin not on the list.

/** The allow-list as configured: `*` or exact origins (`https://app.example.com`). */
export type AllowedOrigins = '*' | readonly string[];

export const CORS_METHODS = 'GET, POST, PUT, PATCH, DELETE';
/** Request headers a page may send: the token, JSON bodies, and trace correlation. */
export const CORS_REQUEST_HEADERS = 'authorization, content-type, traceparent, x-request-id';
/** Answer headers a page may read beyond the CORS-safelisted ones. */
export const CORS_EXPOSED_HEADERS = 'retry-after, x-trace-id, www-authenticate';
/** How long a browser may cache a preflight answer (Chromium caps it at 2 h). */
export const CORS_MAX_AGE_S = 600;

export function originAllowed(allowed: AllowedOrigins, origin: string): boolean {
  return allowed === '*' || allowed.includes(origin);
}

/** The CORS headers of an ordinary API answer to a request with this `Origin` (or none). */
export function corsHeaders(allowed: AllowedOrigins, origin: string | undefined): [string, string][] {
  const out: [string, string][] = [['vary', 'Origin']];
  if (!origin || !originAllowed(allowed, origin)) return out;
  out.push(['access-control-allow-origin', allowed === '*' ? '*' : origin]);
  out.push(['access-control-expose-headers', CORS_EXPOSED_HEADERS]);
  return out;
}

/** The answer to a preflight: 204 with what may be sent, or 403 for an origin not on the list. */
export function preflight(allowed: AllowedOrigins, origin: string | undefined): { status: 204 | 403; headers: [string, string][] } {
  if (origin && !originAllowed(allowed, origin)) return { status: 403, headers: [['vary', 'Origin']] };
  return {
    status: 204,
    headers: [
      ...corsHeaders(allowed, origin),
      ['access-control-allow-methods', CORS_METHODS],
      ['access-control-allow-headers', CORS_REQUEST_HEADERS],
      ['access-control-max-age', String(CORS_MAX_AGE_S)],
      ['allow', `${CORS_METHODS}, OPTIONS`],
    ],
  };
}
