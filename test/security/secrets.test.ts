// Issue #13 (security), finding 1: secrets nobody can compute. Outside production a stack's secrets
// are random, generated once into <dataDir>/secrets.json (0600) and shared by every process of the
// stack; the old secrets derived from the data dir's path verify nothing any more. In production
// every HMAC secret must be configured and strong, and HS256 keys rotate by kid.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import { loadConfig, type Config } from '../../config/index.js';
import { weakSecretReason } from '../../config/secrets.js';
import { createAuthenticator } from '../../core/auth.js';
import { signGrant } from '../../workers/storage/url-signing.js';
import { sign as signCallback } from '../../workers/notify/callbacks.js';
import { assertError, config, migrateDb, startTestGateway, type TestGateway } from '../support/api.js';
import { REPO_ROOT, testConfig, uniqueTenant } from '../support/env.js';

const now = () => Math.floor(Date.now() / 1000);
const strong = () => crypto.randomBytes(32).toString('hex');
const tmpDirs: string[] = [];
function tmpDataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-secrets-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** The secrets a config holds, for comparisons. */
function secretsOf(c: Config) {
  return {
    jwt: c.jwt.hmacKeys.map((k) => `${k.kid}:${k.secret}`),
    objectUrl: c.attachments.storage.urlSecret,
    email: c.notify.email.callbackSecret,
    push: c.notify.push.callbackSecret,
  };
}

/** What the code before the fix used: a hash of the data dir's path, computable by anyone who knows it. */
function oldDerived(dataDir: string) {
  const h = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
  return {
    jwt: h(`chorus-dev-secret:${path.resolve(dataDir)}`),
    objectUrl: h(`chorus-dev-object-url-secret:${path.resolve(dataDir)}`),
    email: h(`chorus-dev-email-callback:${path.resolve(dataDir)}`),
    push: h(`chorus-dev-push-callback:${path.resolve(dataDir)}`),
  };
}

async function hs256(secret: string | Uint8Array, header: Partial<jose.JWTHeaderParameters> = {}, claims: jose.JWTPayload = {}): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return new jose.SignJWT({ sub: 'alice', tid: uniqueTenant('sec'), iss: config.jwt.issuer, aud: config.jwt.audience, exp: now() + 600, iat: now(), ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header })
    .sign(key);
}

/** 404 for a valid token (no such thread), 401 for a refused one. */
const judged = async (gw: TestGateway, token: string) => (await gw.api.get('/api/threads/th_none', token)).status;

