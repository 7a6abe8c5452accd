// A small JSON router over uWebSockets.js HTTP. It follows the uWS rules: everything needed from
// `req` is copied before the first await, `onAborted` (and for body routes `onData`) is registered
// before any async work, and every write after an await is corked and skipped when the client went
// away. On routes with auth the token is judged before anything about the body is answered.
// Every answer is `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`; a request whose
// framing is ambiguous (framing.ts) is answered 400 and its connection closed, whatever the route.
import http from 'node:http';
import crypto from 'node:crypto';
import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse, TemplatedApp } from 'uWebSockets.js';
import { AppError, httpError, isDependencyError } from '../../core/errors.js';
import type { Authenticator, Principal } from '../../core/auth.js';
import { AuthFailure, bearer, recordAuthFailure } from '../../core/auth.js';
import type { Logger } from '../../core/logger.js';
import { countHttp } from '../../core/metrics.js';
import { framingError } from './framing.js';
import { tracingOn, withContext } from '../../core/tracing/index.js';
import { endRequestSpan, startRequestSpan, type RequestSpan } from './request-span.js';
import { corsHeaders, preflight, type AllowedOrigins } from './cors.js';

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  params: string[];
  headers: { authorization?: string; contentType?: string; origin?: string; signature?: string };
  /** Parsed JSON body (routes with `body: true`). */
  body: unknown;
  /** Raw body bytes (routes with `body: 'raw'`). */
  rawBody?: Buffer;
  traceId: string;
  /** The request's span while tracing is on (request-span.ts); its context is active in the handler. */
  span?: RequestSpan;
  /** The peer's address as uWS reports it (no proxy header is trusted). */
  remoteAddress: string;
  principal?: Principal;
}

export interface Result {
  status: number;
  body?: unknown;
  /** Pre-serialized body with its content type (metrics text, downloads). */
  text?: { contentType: string; payload: string | Buffer };
  headers?: Record<string, string>;
}

export interface RouteOptions {
  /** Route label for metrics and logs. */
  name: string;
  /** Require a bearer token (default true). */
  auth?: boolean;
  /** Read the body: JSON (true) or raw bytes ('raw'). */
  body?: boolean | 'raw';
  /** Per-route body limit in bytes (default: the router's). */
  maxBody?: number;
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'del';
export type Handler = (req: Request) => Promise<Result>;

export interface RouterDeps {
  app: TemplatedApp;
  auth: Authenticator;
  log: Logger;
  maxBodyBytes: number;
  /** Deadline of one request (config.httpTimeoutMs). */
  timeoutMs: number;
  /** Browser origins allowed to read the answers (cors.ts); the websocket upgrade's list. */
  allowedOrigins: AllowedOrigins;
}

/** A malformed %-escape stays as it is (and then fails the id check with a 400), never throws. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function statusLine(status: number): string {
  return `${status} ${http.STATUS_CODES[status] ?? ''}`;
}

/** Headers of every API answer: never cached (they are per user), never sniffed into another type. */
const SECURITY_HEADERS: [string, string][] = [['cache-control', 'no-store'], ['x-content-type-options', 'nosniff']];

function writeSecurityHeaders(res: UwsResponse, own: Record<string, string> = {}): void {
  for (const [k, v] of SECURITY_HEADERS) if (!(k in own)) res.writeHeader(k, v);
}

function traceIdFrom(traceparent: string, requestId: string, span: RequestSpan | undefined): string {
  const m = /^[\da-f]{2}-([\da-f]{32})-/.exec(traceparent);
  if (m?.[1]) return m[1];
  if (/^[\w-]{8,64}$/.test(requestId)) return requestId;
  return span?.span.spanContext().traceId ?? crypto.randomBytes(16).toString('hex');
}

export class Router {
  constructor(private readonly deps: RouterDeps) {}

  get(pattern: string, o: RouteOptions, h: Handler) { this.add('get', pattern, o, h); }
  post(pattern: string, o: RouteOptions, h: Handler) { this.add('post', pattern, o, h); }
  put(pattern: string, o: RouteOptions, h: Handler) { this.add('put', pattern, o, h); }
  patch(pattern: string, o: RouteOptions, h: Handler) { this.add('patch', pattern, o, h); }
  del(pattern: string, o: RouteOptions, h: Handler) { this.add('del', pattern, o, h); }

