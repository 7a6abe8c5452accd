// Raw HTTP/1.1 over a TCP socket, for what node:http will not send: duplicate framing headers,
// malformed request lines, pipelined requests smuggled behind a body, headers sent byte by byte.
import net from 'node:net';

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
