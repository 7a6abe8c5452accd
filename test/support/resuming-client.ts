// A websocket client that behaves as the contract asks of real clients: it remembers the last seq it
// processed and, whenever its connection ends (drain, 4008, network), reconnects with lastSeq.
// Tests may also make it drop its connection on purpose (`flap`).
import { WsClient, type Frame } from './ws-client.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A client that reconnects with lastSeq whenever its connection ends, as the contract asks. */
export class ResumingClient {
  seqs: string[] = [];
  /** Every stream frame processed, in order: type and seq (for exact comparisons). */
  events: { type: string; seq: string; threadId?: string }[] = [];
  resyncs = 0;
  /** headSeq of the first hello: everything after it is what this client must see. */
  firstHead: string | undefined;
  gatewayIds: string[] = [];
  reconnects = 0;
  gotReconnectFrame = false;
  private current: WsClient | null = null;
  private stopped = false;
  private last: string | undefined;

  constructor(private readonly url: string, private readonly token: string) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const { client, hello } = await WsClient.open(this.url, { token: this.token, lastSeq: this.last });
        this.current = client;
        this.gatewayIds.push(hello.data.gatewayId as string);
        this.last ??= hello.data.headSeq as string;
        this.firstHead ??= hello.data.headSeq as string;
        // Every frame of this connection counts, including those that arrived with the hello.
        const onFrames = () => this.consume(client.frames);
        void client.closed.then(() => {
          onFrames();
          if (!this.stopped) {
            this.reconnects++;
            const pause = this.pauseMs;
            this.pauseMs = 0;
            void sleep(pause).then(() => this.connect());
          }
        });
        // Consume as frames arrive (the WsClient records them; poll cheaply).
        const timer = setInterval(onFrames, 20);
        void client.closed.then(() => clearInterval(timer));
        return;
      } catch {
        await sleep(50 + attempt * 50);
      }
    }
  }

  private consumed = new WeakMap<Frame, true>();
  private consume(frames: Frame[]): void {
    for (const f of frames) {
      if (this.consumed.has(f)) continue;
      this.consumed.set(f, true);
      if (f.type === 'reconnect') this.gotReconnectFrame = true;
      if (f.type === 'message.created') this.seqs.push(f.seq as string);
      if (f.type === 'resync.required') this.resyncs++;
      if (f.seq) this.events.push({ type: f.type, seq: f.seq, threadId: f.data?.threadId ?? f.data?.id });
      if (f.seq) this.last = f.seq;
    }
  }

  /** Drops the current connection from the client side; it reconnects with lastSeq after `pauseMs`. */
  async flap(pauseMs: number): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.pauseMs = pauseMs;
    await c.close();
  }

  private pauseMs = 0;

  async stop(): Promise<void> {
    this.stopped = true;
    await this.current?.close();
  }
}

