// Raw HTTP/1.1 over a TCP socket, for tests that care about the bytes on the wire. RawConnection:
// one keep-alive connection, each request written in a single write (headers and a small body in
// the same packet, as browsers and keep-alive agents do), answers read back one after the other.
// rawExchange: what node:http will not send (duplicate framing headers, malformed request lines,
// requests smuggled behind a body), read until the server closes.
import net from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export class RawConnection {
  private buf = Buffer.alloc(0);
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => { this.buf = Buffer.concat([this.buf, c]); this.wake?.(); });
    socket.on('error', (err) => { this.failure ??= err; this.wake?.(); });
    socket.on('close', () => { this.failure ??= new Error('the server closed the connection before answering'); this.wake?.(); });
    // Only a guard against hanging forever: a healthy server answers in milliseconds.
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer on the kept-alive connection')));
  }

  static open(host: string, port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port }, () => { s.off('error', reject); resolve(new RawConnection(s)); });
      s.setNoDelay(true);
      s.once('error', reject);
    });
  }

  /** Writes one request in a single write and reads its answer (Content-Length framed). */
  async request(method: string, target: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawAnswer> {
    const lines = [`${method} ${target} HTTP/1.1`, `host: ${this.socket.remoteAddress}:${this.socket.remotePort}`];
    for (const [k, v] of Object.entries({ ...headers, ...(body ? { 'content-length': String(body.length) } : {}) })) lines.push(`${k}: ${v}`);
    this.socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body ?? Buffer.alloc(0)]));
    return this.answer();
  }

  private async answer(): Promise<RawAnswer> {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine = '', ...rest] = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of rest) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (this.buf.length >= end + 4 + length) {
          const body = this.buf.subarray(end + 4, end + 4 + length);
          this.buf = this.buf.subarray(end + 4 + length);
          return { status: Number(statusLine.split(' ')[1]), headers, body: Buffer.from(body) };
        }
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface RawExchange {
  /** Everything the server sent. */
  text: string;
  /** Status codes of the responses, in order. */
  statuses: number[];
  /** True when the server closed the connection (false: still open when we gave up waiting). */
  closedByServer: boolean;
}

/**
 * Sends `payload` at once and collects what comes back until the server closes the connection, or
 * `waitMs` passes (then the connection is still open: `closedByServer` false).
 */
export function rawExchange(port: number, payload: string | Buffer, waitMs = 5000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    let settled = false;
    const done = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
      resolve({ text, statuses, closedByServer });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => done(true));
    socket.on('error', () => done(true)); // ECONNRESET: closed by the server too
    socket.write(payload);
  });
}

/** A request head with CRLF line ends; `body` appended as is. */
export function rawRequest(requestLine: string, headers: [string, string][], body = ''): string {
  return `${requestLine}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
}
