// Identity: JWT verification with algorithms pinned by configuration (jose), and dev tokens.
import * as jose from 'jose';
import type { Config } from '../config/index.js';
import { AppError } from './errors.js';
import { isId } from './ids.js';
import { metrics } from './metrics.js';
import type { Logger } from './logger.js';

export interface Principal {
  tenantId: string;
  userId: string;
  admin: boolean;
}

type Key = Parameters<typeof jose.jwtVerify>[1];
type KeyResolver = (header: jose.JWTHeaderParameters, token: jose.FlattenedJWSInput) => Promise<jose.CryptoKey | Uint8Array | jose.KeyObject>;

export interface Authenticator {
  verify(token: string | undefined | null): Promise<Principal>;
  /** Signs a token with the current local HMAC key, naming it in `kid` (dev auth and tests only). */
  sign(p: { tenantId: string; userId: string; admin?: boolean; ttlSeconds?: number }): Promise<string>;
}

/** The kid a token without a `kid` header is checked with (JWT_SECRET's key). */
export const DEFAULT_KID = 'default';

/** The asymmetric key source configured (at most one, config/ checks): JWKS URL, local JWKS or a PEM key. */
async function asymmetricKey(config: Config): Promise<KeyResolver | undefined> {
  const { algorithms, jwksUrl, jwks, publicKey } = config.jwt;
  if (jwksUrl) return jose.createRemoteJWKSet(new URL(jwksUrl)) as KeyResolver;
  if (jwks) return jose.createLocalJWKSet(jwks as unknown as jose.JSONWebKeySet) as KeyResolver;
  if (publicKey) {
    const asym = algorithms.find((a) => !a.startsWith('HS'));
    if (!asym) throw new Error('JWT_PUBLIC_KEY is set but JWT_ALGORITHMS names no asymmetric algorithm');
    const key = await jose.importSPKI(publicKey, asym);
    return async () => key;
  }
  return undefined;
}

export async function createAuthenticator(config: Config): Promise<Authenticator> {
  const { algorithms, issuer, audience, clockToleranceS } = config.jwt;
  const hmac = new Map(config.jwt.hmacKeys.map((k) => [k.kid, new TextEncoder().encode(k.secret)]));
  const current = config.jwt.hmacKeys[0];
  const asym = await asymmetricKey(config);
  if (!hmac.size && !asym) throw new Error('no JWT verification key configured (JWT_SECRET, JWT_SECRETS, JWT_PUBLIC_KEY, JWT_JWKS or JWT_JWKS_URL)');
  // The key follows the token's (pinned) algorithm family, so an HMAC key is never used for RS/ES/EdDSA
  // tokens nor a public key as an HMAC secret; an HMAC key is chosen by kid, an unknown kid is refused.
  const key: KeyResolver = async (header, token) => {
    if (header.alg.startsWith('HS')) {
      const k = hmac.get(header.kid ?? DEFAULT_KID);
      if (!k) throw new jose.errors.JWKSNoMatchingKey();
      return k;
    }
    if (!asym) throw new jose.errors.JWKSNoMatchingKey();
    return asym(header, token);
  };

  // Verified tokens, keyed by the whole token string: a client's next request with the same token
  // skips the signature check (about a tenth of an inbox read's CPU). Entries never outlive the
  // token's exp (plus tolerance) nor cacheTtlS; failures are never cached. Oldest-first eviction.
  const cache = new Map<string, { principal: Principal; untilMs: number }>();
  const remember = (token: string, principal: Principal, expS: number | undefined) => {
    if (config.jwt.cacheSize <= 0) return;
    const untilMs = Math.min(Date.now() + config.jwt.cacheTtlS * 1000, ((expS ?? 0) + clockToleranceS) * 1000);
    if (cache.size >= config.jwt.cacheSize) cache.delete(cache.keys().next().value as string);
    cache.set(token, { principal, untilMs });
  };

  return {
    async verify(token) {
      if (!token) throw new AuthFailure('unauthorized', 'missing bearer token', 'missing_token');
      const hit = cache.get(token);
      if (hit) {
        if (hit.untilMs > Date.now()) return hit.principal;
        cache.delete(token);
      }
      let payload: jose.JWTPayload;
      try {
        ({ payload } = await jose.jwtVerify(token, key as Key as KeyResolver, {
          algorithms,
          issuer,
          audience,
          clockTolerance: clockToleranceS,
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (err) {
        if (err instanceof jose.errors.JWTExpired) throw new AuthFailure('token_expired', 'token expired', 'expired');
        throw new AuthFailure('unauthorized', 'invalid token', 'invalid_token');
      }
      // jose checks iat only together with maxTokenAge; a token "issued" later than now is refused here.
      if (payload.iat !== undefined && payload.iat > Date.now() / 1000 + clockToleranceS) {
        throw new AuthFailure('unauthorized', 'token issued in the future (iat)', 'future_iat');
      }
      const tid = payload['tid'];
      const sub = payload.sub;
      if (!isId(tid)) throw new AuthFailure('unauthorized', 'token has no valid tid claim', 'bad_claims');
      if (!isId(sub)) throw new AuthFailure('unauthorized', 'token has no valid sub claim', 'bad_claims');
      const roles = payload['roles'];
      const principal = { tenantId: tid, userId: sub, admin: Array.isArray(roles) && roles.includes('admin') };
      remember(token, principal, payload.exp);
      return principal;
    },
    async sign(p) {
      if (!current) throw new Error('dev tokens need an HMAC key (JWT_SECRET or JWT_SECRETS)');
      const ttl = p.ttlSeconds ?? 24 * 3600;
      return new jose.SignJWT({ tid: p.tenantId, ...(p.admin ? { roles: ['admin'] } : {}) })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: current.kid })
        .setSubject(p.userId)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
        .sign(hmac.get(current.kid)!);
    },
  };
}

/** Extracts the bearer token from an Authorization header value. */
export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1];
}

export type AuthFailureReason = 'missing_token' | 'expired' | 'invalid_token' | 'future_iat' | 'bad_claims';

/** A refused token: the client's 401 (its code and message), plus the reason metrics and logs name. */
export class AuthFailure extends AppError {
  constructor(code: 'unauthorized' | 'token_expired', message: string, readonly reason: AuthFailureReason) {
    super(code, message);
  }
}

/**
 * Counts and logs a refused token (a security event: always logged, never sampled). The token is
 * never logged; `fields` say where it came from (route or connection, client address).
 */
export function recordAuthFailure(log: Logger, transport: 'http' | 'ws', err: unknown, fields: Record<string, unknown>): void {
  const reason = err instanceof AuthFailure ? err.reason : 'invalid_token';
  metrics.authFailures.inc({ transport, reason });
  log.warn({ ...fields, transport, reason, security: 'auth_failure' }, 'authentication failed');
}
