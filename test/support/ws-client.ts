// Websocket side of the integration tests: a `ws` client that records every server frame, waits for
// frames by predicate (past or future), and reports how the connection ended. Every server frame is
// checked against docs/asyncapi.yaml (spec.ts): one the spec does not describe fails the test.
import http from 'node:http';
import WebSocket from 'ws';
import { frameProblem, responseProblem } from './spec.js';

/** A server frame: `{"type","seq"?,"ts","data"}` (contract section 3). */
export interface Frame {
  type: string;
  seq?: string;
  ts: number;
  data: any;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** The client-side error that ended the connection, if any (e.g. an invalid frame from the server). */
  error?: string;
}

export interface ConnectOptions {
  token?: string;
  lastSeq?: string;
  /** Send the token in the Authorization header instead of the query. */
  tokenInHeader?: boolean;
  headers?: Record<string, string>;
}

function urlFor(wsUrl: string, o: ConnectOptions): string {
  const u = new URL(wsUrl);
  if (o.token !== undefined && !o.tokenInHeader) u.searchParams.set('token', o.token);
  if (o.lastSeq !== undefined) u.searchParams.set('lastSeq', o.lastSeq);
  return u.toString();
}

function headersFor(o: ConnectOptions): Record<string, string> {
  const h: Record<string, string> = { ...o.headers };
  if (o.token !== undefined && o.tokenInHeader) h['authorization'] = `Bearer ${o.token}`;
  return h;
}

/** Connections the server closed abnormally (1006) before sending hello; see WsClient.open. */
export const droppedBeforeHello: { url: string; at: string }[] = [];

export class WsClient {
  readonly frames: Frame[] = [];
  /** Raw texts that were not JSON (a contract violation; kept for assertion messages). */
  readonly garbage: string[] = [];
  /** Frames docs/asyncapi.yaml does not describe, with the schema errors; any makes every wait fail. */
  readonly specProblems: string[] = [];
  closeInfo: CloseInfo | null = null;
  readonly closed: Promise<CloseInfo>;
  private listeners = new Set<() => void>();
  private error: string | undefined;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8'), ...(this.error ? { error: this.error } : {}) };
        this.notify();
        resolve(this.closeInfo);
      });
    });
    ws.on('message', (raw, isBinary) => {
      const text = raw.toString();
      let frame: Frame | undefined;
      try {
        if (isBinary) throw new Error('binary frame');
        frame = JSON.parse(text) as Frame;
        this.frames.push(frame);
      } catch {
        this.garbage.push(text);
      }
      const problem = frame && frameProblem(frame);
      if (problem) {
        const err = new Error(`docs/asyncapi.yaml does not describe a server frame: ${problem}\nframe: ${text.slice(0, 600)}`);
        this.specProblems.push(err.message);
        // Also fails a test that waits for nothing more: an uncaught error fails the running test (or the file).
        setImmediate(() => { throw err; });
      }
      this.notify();
    });
    // Errors after open surface as a close (with the error kept for messages), never as unhandled.
    ws.on('error', (err) => { this.error ??= err.message; });
  }

  /** Opens a connection; resolves once the upgrade succeeded (the hello may still be on its way). */
  static connect(wsUrl: string, o: ConnectOptions = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(urlFor(wsUrl, o), { headers: headersFor(o) });
      const client = new WsClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`websocket upgrade refused with HTTP ${res.statusCode}`));
        res.resume();
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  /**
   * Opens a connection and waits for its hello frame. A connection the server drops before its hello
   * (abnormal close 1006, a known gateway defect) is retried once and recorded in `droppedBeforeHello`,
   * so that one dedicated test reports it instead of whichever unrelated test happened to hit it.
   */
  static async open(wsUrl: string, o: ConnectOptions = {}): Promise<{ client: WsClient; hello: Frame }> {
    for (let attempt = 0; ; attempt++) {
      const client = await WsClient.connect(wsUrl, o);
      try {
        const hello = await client.waitFor((f) => f.type === 'hello', 5000, 'hello');
        return { client, hello };
      } catch (err) {
        if (attempt > 0 || client.closeInfo?.code !== 1006 || client.frames.length) throw err;
        droppedBeforeHello.push({ url: wsUrl.replace(/token=[^&]+/, 'token=…'), at: new Date().toISOString() });
      }
    }
  }

  /** An upgrade that must be refused: the HTTP status and JSON body of the refusal. */
  static refused(wsUrl: string, o: ConnectOptions = {}): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(urlFor(wsUrl, o), { headers: headersFor(o) });
      ws.once('open', () => {
        ws.terminate();
        reject(new Error('websocket upgrade was accepted but should have been refused'));
      });
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any;
          try { body = JSON.parse(text); } catch { body = text; }
          const status = res.statusCode ?? 0;
          const problem = responseProblem('GET', new URL(wsUrl).pathname, status, res.headers['content-type'], body);
          if (problem) reject(new Error(`upgrade refused with ${status}: docs/openapi.yaml does not describe this answer: ${problem}\nbody: ${text.slice(0, 600)}`));
          else resolve({ status, body, headers: res.headers });
          ws.terminate();
        });
      });
      ws.on('error', (err) => {
        // `terminate` after a refusal reports an error we already handled.
        if (!/closed before the connection was established/.test(err.message)) reject(err);
      });
    });
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Resolves with the first recorded frame (past or future) matching `pred`. */
  waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000, what = 'a matching frame'): Promise<Frame> {
    return this.waitForAll(pred, 1, timeoutMs, what).then((fs) => fs[0] as Frame);
  }

  /** Resolves with the first `n` recorded frames matching `pred`. */
  waitForAll(pred: (f: Frame) => boolean, n: number, timeoutMs = 5000, what = 'matching frames'): Promise<Frame[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.specProblems.length) {
          done();
          reject(new Error(this.specProblems[0]));
          return true;
        }
        const got = this.frames.filter(pred);
        if (got.length >= n) {
          done();
          resolve(got.slice(0, n));
          return true;
        }
        if (this.closeInfo) {
          done();
          reject(new Error(`connection closed (${JSON.stringify(this.closeInfo)}) while waiting for ${n} × ${what}; ` +
            `have ${got.length}; frames: ${this.describe()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${n} × ${what}; have ${this.frames.filter(pred).length}; frames: ${this.describe()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = () => { check(); };
      this.listeners.add(listener);
      check();
    });
  }

  /** Frames that come from the tenant stream (they carry a seq). */
  events(): Frame[] {
    return this.frames.filter((f) => f.seq !== undefined);
  }

  /** Stream frames of one thread (by data.threadId, or data.id for thread.created). */
  eventsOf(threadId: string): Frame[] {
    return this.events().filter((f) => f.data?.threadId === threadId || (f.type === 'thread.created' && f.data?.id === threadId));
  }

  /** Seq of the last stream frame received, for resuming. */
  lastSeq(): string | undefined {
    return this.events().at(-1)?.seq;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Closes from the client side and waits for the close handshake (or the socket's end). */
  async close(): Promise<CloseInfo> {
    if (this.closeInfo) return this.closeInfo;
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), 2000);
    const info = await this.closed;
    clearTimeout(timer);
    return info;
  }

  describe(max = 20): string {
    return JSON.stringify(this.frames.slice(-max).map((f) => ({ type: f.type, seq: f.seq, threadId: f.data?.threadId ?? f.data?.id })));
  }
}

/** Closes every client given (ignoring ones already closed). */
export async function closeAll(clients: Iterable<WsClient | undefined>): Promise<void> {
  await Promise.all([...clients].map((c) => c?.close()));
}
