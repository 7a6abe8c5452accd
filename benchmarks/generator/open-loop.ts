// Open-loop constant arrival rate (k6 "constant-arrival-rate"): the i-th event of this generator is
// due at start + (i·slots + slot)/rate, whatever happened to the earlier ones. The generators
// interleave their slots, so together they produce one evenly spaced stream. Each event is handed
// its INTENDED time: latency measured from it includes any delay of the generator itself, which
// keeps the figures free of coordinated omission.
import { nowUs } from '../lib/clock.js';

export class OpenLoop {
  private i = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly intervalUs: number;

  constructor(
    private readonly startUs: number,
    private readonly endUs: number,
    ratePerS: number,
    private readonly slot: number,
    private readonly slots: number,
    private readonly fire: (intendedUs: number) => void,
  ) {
    this.intervalUs = 1e6 / ratePerS;
  }

  private dueAt(i: number): number {
    return this.startUs + (i * this.slots + this.slot) * this.intervalUs;
  }

  start(): this {
    this.schedule();
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    const next = this.dueAt(this.i);
    if (next >= this.endUs) return;
    this.timer = setTimeout(() => this.run(), Math.max(0, (next - nowUs()) / 1000));
  }

  private run(): void {
    const now = nowUs();
    for (let t = this.dueAt(this.i); t <= now && t < this.endUs && !this.stopped; t = this.dueAt(this.i)) {
      this.i++;
      this.fire(t);
    }
    this.schedule();
  }
}
