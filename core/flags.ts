// Runtime feature flags, shared through Redis (`chorus:flags`) and cached per process for a few
// seconds. A flag is global; per-tenant protections (the typing budget) live with their feature.
import type { RedisClient } from './redis.js';
import type { Logger } from './logger.js';
import { keys } from './keys.js';

export type FlagName = 'typing';

export class Flags {
  private values = new Map<string, boolean>();
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
    return this.values.get(name) ?? this.defaults[name];
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