  /**
   * JSON 404 for every path no route matched (400 and close when its framing is ambiguous); CORS
   * preflights (`OPTIONS`, which no route registers) are answered here too.
   */
  fallback(): void {
    this.deps.app.any('/*', (res, req) => {
      const framing = framingError(req);
      if (!framing && req.getMethod() === 'options') {
        const p = preflight(this.deps.allowedOrigins, req.getHeader('origin') || undefined);
        const e = p.status === 403 ? httpError('origin_not_allowed', 'origin not allowed') : undefined;
        res.cork(() => {
          res.writeStatus(statusLine(p.status));
          for (const [k, v] of p.headers) res.writeHeader(k, v);
          writeSecurityHeaders(res);
          if (e) res.writeHeader('content-type', 'application/json').end(JSON.stringify(e.body));
          else res.endWithoutBody();
        });
        return;
      }
      const e = framing ? httpError('invalid_request', framing) : httpError('not_found', 'no such route');
      res.cork(() => {
        res.writeStatus(statusLine(e.status)).writeHeader('content-type', 'application/json');
        writeSecurityHeaders(res);
        res.end(JSON.stringify(e.body), !!framing);
      });
    });
  }

  private add(method: Method, pattern: string, o: RouteOptions, handler: Handler): void {
    const paramCount = pattern.split('/').filter((s) => s.startsWith(':')).length;
    const httpMethod = method === 'del' ? 'DELETE' : method.toUpperCase();
    this.deps.app[method](pattern, (res: UwsResponse, ureq: UwsRequest) => {
      const started = process.hrtime.bigint();
      const state = { aborted: false };
      res.onAborted(() => { state.aborted = true; });
      const params: string[] = [];
      for (let i = 0; i < paramCount; i++) params.push(safeDecode(ureq.getParameter(i) ?? ''));
      const traceparent = ureq.getHeader('traceparent');
      const span = tracingOn() ? startRequestSpan(httpMethod, pattern, o.name, traceparent, ureq.getHeader('tracestate')) : undefined;
      const req: Request = {
        method: httpMethod,
        path: ureq.getUrl(),
        query: new URLSearchParams(ureq.getQuery() ?? ''),
        params,
        headers: {
          authorization: ureq.getHeader('authorization') || undefined,
          contentType: ureq.getHeader('content-type') || undefined,
          origin: ureq.getHeader('origin') || undefined,
          signature: ureq.getHeader('x-chorus-signature') || undefined,
        },
        body: undefined,
        traceId: traceIdFrom(traceparent, ureq.getHeader('x-request-id'), span),
        span,
        remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(),
      };
      const framing = { length: ureq.getHeader('content-length'), chunked: ureq.getHeader('transfer-encoding') !== '' };
      const finish = (r: Result, close?: boolean) => this.respond(res, state, req, o, r, started, close);
      const ambiguous = framingError(ureq);
      if (ambiguous) {
        // Where this request ends is unknown: nothing after it on this connection can be trusted.
        finish(this.errorResult(new AppError('invalid_request', ambiguous), req, o), true);
        return;
      }
      if (!o.body) {
        this.run(req, o, handler).then(finish, (err) => finish(this.errorResult(err, req, o)));
        return;
      }
      this.readBody(res, req, o, handler, framing, finish);
    });
  }

