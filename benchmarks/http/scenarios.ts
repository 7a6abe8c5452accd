// HTTP micro-benchmarks with fixed parameters (one scenario per entry), run by autocannon:
// closed-loop throughput of one endpoint, not a user workload. Each scenario prepares its data
// through the public API and returns the requests autocannon cycles through.
import type autocannon from 'autocannon';
import { HttpClient, devToken, mapLimit } from '../lib/http-client.js';
import { sleepMs } from '../lib/clock.js';
import { comparePos, seqPos, type SeqPos } from '../lib/seq-order.js';

export interface ScenarioParams {
  connections: number;
  durationS: number;
  pipelining: number;
}

export interface HttpScenario {
  name: string;
  description: string;
  params: ScenarioParams;
  setup(client: HttpClient, runId: string): Promise<autocannon.Request[]>;
}

async function thread(client: HttpClient, token: string, participantIds: string[], title: string): Promise<string> {
  const r = await client.request('POST', '/api/threads', { title, participantIds }, token);
  if (r.status !== 201) throw new Error(`POST /api/threads: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  return r.body.thread.id as string;
}

/** Tenants × users: spreads the writes so the per-user (20/s) and per-tenant (1000/s) limits are not what is measured. */
const SEND_TENANTS = 10;
const SEND_USERS = 50;

const sendMessage: HttpScenario = {
  name: 'http-send',
  description: `POST /api/messages (120-character body) rotating over ${SEND_TENANTS} tenants × ${SEND_USERS} users, one thread per tenant`,
  params: { connections: 32, durationS: 20, pipelining: 1 },
  async setup(client, runId) {
    const requests: autocannon.Request[] = [];
    for (let t = 0; t < SEND_TENANTS; t++) {
      const tenant = `bench-http-t${t}`;
      const users = Array.from({ length: SEND_USERS }, (_, i) => `u${i}`);
      const tokens = await mapLimit(users, 16, (u) => devToken(client, tenant, u));
      const threadId = await thread(client, tokens[0] as string, users.slice(1), `http-send ${runId}`);
      users.forEach((_, i) => requests.push({
        method: 'POST', path: '/api/messages',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` },
        body: JSON.stringify({ threadId, body: `http-send ${runId} `.padEnd(120, 'x') }),
      }));
    }
    // Interleave tenants so that consecutive requests hit different tenants and users.
    return requests.map((_, i) => requests[(i % SEND_TENANTS) * SEND_USERS + Math.floor(i / SEND_TENANTS)] as autocannon.Request);
  },
};

const TIMELINE_MESSAGES = 200;

const timelineRead: HttpScenario = {
  name: 'http-timeline',
  description: `GET /api/threads/:id/messages?limit=50 (newest page) of a thread with ${TIMELINE_MESSAGES} messages, 10 readers`,
  params: { connections: 32, durationS: 20, pipelining: 1 },
  async setup(client, runId) {
    const tenant = 'bench-http-read';
    const users = Array.from({ length: 10 }, (_, i) => `r${i}`);
    const tokens = await mapLimit(users, 10, (u) => devToken(client, tenant, u));
    const threadId = await thread(client, tokens[0] as string, users.slice(1), `http-timeline ${runId}`);
    const seqs = await mapLimit(Array.from({ length: TIMELINE_MESSAGES }, (_, i) => i), 8, async (i) => {
      const r = await client.request('POST', '/api/messages', { threadId, body: `timeline ${runId} #${i}`.padEnd(120, 'x') }, tokens[i % users.length]);
      if (r.status !== 202) throw new Error(`seeding: POST /api/messages ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      return seqPos(r.body.message.seq as string) as SeqPos;
    });
    const newest = seqs.reduce((a, b) => (comparePos(a, b) >= 0 ? a : b));
    // The timeline is served from Postgres (persist processor): wait until the newest seed is visible.
    for (let i = 0; ; i++) {
      const r = await client.request('GET', `/api/threads/${threadId}/messages?limit=50`, undefined, tokens[0]);
      const top = r.status === 200 ? seqPos(String(r.body.messages?.[0]?.seq)) : null;
      if (top && comparePos(top, newest) === 0) break;
      if (i >= 200) throw new Error('seeding: the seeded messages did not appear in the timeline within 20 s');
      await sleepMs(100);
    }
    return tokens.map((token) => ({ method: 'GET', path: `/api/threads/${threadId}/messages?limit=50`, headers: { authorization: `Bearer ${token}` } }));
  },
};

export const HTTP_SCENARIOS: Record<string, HttpScenario> = { [sendMessage.name]: sendMessage, [timelineRead.name]: timelineRead };
