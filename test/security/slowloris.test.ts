// Standing attack suite: slowloris. A client that sends its request head a byte at a time, never
// finishing it, is cut off by uWS's own HTTP idle timeout (about 10 s; uWS only resets it when a
// whole request has arrived, so trickling bytes does not keep the connection), and meanwhile the
// gateway serves everyone else. Several such clients change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { useStack } from '../support/stack.js';

const stack = useStack({ prefix: 'slow' });

/** Trickles a request head that never ends, one byte every `everyMs`; resolves when the server closes. */
function slowClient(port: number, everyMs: number): { closed: Promise<{ bytesSent: number; total: number }>; stop(): void } {
  const head = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(1000)}`;
  const socket = net.connect(port, '127.0.0.1');
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < head.length && socket.writable) socket.write(head[sent++]!);
  }, everyMs);
  const closed = new Promise<{ bytesSent: number; total: number }>((resolve) => {
    const done = () => { clearInterval(timer); resolve({ bytesSent: sent, total: head.length }); };
    socket.on('close', done);
    socket.on('error', () => { /* reset by the server: close follows */ });
  });
  return { closed, stop: () => { clearInterval(timer); socket.destroy(); } };
}

test('slow clients trickling an endless request head are cut off by the server and block no one', async () => {
  const slow = Array.from({ length: 20 }, () => slowClient(stack.gw.port, 200));
  try {
    // Served while they trickle.
    for (let i = 0; i < 5; i++) assert.equal((await stack.gw.api.get('/healthz')).status, 200);
    const results = await Promise.all(slow.map((s) => s.closed));
    // Every one was closed by the server with its head unfinished (1000+ bytes at 5/s would take minutes).
    for (const r of results) assert.ok(r.bytesSent < r.total, `cut off after ${r.bytesSent} of ${r.total} bytes`);
    assert.equal((await stack.gw.api.get('/healthz')).status, 200);
  } finally {
    for (const s of slow) s.stop();
  }
});