  /**
   * A route with a body. A caller the route will refuse (bad or missing token) gets its 401 before
   * any verdict on the body (413, 415, 400 invalid_json), and its body is not kept. uWS drops the
   * chunks that arrive while no onData handler is attached, so reading starts here, synchronously,
   * while the token is verified; whichever of the two settles last decides. Must be called from the
   * uWS handler itself, never after an await.
   */
  private readBody(
    res: UwsResponse, req: Request, o: RouteOptions, handler: Handler, framing: { length: string; chunked: boolean },
    finish: (r: Result, close?: boolean) => void,
  ): void {
    const limit = o.maxBody ?? this.deps.maxBodyBytes;
    const tooLarge = () => new AppError('payload_too_large', `body exceeds ${limit} bytes`);
    // Known from the headers: answered as soon as the caller is known, the body is never kept.
    let refusal: AppError | undefined;
    if (Number(framing.length || 0) > limit) refusal = tooLarge();
    else if (o.body === true && !/^application\/(.+\+)?json\b/i.test(req.headers.contentType ?? '')) {
      refusal = new AppError('unsupported_media_type', 'Content-Type must be application/json');
    }
    // Answering before the whole body arrived leaves the rest in flight: when it may be larger than
    // the limit (chunked, or a larger Content-Length) the connection is closed rather than read to
    // its end; a body declared within the limit is drained by uWS and the connection kept.
    const bounded = !framing.chunked && Number(framing.length || 0) <= limit;
    let caller: 'pending' | 'known' | { err: unknown } = o.auth === false ? 'known' : 'pending';
    const chunks: Buffer[] = [];
    let size = 0;
    let complete = false;
    let decided = false;
    const refuse = (err: unknown) => {
      decided = true;
      chunks.length = 0;
      finish(this.errorResult(err, req, o), !complete && !bounded);
    };
    const decide = () => {
      if (decided || caller === 'pending') return;
      if (caller !== 'known') return refuse(caller.err);
      if (refusal) return refuse(refusal);
      if (!complete) return;
      decided = true;
      const buf = Buffer.concat(chunks);
      chunks.length = 0;
      if (o.body === 'raw') req.rawBody = buf;
      else {
        try {
          req.body = buf.length ? JSON.parse(buf.toString('utf8')) : undefined;
        } catch {
          finish(this.errorResult(new AppError('invalid_json', 'body is not valid JSON'), req, o));
          return;
        }
      }
      this.handle(req, handler).then(finish, (err) => finish(this.errorResult(err, req, o)));
    };
    res.onData((chunk, isLast) => {
      if (!decided && !refusal) {
        size += chunk.byteLength;
        if (size > limit) {
          refusal = tooLarge();
          chunks.length = 0;
        } else chunks.push(Buffer.from(chunk.slice(0))); // uWS reuses and neuters the chunk: keep our own copy, no view
      }
      if (isLast) complete = true;
      decide();
    });
    if (caller === 'pending') {
      // Both outcomes are handled at once: a rejection must never wait unobserved for the body.
      this.deps.auth.verify(bearer(req.headers.authorization)).then(
        (principal) => { req.principal = principal; caller = 'known'; decide(); },
        (err: unknown) => { caller = { err }; decide(); },
      );
    } else decide();
  }

  private async run(req: Request, o: RouteOptions, handler: Handler): Promise<Result> {
    if (o.auth !== false) req.principal = await this.deps.auth.verify(bearer(req.headers.authorization));
    return this.handle(req, handler);
  }

  /** The handler of an authenticated (or public) request, under the request deadline. */
  private async handle(req: Request, handler: Handler): Promise<Result> {
    // A request never hangs: past the deadline it is answered 503 (a write may still land; clients
    // retry with the same clientMessageId and get the first message back).
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`request exceeded ${this.deps.timeoutMs} ms`);
        err.name = 'DeadlineExceeded';
        reject(err);
      }, this.deps.timeoutMs);
    });
    try {
      return await withContext(req.span?.ctx, () => Promise.race([handler(req), deadline]));
    } finally {
      clearTimeout(timer);
    }
  }

  private errorResult(err: unknown, req: Request, o: RouteOptions): Result {
    const ctx = { trace_id: req.traceId, route: o.name, tenant_id: req.principal?.tenantId, user_id: req.principal?.userId };
    if (err instanceof AuthFailure) recordAuthFailure(this.deps.log, 'http', err, { ...ctx, ip: req.remoteAddress });
    if (err instanceof AppError) return httpError(err);
    if (isDependencyError(err)) {
      this.deps.log.warn({ ...ctx, err }, 'dependency unavailable');
      return httpError('dependency_unavailable', 'a dependency is unavailable, retry later');
    }
    this.deps.log.error({ ...ctx, err }, 'request failed');
    return httpError('internal', 'internal error');
  }

  private respond(
    res: UwsResponse, state: { aborted: boolean; done?: boolean }, req: Request, o: RouteOptions, r: Result, started: bigint,
    close = false,
  ): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    countHttp(o.name, req.method, r.status, seconds, req.principal?.tenantId);
    endRequestSpan(req.span, r.status, req.principal?.tenantId, req.principal?.userId);
    req.span = undefined;
    if (state.aborted || state.done) return;
    state.done = true;
    res.cork(() => {
      res.writeStatus(statusLine(r.status));
      res.writeHeader('x-trace-id', req.traceId);
      writeSecurityHeaders(res, r.headers);
      for (const [k, v] of corsHeaders(this.deps.allowedOrigins, req.headers.origin)) res.writeHeader(k, v);
      for (const [k, v] of Object.entries(r.headers ?? {})) res.writeHeader(k, v);
      if (r.text) {
        res.writeHeader('content-type', r.text.contentType);
        res.end(r.text.payload);
      } else if (r.body !== undefined) {
        res.writeHeader('content-type', 'application/json');
        // After a 413 the rest of the body may still be in flight: close rather than parse it as a request.
        res.end(JSON.stringify(r.body), close || r.status === 413);
      } else res.end(undefined, close);
    });
  }
}
