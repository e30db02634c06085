// End to end against a real Auther: build it from this repository, register
// clients with its CLI, start `auther serve`, get access tokens with the
// client_credentials grant, and have the Hono app verify them over HTTP.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import { SignJWT, decodeProtectedHeader, generateKeyPair } from 'jose';
import { createApp } from '../src/app.js';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SECRET = 'hono-example-test-secret-0123456789abcdef';

let dir; // temp folder: the auther binary and its data dir
let auther; // the `auther serve` child process
let autherLog = '';
let base; // Auther's base URL = issuer
let client; // { id, secret } allowed client_credentials
let other; // a second client: tokens for another audience
let appServer; // the Hono app on a real port
let appUrl;

// The environment Auther runs with: ours, minus any AUTHER_* setting that
// could point it at another database.
function autherEnv() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHER_')));
  // The CLI gets the server's base URL too, so both resolve settings that
  // depend on it (webhook-allow-private: auto) the same way.
  const baseUrl = base ? { AUTHER_BASE_URL: base } : {};
  return { ...env, ...baseUrl, AUTHER_DATA_DIR: path.join(dir, 'data'), AUTHER_SECRET: SECRET, AUTHER_LOG_LEVEL: 'warn' };
}

async function cli(...args) {
  const { stdout } = await run(path.join(dir, 'auther'), args, { env: autherEnv(), timeout: 30_000 });
  return stdout;
}

