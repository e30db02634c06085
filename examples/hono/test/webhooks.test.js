// The webhook receiver, driven through the app exactly as Auther calls it:
// raw JSON body, x-webhook-* headers, HMAC-SHA256 over "<timestamp>.<body>".
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createApp } from '../src/app.js';

const PATH = '/api/auth/webhooks/auther';
const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

function sign(secret, timestamp, body) {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

function event(type = 'user.created', data = { id: randomUUID(), email: 'ada@example.com', name: 'Ada' }) {
  return { id: `evt_${randomUUID()}`, origin: 'auther', type, timestamp: Date.now(), data };
}

// A delivery as Auther sends it. Overrides replace or (undefined) drop headers.
function delivery(secret, ev, { timestamp = Date.now(), body = JSON.stringify(ev), headers = {} } = {}) {
  const h = {
    'content-type': 'application/json',
    'x-webhook-id': ev.id,
    'x-webhook-timestamp': String(timestamp),
    'x-webhook-signature': sign(secret, timestamp, body),
    'x-webhook-origin': 'auther',
    ...headers,
  };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  return { method: 'POST', headers: h, body };
}

function setup(secrets, onEvent) {
  const received = [];
  const app = createApp({
    issuer: 'http://127.0.0.1:1',
    audience: 'unused',
    jwksUrl: 'http://127.0.0.1:1/api/auth/jwks',
    webhookSecrets: secrets,
    onEvent: async (ev) => {
      received.push(ev);
      if (onEvent) await onEvent(ev);
    },
  });
  const post = async (init) => {
    const res = await app.request(PATH, init);
    return { status: res.status, body: await res.json() };
  };
  return { post, received };
}

describe('webhook receiver', () => {
  it('applies a correctly signed event once and answers later copies as duplicates', async () => {
    const secret = newSecret();
    const { post, received } = setup(secret);
    const ev = event();

    const first = await post(delivery(secret, ev));
    assert.equal(first.status, 200);
    assert.equal(first.body.duplicate, undefined);
    assert.equal(received.length, 1);
    assert.deepEqual(received[0], ev);

    // Auther retries with the same id (and a fresh timestamp and signature).
    const again = await post(delivery(secret, ev, { timestamp: Date.now() + 1 }));
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    assert.equal(received.length, 1, 'the duplicate must not reach onEvent');
  });

  it('refuses a wrong signature, a changed body and an unknown secret with 401', async () => {
    const secret = newSecret();
    const { post, received } = setup(secret);
    const ev = event();
    const ts = Date.now();

    const good = sign(secret, ts, JSON.stringify(ev));
    const flipped = (good[0] === '0' ? '1' : '0') + good.slice(1);
    assert.equal((await post(delivery(secret, ev, { timestamp: ts, headers: { 'x-webhook-signature': flipped } }))).status, 401);

    // Signed, then the body was changed on the way.
    const tampered = delivery(secret, ev, { timestamp: ts });
    tampered.body = JSON.stringify({ ...ev, data: { ...ev.data, email: 'mallory@example.com' } });
    assert.equal((await post(tampered)).status, 401);

    // Signed with some other secret.
    assert.equal((await post(delivery(newSecret(), ev))).status, 401);

    // The timestamp is part of what is signed.
    const moved = delivery(secret, ev, { timestamp: ts });
    moved.headers['x-webhook-timestamp'] = String(ts + 1000);
    assert.equal((await post(moved)).status, 401);

    assert.equal(received.length, 0);
    // None of the refusals used up the id: the genuine delivery still goes through.
    assert.equal((await post(delivery(secret, ev))).status, 200);
    assert.equal(received.length, 1);
  });

  it('refuses timestamps more than 5 minutes old or ahead, even when correctly signed', async () => {
    const secret = newSecret();
    const { post, received } = setup(secret);
    const ev = event();

    const old = await post(delivery(secret, ev, { timestamp: Date.now() - 6 * 60 * 1000 }));
    assert.equal(old.status, 401);
    const ahead = await post(delivery(secret, ev, { timestamp: Date.now() + 6 * 60 * 1000 }));
    assert.equal(ahead.status, 401);
    // Seconds instead of milliseconds is a 1970 timestamp.
    const seconds = await post(delivery(secret, ev, { timestamp: Math.floor(Date.now() / 1000) }));
    assert.equal(seconds.status, 401);
    assert.equal(received.length, 0);

    const recent = await post(delivery(secret, ev, { timestamp: Date.now() - 4 * 60 * 1000 }));
    assert.equal(recent.status, 200);
    assert.equal(received.length, 1);
  });

  it('answers 400 when a webhook header is missing', async () => {
    const secret = newSecret();
    const { post, received } = setup(secret);
    for (const h of ['x-webhook-id', 'x-webhook-timestamp', 'x-webhook-signature']) {
      const res = await post(delivery(secret, event(), { headers: { [h]: undefined } }));
      assert.equal(res.status, 400, `without ${h}`);
    }
    assert.equal(received.length, 0);
  });

  it('refuses a signed body replayed under a different x-webhook-id', async () => {
    const secret = newSecret();
    const { post, received } = setup(secret);
    const ev = event();
    assert.equal((await post(delivery(secret, ev))).status, 200);
    const replay = await post(delivery(secret, ev, { headers: { 'x-webhook-id': `evt_${randomUUID()}` } }));
    assert.equal(replay.status, 400);
    assert.equal(received.length, 1);
  });

  it('answers 500 when the handler throws, and applies the retry', async () => {
    const secret = newSecret();
    let fail = true;
    const { post, received } = setup(secret, () => {
      if (fail) throw new Error('database is down');
    });
    const ev = event('user.deleted', { id: randomUUID() });

    const origError = console.error;
    console.error = () => {};
    let first;
    try {
      first = await post(delivery(secret, ev));
    } finally {
      console.error = origError;
    }
    assert.equal(first.status, 500);

    fail = false;
    const retry = await post(delivery(secret, ev));
    assert.equal(retry.status, 200);
    assert.equal(retry.body.duplicate, undefined, 'the retry is applied, not treated as a duplicate');
    assert.equal(received.length, 2);

    const third = await post(delivery(secret, ev));
    assert.equal(third.body.duplicate, true);
    assert.equal(received.length, 2);
  });

  it('does not report success for a copy that arrives while the first is still being applied', async () => {
    const secret = newSecret();
    let release;
    const gate = new Promise((r) => (release = r));
    const { post, received } = setup(secret, () => gate);
    const ev = event();

    const first = post(delivery(secret, ev));
    await new Promise((r) => setImmediate(r));
    const concurrent = await post(delivery(secret, ev));
    assert.equal(concurrent.status, 409);
    release();
    assert.equal((await first).status, 200);
    assert.equal((await post(delivery(secret, ev))).body.duplicate, true);
    assert.equal(received.length, 1);
  });

  it('accepts the old and the new secret during a rotation', async () => {
    const oldSecret = newSecret();
    const newer = newSecret();
    const { post, received } = setup(`${oldSecret}, ${newer}`);

    assert.equal((await post(delivery(oldSecret, event()))).status, 200);
    assert.equal((await post(delivery(newer, event()))).status, 200);

    // A sender signing with several secrets lists every signature.
    const ev = event();
    const ts = Date.now();
    const both = `${sign(newSecret(), ts, JSON.stringify(ev))},${sign(newer, ts, JSON.stringify(ev))}`;
    assert.equal((await post(delivery(newer, ev, { timestamp: ts, headers: { 'x-webhook-signature': both } }))).status, 200);

    const retired = setup([newer]);
    assert.equal((await retired.post(delivery(oldSecret, event()))).status, 401);
    assert.equal(received.length, 3);
  });
});
