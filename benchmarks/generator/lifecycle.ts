// The connection lifecycle every benchmark client shares (generator/client.ts for Chorus,
// peers/socketio/client.ts for the peer): retries with backoff after a failed connect, the
// ramp-down leave, the rejoin, the reconnect-storm drop and the end-of-run shutdown. A client
// supplies its transport: how to connect, and how to close it in each of those cases.
import { backoffDelay } from '../../core/backoff.js';
import type { WorldUser } from '../lib/world.js';
import type { ClientContext, ClientState } from './client.js';

export abstract class ClientLifecycle {
  state: ClientState = 'idle';
  /** When the client left on a ramp-down (expectations end at leftAtMs − grace); 0 while it takes part. */
  leftAtMs = 0;
  protected attempts = 0;
  protected retryTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly user: WorldUser,
    readonly tenantName: string,
    protected readonly ctx: ClientContext,
  ) {}

  get live(): boolean {
    return this.state === 'live';
  }

  /** Opens the transport: a first connect, or a resume. */
  abstract connect(): void;

  /** Whether a transport is open or opening. */
  protected abstract get open(): boolean;

  /**
   * Closes the open transport on purpose. `leave`: a ramp-down (`wasLive`: it had its hello);
   * `drop`: the storm's abrupt loss; `shutdown`: the end of the run, its handlers detached first
   * so the close is not counted.
   */
  protected abstract close(how: 'leave' | 'drop' | 'shutdown', wasLive: boolean): void;

  /** After a failed attempt: the next one after a backoff, or give up after `maxAttempts`. */
  protected retry(maxAttempts: number): void {
    this.attempts++;
    if (this.attempts >= maxAttempts) {
      this.state = 'gaveup';
      this.ctx.stats.count('clients_gave_up');
      return;
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'offline') this.connect();
    }, backoffDelay(this.attempts, { baseMs: 250, capMs: 5000 }));
  }

  /** Ramp-down: leaves for good. */
  leave(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const was = this.state;
    this.state = 'left';
    this.leftAtMs = Date.now();
    if (this.open) this.close('leave', was === 'live');
  }

  /** Ramp-up after a ramp-down: resumes, so nothing sent meanwhile may be missing. */
  rejoin(): void {
    if (this.state !== 'left') return this.connect();
    this.state = 'offline';
    this.leftAtMs = 0;
    this.connect();
  }

  /** Reconnect storm: drops the connection abruptly and resumes after `offlineMs`. */
  drop(offlineMs: number): boolean {
    if (this.state !== 'live' || !this.open) return false;
    this.state = 'offline';
    this.ctx.stats.count('storm_drops');
    this.close('drop', true);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'offline') this.connect();
    }, offlineMs);
    return true;
  }

  /** End of run: close without counting it as a disconnect. */
  shutdown(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const was = this.state;
    this.state = 'left';
    if (this.open) this.close('shutdown', was === 'live');
  }
}
