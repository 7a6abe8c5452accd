// Turns a request body into a typed value or the contract's 400/403 errors.
import type { z } from 'zod';
import { AppError } from './errors.js';
import type { Principal } from './auth.js';

export function parseBody<S extends z.ZodType>(schema: S, body: unknown, principal: Principal): z.infer<S> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('invalid_request', 'request body must be a JSON object');
  }
  // The tenant always comes from the token: a disagreeing tenantId is refused, whatever else is wrong.
  const tid = (body as Record<string, unknown>)['tenantId'];
  if (tid !== undefined && tid !== principal.tenantId) {
    throw new AppError('tenant_mismatch', 'tenantId does not match the token');
  }
  const r = schema.safeParse(body);
  if (!r.success) throw invalidRequest(r.error);
  return r.data;
}

/** The contract's 400 for a request that failed its schema: the first issue in the message, every issue (field, message) in `details.issues`. */
export function invalidRequest(error: z.ZodError): AppError {
  const first = error.issues[0];
  const field = first?.path.join('.') || '(body)';
  return new AppError('invalid_request', `${field}: ${first?.message ?? 'invalid'}`, {
    issues: error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
  });
}
