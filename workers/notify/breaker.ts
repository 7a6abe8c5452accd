// A per-provider circuit breaker (closed → open → half-open → closed) kept in Redis (lua/breaker.lua),
// so every consumer of every process stops calling a failing provider at once. Sustained failure
// (not closed for longer than alertAfterMs) raises chorus_notify_provider_alert.
import { keys } from '../../core/keys.js';
import { luaScript } from '../../core/lua-script.js';
import type { Logger } from '../../core/logger.js';
import { metrics } from '../../core/metrics.js';
import type { RedisClient } from '../../core/redis.js';
import type { Config } from '../../config/index.js';

const script = luaScript('workers/notify/lua/breaker.lua');

export type BreakerState = 'closed' | 'open' | 'half_open';
export type Verdict = { call: true; probe: boolean } | { call: false; waitMs: number };

/** Calls refused while a probe is out come back this soon. */
const PROBE_RECHECK_MS = 250;

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** When each provider's sustained-failure alert was last logged by this process (logged once a minute). */
const alertLoggedAt = new Map<string, number>();

export class Breaker {
  private readonly key: string;

  constructor(
    private readonly r: RedisClient,
    readonly provider: string,
    private readonly opts: Config['notify']['breaker'] & { probeMs: number },
    private readonly log: Logger,
  ) {
    this.key = keys.notifyBreaker(provider);
  }

  async allow(): Promise<Verdict> {
    const [verdict, , waitMs] = await this.run('allow');
    if (verdict === 'wait') return { call: false, waitMs: Math.max(1, waitMs) };
    return { call: true, probe: verdict === 'probe' };
  }

  async success(): Promise<void> {
    await this.run('success');
  }

  async failure(): Promise<void> {
    await this.run('failure');
  }

  /**
   * Refreshes the state and alert gauges from Redis without changing anything: an open breaker sees
   * no calls, yet the alert must rise once the failure has lasted alertAfterMs.
   */
  async observe(): Promise<void> {
    const [state, since] = (await this.r.hmget(this.key, 'state', 'since')) as [BreakerState | null, string | null];
    const s = state ?? 'closed';
    metrics.notifyBreakerState.set({ provider: this.provider }, STATE_VALUE[s] ?? 0);
    const sinceMs = Number(since ?? 0);
    const sustained = s !== 'closed' && sinceMs > 0 && Date.now() - sinceMs >= this.opts.alertAfterMs;
    metrics.notifyProviderAlert.set({ provider: this.provider }, sustained ? 1 : 0);
  }

  /** The breaker's state as stored (the `breaker` field of ops output; tests). */
  async state(): Promise<BreakerState> {
    return ((await this.r.hget(this.key, 'state')) as BreakerState | null) ?? 'closed';
  }

  private async run(op: 'allow' | 'success' | 'failure'): Promise<[string, BreakerState, number, number]> {
    const { threshold, openMs, probeMs, alertAfterMs } = this.opts;
    const res = (await script.run(this.r, [this.key], [op, threshold, openMs, probeMs, PROBE_RECHECK_MS])) as [string, BreakerState, number, number, BreakerState];
    const [verdict, state, waitMs, since, prev] = [res[0], res[1], Number(res[2]), Number(res[3]), res[4]];
    metrics.notifyBreakerState.set({ provider: this.provider }, STATE_VALUE[state] ?? 0);
    const sustained = state !== 'closed' && since > 0 && Date.now() - since >= alertAfterMs;
    metrics.notifyProviderAlert.set({ provider: this.provider }, sustained ? 1 : 0);
    if (state !== prev) {
      metrics.notifyBreakerTransitions.inc({ provider: this.provider, to: state });
      const fields = { provider: this.provider, from: prev, to: state, wait_ms: waitMs };
      if (state === 'open') this.log.error(fields, 'notification provider circuit opened');
      else this.log.warn(fields, `notification provider circuit ${state === 'closed' ? 'closed' : 'half-open: probing'}`);
    }
    if (sustained && Date.now() - (alertLoggedAt.get(this.provider) ?? 0) >= 60_000) {
      alertLoggedAt.set(this.provider, Date.now());
      this.log.error({ provider: this.provider, failing_for_ms: Date.now() - since }, 'notification provider failing: alert raised');
    }
    return [verdict, state, waitMs, since];
  }
}
