// Who may read /metrics. The metrics name tenants (label values) and show traffic, so they are not
// public: a request is served when it carries `Authorization: Bearer <CHORUS_METRICS_TOKEN>`, or
// comes from an address of CHORUS_METRICS_ALLOW (loopback by default outside production, none in
// production, where a reverse proxy on the same host would make every client look local). Anything
// else: 401 when a token is configured (present it), else 403. The gateway's /metrics route and the
// processor roles' metrics server (metrics-server.ts) both ask this one function.
import crypto from 'node:crypto';
import net from 'node:net';
import type { Config } from '../config/index.js';
import { bearer } from './auth.js';
import { AppError } from './errors.js';

export type MetricsVerdict = { ok: true } | { ok: false; refusal: AppError };

export type MetricsGuard = (remoteAddress: string, authorization: string | undefined) => MetricsVerdict;

const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

export function metricsGuard(access: Config['metricsAccess']): MetricsGuard {
  const allowed = new net.BlockList();
  for (const entry of access.allow) {
    const [ip = '', bits] = entry.split('/');
    const family = net.isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) allowed.addAddress(ip, family);
    else allowed.addSubnet(ip, Number(bits), family);
  }
  const expected = access.token === undefined ? undefined : digest(access.token);
  return (remoteAddress, authorization) => {
    const presented = bearer(authorization);
    // Compared as digests: constant time whatever the length of what was sent.
    if (expected && presented && crypto.timingSafeEqual(digest(presented), expected)) return { ok: true };
    const family = net.isIP(remoteAddress);
    if (family && allowed.check(remoteAddress, family === 6 ? 'ipv6' : 'ipv4')) return { ok: true };
    if (expected) return { ok: false, refusal: new AppError('unauthorized', 'metrics need Authorization: Bearer <CHORUS_METRICS_TOKEN>') };
    return { ok: false, refusal: new AppError('forbidden', 'metrics are served to CHORUS_METRICS_ALLOW addresses only (or with CHORUS_METRICS_TOKEN)') };
  };
}
