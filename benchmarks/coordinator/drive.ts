// The timeline: stages sent to the generators just ahead of their start (each starts exactly where
// the previous ended), and for the `max` profile the rate search, which judges each step from its
// merged histogram before choosing the next.
import type { Profile, Stage } from '../lib/profile.js';
import type { StageMsg } from '../lib/ipc.js';
import { targetsByWorker, type World } from '../lib/world.js';
import { nowUs, sleepUntilUs } from '../lib/clock.js';
import { percentileMs } from '../lib/histogram.js';
import type { WorkerPool } from './pool.js';
import type { Timeline } from './timeline.js';

const LEAD_US = 500_000;

export interface RateStep {
  ratePerS: number;
  p99Ms: number;
  e2eCount: number;
  sent: number;
  errorRate: number;
  ok: boolean;
  reason?: string;
}

export class Driver {
  /** Connections the generators aim for (total). */
  private connections = 0;
  private cursorUs = 0;

  constructor(
    private readonly pool: WorkerPool,
    private readonly world: World,
    private readonly timeline: Timeline,
    private readonly say: (line: string) => void,
  ) {}

  /** Sends one stage, starting where the previous one ended (or shortly from now), and returns its end. */
  async run(stage: Stage, index: number): Promise<number> {
    const startUs = Math.max(this.cursorUs, nowUs() + LEAD_US);
    await sleepUntilUs(startUs - LEAD_US);
    const durationUs = Math.round(stage.durationS * 1e6);
    if (stage.connections !== undefined) this.connections = stage.connections;
    const targets = targetsByWorker(this.world, this.connections, this.pool.size);
    const messagesPerS = (stage.messagesPerMin ?? 0) / 60;
    const presencePerS = stage.presenceTransitionsPerS ?? 0;
    this.timeline.addStage({ name: stage.name, startUs, endUs: startUs + durationUs, warmup: !!stage.warmup, messagesPerS, connections: this.connections, presencePerS });
    this.pool.broadcast((i): StageMsg => ({
      type: 'stage', index, name: stage.name, startUs, durationUs, messagesPerS, presencePerS,
      connections: targets[i] as number, reconnect: stage.reconnect, warmup: !!stage.warmup,
    }));
    this.say(`stage ${stage.name}: ${stage.durationS} s, ${Math.round(messagesPerS * 60)} msg/min, ${this.connections} connections` +
      `${presencePerS ? `, ${presencePerS} presence/s` : ''}${stage.reconnect ? `, ${Math.round(stage.reconnect.fraction * 100)}% reconnect` : ''}${stage.warmup ? ' (warmup)' : ''}`);
    this.cursorUs = startUs + durationUs;
    return this.cursorUs;
  }

  async runStages(stages: Stage[], firstIndex = 0): Promise<void> {
    let end = 0;
    for (let i = 0; i < stages.length; i++) end = await this.run(stages[i] as Stage, firstIndex + i);
    await sleepUntilUs(end);
  }

  /** The `max` profile: raise the rate until p99 or the error rate breaks the limit; returns the steps. */
  async rateSearch(p: Profile, firstIndex: number): Promise<{ steps: RateStep[]; kneePerS: number | null }> {
    const r = p.rateSearch;
    if (!r) return { steps: [], kneePerS: null };
    const steps: RateStep[] = [];
    let knee: number | null = null;
    for (let rate = r.startPerS, i = firstIndex; rate <= r.maxPerS; rate = Math.round(rate * r.stepFactor), i++) {
      const name = `rate-${rate}`;
      const end = await this.run({ name, durationS: r.stepS, messagesPerMin: rate * 60 }, i);
      // Let the last second's deliveries arrive and be merged before judging the step.
      await sleepUntilUs(end + 2_500_000);
      const st = this.timeline.stageTotals.get(name);
      const p99 = st ? percentileMs(st.e2e, 99) : 0;
      const errors = st ? st.http5xx + st.httpErrors + st.http429 + st.dropped : 0;
      const errorRate = st && st.sent ? errors / st.sent : 0;
      const step: RateStep = { ratePerS: rate, p99Ms: p99, e2eCount: st?.e2e.totalCount ?? 0, sent: st?.sent ?? 0, errorRate, ok: true };
      if (p99 > r.p99LimitMs) Object.assign(step, { ok: false, reason: `p99 ${p99} ms > ${r.p99LimitMs} ms` });
      else if (errorRate > r.maxErrorRate) Object.assign(step, { ok: false, reason: `error rate ${(errorRate * 100).toFixed(2)}% > ${(r.maxErrorRate * 100).toFixed(2)}%` });
      else if (!step.e2eCount) Object.assign(step, { ok: false, reason: 'no deliveries measured' });
      steps.push(step);
      this.say(`  step ${rate}/s: p99 ${p99} ms, errors ${(errorRate * 100).toFixed(2)}% → ${step.ok ? 'ok' : `knee (${step.reason})`}`);
      if (!step.ok) break;
      knee = rate;
    }
    return { steps, kneePerS: knee };
  }
}