async function createClient(name) {
  const out = await cli('client', 'create', '--name', name, '--grant-type', 'client_credentials');
  const id = /^client_id:\s+(\S+)$/m.exec(out)?.[1];
  const secret = /^client_secret:\s+(\S+)$/m.exec(out)?.[1];
  assert.ok(id && secret, `unexpected output of auther client create:\n${out}`);
  return { id, secret };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (auther.exitCode !== null) throw new Error(`auther exited with ${auther.exitCode}:\n${autherLog}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`auther not healthy after ${ms} ms:\n${autherLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function token({ id, secret }) {
  const res = await fetch(`${base}/api/auth/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `token endpoint: ${JSON.stringify(body)}`);
  assert.equal(body.token_type, 'Bearer');
  return body.access_token;
}

async function me(authorization, url = appUrl) {
  const headers = authorization === undefined ? {} : { authorization };
  const res = await fetch(`${url}/api/me`, { headers });
  return { status: res.status, body: await res.json() };
}

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const unb64 = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());

function stopAuther() {
  if (auther && auther.exitCode === null && auther.signalCode === null) auther.kill('SIGKILL');
}
process.on('exit', stopAuther);

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'auther-hono-'));
  // Go's build cache makes this quick after the first build; a cold build can take minutes.
  await run('go', ['build', '-o', path.join(dir, 'auther'), './cmd/auther'], { cwd: repoRoot, timeout: 600_000 });

  client = await createClient('hono-test');
  other = await createClient('hono-other');

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // A failed webhook delivery is retried after ~1 s instead of 10 s, so a
  // receiver that refused one shows up as a test failure, not a timeout.
  const args = ['serve', '--addr', `127.0.0.1:${port}`, '--base-url', base, '--webhook-first-retry', '1s'];
  auther = spawn(path.join(dir, 'auther'), args, {
    env: autherEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  auther.stdout.on('data', (d) => (autherLog += d));
  auther.stderr.on('data', (d) => (autherLog += d));
  await waitHealthy(`${base}/healthz`, 20_000);

  const app = createApp({
    issuer: base,
    audience: client.id,
    jwksUrl: `${base}/api/auth/jwks`,
    webhookSecrets: 'whsec_unused',
  });
  await new Promise((resolve) => {
    appServer = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      appUrl = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
}, { timeout: 660_000 });

after(async () => {
  if (appServer) await new Promise((r) => appServer.close(r));
  if (auther && auther.exitCode === null && auther.signalCode === null) {
    const exited = new Promise((r) => auther.once('exit', r));
    auther.kill('SIGTERM');
    const timer = setTimeout(stopAuther, 5000);
    await exited;
    clearTimeout(timer);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Hono app with a real Auther', () => {
  it('accepts an access token issued by Auther and exposes its claims', async () => {
    const t = await token(client);
    const claims = unb64(t.split('.')[1]);
    assert.equal(claims.iss, base);
    assert.equal(claims.aud, client.id);

    const res = await me(`Bearer ${t}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.sub, client.id, 'client_credentials tokens name the client as sub');
    assert.equal(res.body.clientId, client.id);
    assert.equal(typeof res.body.scope, 'string');
  });

  it('rejects the token when its payload is altered', async () => {
    const [h, p, s] = (await token(client)).split('.');
    const claims = unb64(p);
    const forged = `${h}.${b64({ ...claims, sub: 'someone-else' })}.${s}`;
    const res = await me(`Bearer ${forged}`);
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'unauthenticated');
    assert.equal(typeof res.body.message, 'string');

    // Even extending the expiry alone breaks the signature.
    const longer = `${h}.${b64({ ...claims, exp: claims.exp + 3600 })}.${s}`;
    assert.equal((await me(`Bearer ${longer}`)).status, 401);
  });

  it('rejects the token when its signature is altered', async () => {
    const [h, p, s] = (await token(client)).split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[Math.floor(sig.length / 2)] ^= 0x01;
    const res = await me(`Bearer ${h}.${p}.${sig.toString('base64url')}`);
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'unauthenticated');

    // Signature stripped, or the header switched to "none".
    assert.equal((await me(`Bearer ${h}.${p}.`)).status, 401);
    assert.equal((await me(`Bearer ${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.`)).status, 401);
  });

  it("rejects a well-formed token signed with someone else's key under Auther's key id", async () => {
    const real = await token(client);
    const { kid } = decodeProtectedHeader(real);
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ client_id: client.id, scope: '' })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
      .setIssuer(base)
      .setAudience(client.id)
      .setSubject(client.id)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await me(`Bearer ${forged}`);
    assert.equal(res.status, 401);
  });

  it('rejects requests without a bearer token', async () => {
    for (const authorization of [undefined, '', 'Bearer', 'Basic Zm9vOmJhcg==', 'Bearer not-a-jwt']) {
      const res = await me(authorization);
      assert.equal(res.status, 401, `Authorization: ${authorization}`);
      assert.equal(res.body.error, 'unauthenticated');
    }
  });

  it("rejects a genuine Auther token minted for another client's audience", async () => {
    const t = await token(other);
    assert.equal(unb64(t.split('.')[1]).aud, other.id);
    const res = await me(`Bearer ${t}`);
    assert.equal(res.status, 401);
    assert.match(res.body.message, /aud/);
  });

  it('rejects a genuine token when the app expects another issuer', async () => {
    const t = await token(client);
    const app = createApp({ issuer: 'https://id.example.com', audience: client.id, jwksUrl: `${base}/api/auth/jwks` });
    const res = await app.request('/api/me', { headers: { authorization: `Bearer ${t}` } });
    assert.equal(res.status, 401);
  });

  it('keeps verifying with the last fetched keys while Auther is unreachable, and says 503 when it has none', async () => {
    // A JWKS endpoint in front of Auther's that can be switched off.
    let down = false;
    const proxy = createServer(async (req, res) => {
      if (down) {
        res.writeHead(503).end();
        return;
      }
      const upstream = await fetch(`${base}/api/auth/jwks`);
      res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text());
    });
    await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${proxy.address().port}/jwks`;
    try {
      const t = await token(client);
      // Cache age 0: every verification wants a fresh JWKS.
      const app = createApp({ issuer: base, audience: client.id, jwksUrl, jwksCacheMaxAgeMs: 0 });
      const call = async (a) => (await a.request('/api/me', { headers: { authorization: `Bearer ${t}` } })).status;
      assert.equal(await call(app), 200);
      down = true;
      assert.equal(await call(app), 200, 'tokens keep verifying against the keys seen before the outage');

      const cold = createApp({ issuer: base, audience: client.id, jwksUrl });
      const res = await cold.request('/api/me', { headers: { authorization: `Bearer ${t}` } });
      assert.equal(res.status, 503);
      assert.equal((await res.json()).error, 'auth_unavailable');
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});

// Interoperability of the webhook receiver with Auther's own sender: the
// endpoint is registered with the CLI, events come from real sign-ups and
// `auther webhook test`, and the Hono app (with the secret the CLI printed)
// must accept every one of them. Nothing here signs a delivery itself.
describe("Auther's real webhook deliveries reach the Hono receiver", () => {
  const PATH = '/api/auth/webhooks/auther';
  const WAIT_MS = 15_000;

  let hook; // { id, secret } as printed by `auther webhook create`
  let hookServer; // real port Auther delivers to
  const deliveries = []; // every request Auther made: { headers, raw, statuses }
  // The apps each delivery is handed to, unchanged (same bytes, same
  // headers); Auther is answered 200 only when every one of them said 200.
  // Swapping the list is how the test changes the app's secrets at run time.
  let targets = [];

  function receiver(secrets) {
    const received = [];
    const app = createApp({
      issuer: base,
      audience: client.id,
      jwksUrl: `${base}/api/auth/jwks`,
      webhookSecrets: secrets,
      onEvent: (ev) => {
        received.push(ev);
      },
    });
    return { app, received };
  }

  async function dispatch(req) {
    const bytes = new Uint8Array(await req.arrayBuffer());
    const d = { headers: Object.fromEntries(req.headers), raw: Buffer.from(bytes).toString('utf8'), statuses: [] };
    deliveries.push(d);
    if (targets.length === 0) return new Response('{"error":"not_ready"}', { status: 503 });
    for (const t of targets) {
      const res = await t.app.fetch(new Request(req.url, { method: req.method, headers: req.headers, body: bytes }));
      d.statuses.push({ name: t.name, status: res.status, body: await res.text() });
    }
    const ok = d.statuses.every((s) => s.status === 200);
    return new Response(JSON.stringify({ ok }), { status: ok ? 200 : 500, headers: { 'content-type': 'application/json' } });
  }

  async function waitFor(what, find) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = find();
      if (found) return found;
      if (auther.exitCode !== null) throw new Error(`auther exited with ${auther.exitCode}:\n${autherLog}`);
      if (Date.now() > deadline) {
        const seen = deliveries.map((d) => `${d.headers['x-webhook-id']} ${JSON.parse(d.raw).type} ${JSON.stringify(d.statuses)}`);
        throw new Error(`no ${what} within ${WAIT_MS} ms; deliveries so far:\n${seen.join('\n')}\n${autherLog}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // Auther has nothing left to send to the endpoint (per its own records).
  async function waitDrained() {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const out = await cli('webhook', 'deliveries', hook.id, '--status', 'pending');
      const pending = out.trim().split('\n').slice(1); // below the header line
      if (pending.length === 0) return;
      if (Date.now() > deadline) throw new Error(`deliveries still pending after ${WAIT_MS} ms:\n${out}\n${autherLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function signUp(email) {
    const res = await fetch(`${base}/api/auth/sign-up/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ email, password: 'correct horse battery staple', name: 'Ada Lovelace' }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, `sign-up: ${JSON.stringify(body)}`);
    assert.equal(body.user?.email, email);
    return body.user;
  }

  const created = (received, email) => () => received.find((e) => e.type === 'user.created' && e.data?.email === email);
  const deliveryOf = (ev) => deliveries.find((d) => d.headers['x-webhook-id'] === ev.id);
  const signatures = (d) => d.headers['x-webhook-signature'].split(',');
  const freshSecret = () => `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')}`;

  before(async () => {
    await new Promise((resolve) => {
      hookServer = serve({ fetch: dispatch, port: 0, hostname: '127.0.0.1' }, resolve);
    });
    const url = `http://127.0.0.1:${hookServer.address().port}${PATH}`;
    const out = await cli('webhook', 'create', '--url', url, '--events', '*');
    const id = /^id:\s+(\S+)$/m.exec(out)?.[1];
    const secret = /^secret:\s+(\S+)$/m.exec(out)?.[1];
    assert.ok(id && secret?.startsWith('whsec_'), `unexpected output of auther webhook create:\n${out}`);
    hook = { id, secret };
  });

  after(async () => {
    if (hookServer) {
      hookServer.closeAllConnections?.();
      await new Promise((r) => hookServer.close(r));
    }
  });

  it('delivers user.created for a sign-up, signed with the secret the CLI printed', async () => {
    const app = receiver(hook.secret);
    targets = [{ name: 'app', ...app }];

    const email = `ada-${Date.now()}@example.com`;
    const t0 = Date.now();
    const user = await signUp(email);
    const ev = await waitFor(`user.created for ${email}`, created(app.received, email));
    const t1 = Date.now();

    // The event as onEvent got it: the documented body.
    assert.match(ev.id, /^evt_./);
    assert.equal(ev.origin, 'auther');
    assert.equal(ev.type, 'user.created');
    assert.ok(Number.isInteger(ev.timestamp), `timestamp ${ev.timestamp}`);
    assert.ok(ev.timestamp >= t0 - 2000 && ev.timestamp <= t1 + 2000, `timestamp ${ev.timestamp} is unix ms of the sign-up (${t0}..${t1})`);
    assert.equal(ev.data.id, user.id);
    assert.equal(ev.data.email, email);
    assert.equal(ev.data.name, 'Ada Lovelace');
    assert.equal(ev.data.emailVerified, false);
    assert.ok('image' in ev.data);
    assert.ok(!Number.isNaN(Date.parse(ev.data.createdAt)), `createdAt ${ev.data.createdAt}`);

    // The request as Auther sent it.
    const d = deliveryOf(ev);
    assert.ok(d, 'the delivery was seen on the wire');
    assert.deepEqual(JSON.parse(d.raw), ev, 'onEvent got the body exactly as sent');
    assert.equal(d.headers['content-type'], 'application/json');
    assert.match(d.headers['user-agent'], /^Auther-Webhooks\//);
    assert.equal(d.headers['x-webhook-origin'], ev.origin);
    assert.equal(d.headers['x-webhook-id'], ev.id);
    assert.match(d.headers['x-webhook-timestamp'], /^\d{13}$/, 'x-webhook-timestamp is unix ms');
    const ts = Number(d.headers['x-webhook-timestamp']);
    assert.ok(ts >= ev.timestamp && ts <= t1 + 2000, `attempt ${ts} is sent after the event ${ev.timestamp}`);
    assert.equal(signatures(d).length, 1, 'one secret, one signature');
    assert.match(signatures(d)[0], /^[0-9a-f]{64}$/);

    // Everything else the sign-up caused (session.created, account.linked, …)
    // went out and was accepted at the first attempt.
    await waitDrained();
    for (const x of deliveries) assert.deepEqual(x.statuses.map((s) => s.status), [200], `${x.raw} → ${JSON.stringify(x.statuses)}`);
    assert.equal(new Set(deliveries.map((x) => x.headers['x-webhook-id'])).size, deliveries.length, 'no event was sent twice');
  });

  it('accepts `auther webhook test`, and a duplicate delivery is not applied twice', async () => {
    const app = receiver(hook.secret);
    targets = [{ name: 'app', ...app }];

    const out = await cli('webhook', 'test', hook.id);
    assert.match(out, /^HTTP 200 /m, out);
    const ev = app.received.find((e) => e.type === 'webhook.test');
    assert.ok(ev, `no webhook.test event: ${out}`);
    assert.match(ev.id, /^evt_./);
    assert.equal(ev.origin, 'auther');
    assert.equal(typeof ev.data.message, 'string');
    assert.equal(deliveryOf(ev).headers['x-webhook-origin'], 'auther');

    // The same bytes and headers again (what a retry after a lost answer
    // looks like, bar the timestamp): the receiver answers 200 duplicate.
    const d = deliveryOf(ev);
    const res = await app.app.request(PATH, { method: 'POST', headers: d.headers, body: d.raw });
    assert.deepEqual(await res.json(), { ok: true, duplicate: true });
    assert.equal(app.received.filter((e) => e.id === ev.id).length, 1);
  });

  it('keeps verifying through `auther webhook rotate-secret` with the old secret only or the new one only', async () => {
    // Deliveries claimed before the rotation are signed with the old secret
    // only; let them finish so every later one is signed after it.
    await waitDrained();
    const out = await cli('webhook', 'rotate-secret', hook.id);
    const newSecret = /^secret:\s+(\S+)$/m.exec(out)?.[1];
    assert.equal(/^id:\s+(\S+)$/m.exec(out)?.[1], hook.id, out);
    assert.ok(newSecret?.startsWith('whsec_') && newSecret !== hook.secret, `unexpected output of rotate-secret:\n${out}`);

    // Every delivery now goes to an app holding only the old secret and to
    // one holding only the new secret; both must accept it.
    const oldOnly = receiver([hook.secret]);
    const newOnly = receiver([newSecret]);
    targets = [
      { name: 'old secret only', ...oldOnly },
      { name: 'new secret only', ...newOnly },
    ];
    const seenBefore = deliveries.length;

    const email = `grace-${Date.now()}@example.com`;
    const user = await signUp(email);
    const fromOld = await waitFor(`user.created for ${email} (old secret)`, created(oldOnly.received, email));
    const fromNew = await waitFor(`user.created for ${email} (new secret)`, created(newOnly.received, email));
    assert.deepEqual(fromOld, fromNew, 'both got the same event');
    assert.equal(fromOld.data.id, user.id);

    const d = deliveryOf(fromOld);
    const sigs = signatures(d);
    assert.equal(sigs.length, 2, `during the overlap Auther signs with new and old: ${d.headers['x-webhook-signature']}`);
    for (const s of sigs) assert.match(s, /^[0-9a-f]{64}$/);
    // An app with an unrelated secret refuses the very same delivery, so
    // the two acceptances above are not vacuous.
    const stranger = receiver([freshSecret()]);
    const res = await stranger.app.request(PATH, { method: 'POST', headers: d.headers, body: d.raw });
    assert.equal(res.status, 401);
    assert.equal(stranger.received.length, 0);

    // `auther webhook test` signs with both as well.
    assert.match(await cli('webhook', 'test', hook.id), /^HTTP 200 /m);
    assert.ok(oldOnly.received.some((e) => e.type === 'webhook.test'));
    assert.ok(newOnly.received.some((e) => e.type === 'webhook.test'));

    await waitDrained();
    for (const x of deliveries.slice(seenBefore)) {
      assert.deepEqual(x.statuses.map((s) => s.status), [200, 200], `${x.raw} → ${JSON.stringify(x.statuses)}`);
      assert.equal(signatures(x).length, 2);
    }
  });
});
