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
  return { ...env, AUTHER_DATA_DIR: path.join(dir, 'data'), AUTHER_SECRET: SECRET, AUTHER_LOG_LEVEL: 'warn' };
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
  auther = spawn(path.join(dir, 'auther'), ['serve', '--addr', `127.0.0.1:${port}`, '--base-url', base], {
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
