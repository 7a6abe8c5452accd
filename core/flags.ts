// Runtime feature flags, shared through Redis (`chorus:flags`) and cached per process for a few
// seconds. A process may also switch a flag off locally for a while (e.g. typing over budget).
import type { RedisClient } from './redis.js';
import type { Logger } from './logger.js';
import { keys } from './keys.js';

export type FlagName = 'typing';

export class Flags {
  private values = new Map<string, boolean>();
  private localOffUntil = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly redis: RedisClient, private readonly defaults: Record<FlagName, boolean>, private readonly log: Logger) {}

  start(refreshMs = 2000): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  enabled(name: FlagName): boolean {
    const until = this.localOffUntil.get(name);
    if (until && until > Date.now()) return false;
    return this.values.get(name) ?? this.defaults[name];
  }

  /** Turns a flag off in this process for `ms` (budget protection), logged by the caller. */
  suspend(name: FlagName, ms: number): void {
    this.localOffUntil.set(name, Date.now() + ms);
  }

  async refresh(): Promise<void> {
    try {
      const h = await this.redis.hgetall(keys.flags());
      this.values = new Map(Object.entries(h).map(([k, v]) => [k, v === '1' || v === 'true']));
    } catch (err) {
      this.log.warn({ err }, 'feature flag refresh failed; keeping previous values');
    }
  }
}

export async function setFlag(redis: RedisClient, name: FlagName, on: boolean): Promise<void> {
  await redis.hset(keys.flags(), name, on ? '1' : '0');
}