describe('the dev secrets file', () => {
  test('is created on first use with mode 0600, holds 32-byte random secrets, and is read back unchanged', () => {
    const dir = tmpDataDir();
    const first = loadConfig({ CHORUS_DATA_DIR: dir, NODE_ENV: 'test' });
    const file = path.join(dir, 'secrets.json');
    assert.equal(first.devSecretsFile, file);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const s = secretsOf(first);
    for (const v of [s.jwt[0]!.split(':')[1]!, s.objectUrl, s.email!, s.push!]) assert.match(v, /^[0-9a-f]{64}$/);
    assert.equal(new Set([s.jwt[0], s.objectUrl, s.email, s.push]).size, 4, 'four different secrets');
    assert.deepEqual(secretsOf(loadConfig({ CHORUS_DATA_DIR: dir, NODE_ENV: 'test' })), s, 'a restart keeps them');
    assert.deepEqual(fs.readdirSync(dir), ['secrets.json'], 'no temporary file is left behind');
  });

  test('two data dirs get different secrets, and neither is the old path-derived one', () => {
    const [a, b] = [tmpDataDir(), tmpDataDir()];
    const [sa, sb] = [secretsOf(loadConfig({ CHORUS_DATA_DIR: a, NODE_ENV: 'test' })), secretsOf(loadConfig({ CHORUS_DATA_DIR: b, NODE_ENV: 'test' }))];
    for (const k of ['objectUrl', 'email', 'push'] as const) assert.notEqual(sa[k], sb[k], k);
    assert.notDeepEqual(sa.jwt, sb.jwt);
    const old = oldDerived(a);
    assert.ok(![old.jwt, old.objectUrl, old.email, old.push].some((v) => [sa.jwt[0]!.split(':')[1], sa.objectUrl, sa.email, sa.push].includes(v)));
  });

  test('processes starting at the same moment on a fresh data dir all end up with the same secrets', async () => {
    const dir = tmpDataDir();
    const module = new URL('dist/config/index.js', `file://${REPO_ROOT}`).href;
    const script = `import { loadConfig } from ${JSON.stringify(module)};
      const c = loadConfig({ CHORUS_DATA_DIR: process.argv[1], NODE_ENV: 'test' });
      console.log(JSON.stringify([c.jwt.hmacKeys[0].secret, c.attachments.storage.urlSecret, c.notify.email.callbackSecret, c.notify.push.callbackSecret]));`;
    const outputs = await Promise.all(Array.from({ length: 8 }, () => new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => { out += d; });
      p.stderr.on('data', (d: Buffer) => { err += d; });
      p.once('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`loadConfig process exited ${code}: ${err}`))));
    })));
    assert.equal(new Set(outputs).size, 1, `every process read the same secrets:\n${outputs.join('\n')}`);
    const mine = secretsOf(loadConfig({ CHORUS_DATA_DIR: dir, NODE_ENV: 'test' }));
    assert.deepEqual(JSON.parse(outputs[0]!), [mine.jwt[0]!.split(':')[1], mine.objectUrl, mine.email, mine.push]);
    assert.deepEqual(fs.readdirSync(dir), ['secrets.json'], 'the losers removed their temporary files');
  });

  test('a file others may read, or a malformed one, is refused with a clear error', () => {
    const dir = tmpDataDir();
    loadConfig({ CHORUS_DATA_DIR: dir, NODE_ENV: 'test' });
    const file = path.join(dir, 'secrets.json');
    fs.chmodSync(file, 0o644);
    assert.throws(() => loadConfig({ CHORUS_DATA_DIR: dir, NODE_ENV: 'test' }), /secrets\.json has permissions 0644, wider than 0600/);
    fs.chmodSync(file, 0o600);
    fs.writeFileSync(file, '{"jwt": "short"');
    assert.throws(() => loadConfig({ CHORUS_DATA_DIR: dir, NODE_ENV: 'test' }), /secrets\.json is not valid JSON/);
    fs.writeFileSync(file, JSON.stringify({ jwt: 'abc', objectUrl: strong(), emailCallback: strong(), pushCallback: strong() }));
    assert.throws(() => loadConfig({ CHORUS_DATA_DIR: dir, NODE_ENV: 'test' }), /secrets\.json is malformed \(jwt: /);
  });

  test('secrets set in the environment win, and with all of them set no file is created', () => {
    const dir = tmpDataDir();
    const env = { CHORUS_DATA_DIR: dir, NODE_ENV: 'test', JWT_SECRET: strong(), CHORUS_OBJECT_URL_SECRET: strong(), CHORUS_EMAIL_CALLBACK_SECRET: strong(), CHORUS_PUSH_CALLBACK_SECRET: strong() };
    const c = loadConfig(env);
    assert.deepEqual(secretsOf(c), { jwt: [`default:${env.JWT_SECRET}`], objectUrl: env.CHORUS_OBJECT_URL_SECRET, email: env.CHORUS_EMAIL_CALLBACK_SECRET, push: env.CHORUS_PUSH_CALLBACK_SECRET });
    assert.equal(c.devSecretsFile, undefined);
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

describe('the old path-derived secrets are refused by a real gateway', () => {
  let gw: TestGateway;
  before(async () => {
    await migrateDb(config);
    gw = await startTestGateway(config);
  });
  after(async () => {
    await gw?.close();
  });
  const old = () => oldDerived(config.dataDir);

  test('a token signed with sha256("chorus-dev-secret:"+dataDir) gets 401, an admin one too', async () => {
    assert.equal(await judged(gw, await hs256(config.jwt.hmacKeys[0]!.secret)), 404, 'control: the stack\'s own secret is accepted');
    for (const header of [{}, { kid: 'default' }]) {
      for (const claims of [{}, { roles: ['admin'] }]) {
        const r = await gw.api.get('/api/threads/th_none', await hs256(old().jwt, header, claims));
        assertError(r, 401, 'unauthorized');
      }
    }
  });

  test('an upload URL signed with the old object URL secret gets 403 and writes nothing', async () => {
    const t = uniqueTenant('sec');
    const name = `forged-${crypto.randomBytes(4).toString('hex')}`;
    const key = { area: 'quarantine' as const, tenantId: t, name };
    const query = signGrant(old().objectUrl, { method: 'PUT', key, expiresAt: now() + 600, size: 5 });
    const r = await gw.api.request('PUT', `/objects/quarantine/${t}/${name}?${query}`, { raw: 'hello' });
    assertError(r, 403, 'forbidden');
    assert.equal(fs.existsSync(path.join(config.attachments.storage.localDir, 'quarantine', t, name)), false);
    // Control: the stack's own secret signs a URL the gateway accepts; past the signature check it
    // answers 409 upload_closed, as no attachment of this key awaits bytes.
    const own = signGrant(config.attachments.storage.urlSecret, { method: 'PUT', key, expiresAt: now() + 600, size: 5 });
    assertError(await gw.api.request('PUT', `/objects/quarantine/${t}/${name}?${own}`, { raw: 'hello' }), 409, 'upload_closed');
  });

  test('a provider callback signed with the old callback secret gets 401', async () => {
    const raw = JSON.stringify({ tenantId: uniqueTenant('sec'), notificationId: 'n_forged', status: 'bounced' });
    for (const channel of ['email', 'push'] as const) {
      const r = await gw.api.request('POST', `/api/providers/${channel}/callback`, {
        raw, contentType: 'application/json', headers: { 'x-chorus-signature': `sha256=${signCallback(old()[channel], raw)}` },
      });
      assertError(r, 401, 'unauthorized');
    }
  });
});

describe('production refuses missing and weak secrets, naming the variable', () => {
  const prod = (over: Record<string, string>) => ({
    NODE_ENV: 'production', CHORUS_DATA_DIR: tmpDataDir(), JWT_SECRET: strong(), CHORUS_OBJECT_URL_SECRET: strong(), ...over,
  });

  test('strong secrets start, without any secrets file; unset callback secrets mean callbacks refused', () => {
    const env = prod({});
    const c = loadConfig(env);
    assert.equal(c.devSecretsFile, undefined);
    assert.deepEqual(fs.readdirSync(env.CHORUS_DATA_DIR), [], 'production never writes dev secrets');
    assert.equal(c.notify.email.callbackSecret, undefined);
    assert.equal(c.notify.push.callbackSecret, undefined);
  });

  test('missing JWT_SECRET (HS256 allowed) and missing CHORUS_OBJECT_URL_SECRET (local storage)', () => {
    const noJwt = prod({});
    delete (noJwt as Record<string, string>)['JWT_SECRET'];
    assert.throws(() => loadConfig(noJwt), /JWT_SECRET \(or JWT_SECRETS\) is required in production/);
    const noUrl = prod({});
    delete (noUrl as Record<string, string>)['CHORUS_OBJECT_URL_SECRET'];
    assert.throws(() => loadConfig(noUrl), /CHORUS_OBJECT_URL_SECRET is required/);
  });

  test('short, repeated and low-entropy secrets are refused for every HMAC variable', () => {
    const weak: [string, RegExp][] = [
      ['x', /1 bytes, at least 32/],
      ['0123456789abcdef0123456789abcde', /31 bytes, at least 32/],
      ['a'.repeat(64), /the same 1 character\(s\) repeated/],
      ['changeme'.repeat(6), /the same 8 character\(s\) repeated/],
      [`${'0'.repeat(40)}1`, /bits by its character frequencies, at least 128/],
    ];
    for (const variable of ['JWT_SECRET', 'CHORUS_OBJECT_URL_SECRET', 'CHORUS_EMAIL_CALLBACK_SECRET', 'CHORUS_PUSH_CALLBACK_SECRET']) {
      for (const [secret, why] of weak) {
        if (secret.length < 16 && variable !== 'JWT_SECRET') continue; // these have a 16-character floor in the schema
        assert.throws(() => loadConfig(prod({ [variable]: secret })), (err: Error) => {
          assert.match(err.message, new RegExp(`^${variable} is too weak for production: `), variable);
          assert.match(err.message, why, `${variable}=${secret}`);
          return true;
        });
      }
    }
    const rotated = prod({ JWT_SECRETS: `new:${strong()},old:short-old-secret` });
    delete (rotated as Record<string, string>)['JWT_SECRET'];
    assert.throws(() => loadConfig(rotated), /JWT_SECRETS \(kid "old"\) is too weak for production: it has 16 bytes/);
  });

  test('the rule: random secrets pass (hex, base64url), human ones do not', () => {
    for (let i = 0; i < 200; i++) {
      assert.equal(weakSecretReason(crypto.randomBytes(32).toString('hex')), undefined);
      assert.equal(weakSecretReason(crypto.randomBytes(32).toString('base64url')), undefined);
    }
    for (const s of ['password', 'correct horse battery staple', 'abababababababababababababababababab', '00000000000000000000000000000000']) {
      assert.notEqual(weakSecretReason(s), undefined, s);
    }
  });

  test('no JWT secret is needed when only asymmetric algorithms are allowed', async () => {
    const { publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
    const env = prod({ JWT_ALGORITHMS: 'RS256', JWT_PUBLIC_KEY: await jose.exportSPKI(publicKey) });
    delete (env as Record<string, string>)['JWT_SECRET'];
    assert.deepEqual(loadConfig(env).jwt.hmacKeys, []);
  });
});

describe('key rotation: HS256 keys by kid, asymmetric keys from a local JWKS', () => {
  const [current, previous] = [strong(), strong()];
  let gw: TestGateway;
  before(async () => {
    await migrateDb(config);
    gw = await startTestGateway(testConfig({ JWT_SECRETS: `k2026:${current},k2025:${previous}` }));
  });
  after(async () => {
    await gw?.close();
  });

  test('a token of either configured kid is accepted; an unknown kid, a kid with the wrong key, or no kid is 401', async () => {
    assert.equal(await judged(gw, await hs256(current, { kid: 'k2026' })), 404);
    assert.equal(await judged(gw, await hs256(previous, { kid: 'k2025' })), 404);
    for (const [name, token] of [
      ['unknown kid', await hs256(current, { kid: 'k2024' })],
      ['kid of the other key', await hs256(current, { kid: 'k2025' })],
      ['no kid (no key named default)', await hs256(current)],
    ] as const) {
      const r = await gw.api.get('/api/threads/th_none', token);
      assert.equal(r.status, 401, `${name}: ${r.text}`);
      assertError(r, 401, 'unauthorized');
    }
  });

  test('dev tokens are signed with the first (current) key and name it', async () => {
    const r = await gw.api.post('/dev/token', undefined, { tenantId: uniqueTenant('sec'), userId: 'alice' });
    assert.equal(r.status, 200, r.text);
    assert.equal(jose.decodeProtectedHeader(r.body.token).kid, 'k2026');
    await jose.jwtVerify(r.body.token, new TextEncoder().encode(current));
    assert.equal(await judged(gw, r.body.token), 404);
  });

  test('JWT_SECRET is the one key of kid "default": tokens without kid or with kid default pass, other kids do not', async () => {
    const auth = await createAuthenticator(testConfig({ JWT_SECRET: current }));
    for (const header of [{}, { kid: 'default' }]) await auth.verify(await hs256(current, header));
    await assert.rejects(auth.verify(await hs256(current, { kid: 'k2026' })), { code: 'unauthorized' });
  });

  test('bad key configurations are refused', () => {
    assert.throws(() => testConfig({ JWT_SECRET: current, JWT_SECRETS: `a:${current}` }), /JWT_SECRET or JWT_SECRETS, not both/);
    assert.throws(() => testConfig({ JWT_SECRETS: `${current}` }), /JWT_SECRETS: .* is not kid:secret/);
    assert.throws(() => testConfig({ JWT_SECRETS: `a:${current},a:${previous}` }), /kid "a" appears twice/);
    assert.throws(() => testConfig({ JWT_JWKS: '{"keys":[]}' }), /JWT_JWKS must be a JSON Web Key Set/);
    assert.throws(() => testConfig({ JWT_JWKS: '/nonexistent/jwks.json' }), /JWT_JWKS: cannot read the file/);
    assert.throws(() => testConfig({ JWT_JWKS: '{"keys":[{"kty":"RSA"}]}', JWT_JWKS_URL: 'https://idp.invalid/jwks' }), /set one asymmetric key source/);
  });

  test('a local JWKS (inline or a file) verifies RS256 tokens of each of its kids; unknown kids and HS256 are refused', async () => {
    const pairs = await Promise.all(['rk1', 'rk2', 'rk3'].map(async (kid) => ({ kid, ...(await jose.generateKeyPair('RS256', { extractable: true })) })));
    const jwks = { keys: await Promise.all(pairs.slice(0, 2).map(async (p) => ({ ...(await jose.exportJWK(p.publicKey)), kid: p.kid, alg: 'RS256', use: 'sig' }))) };
    const file = path.join(tmpDataDir(), 'jwks.json');
    fs.writeFileSync(file, JSON.stringify(jwks));
    const rs256 = (p: (typeof pairs)[number], kid = p.kid) => new jose.SignJWT({ sub: 'alice', tid: uniqueTenant('sec') })
      .setProtectedHeader({ alg: 'RS256', kid }).setIssuer(config.jwt.issuer).setAudience(config.jwt.audience).setExpirationTime('10m').sign(p.privateKey);
    const inline = await startTestGateway(testConfig({ JWT_ALGORITHMS: 'RS256', JWT_JWKS: JSON.stringify(jwks) }));
    try {
      for (const p of pairs.slice(0, 2)) assert.equal(await judged(inline, await rs256(p)), 404, p.kid);
      assertError(await inline.api.get('/api/threads/th_none', await rs256(pairs[2]!)), 401, 'unauthorized');
      assertError(await inline.api.get('/api/threads/th_none', await rs256(pairs[2]!, 'rk1')), 401, 'unauthorized');
      assertError(await inline.api.get('/api/threads/th_none', await hs256(config.jwt.hmacKeys[0]!.secret)), 401, 'unauthorized');
    } finally {
      await inline.close();
    }
    const fromFile = await createAuthenticator(testConfig({ JWT_ALGORITHMS: 'RS256', JWT_JWKS: file }));
    assert.equal((await fromFile.verify(await rs256(pairs[1]!))).userId, 'alice');
    await assert.rejects(fromFile.verify(await rs256(pairs[2]!)), { code: 'unauthorized' });
  });
});
