// A Hono API that trusts Auther for identity:
//   - Bearer access tokens are verified offline against Auther's JWKS (jose);
//   - Auther's webhooks are received, authenticated (HMAC-SHA256), checked for
//     freshness and deduplicated before the app's handler sees them.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify } from 'jose';

// Algorithms Auther can sign with (its signing-algorithm setting). Pinning them
// means a token can never choose how it is checked (no "none", no HS256 with
// the public key as the secret).
export const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];

// Webhook timestamps further than this from our clock are refused, so a
// captured delivery cannot be replayed later.
export const WEBHOOK_TOLERANCE_MS = 5 * 60 * 1000;

// How long a processed webhook id is remembered. It must outlast the sender's
// retry window: Auther retries a failed delivery with the same id.
export const WEBHOOK_DEDUP_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * @param {object} opts
 * @param {string} opts.issuer         Auther's base URL, e.g. https://id.example.com (the tokens' `iss`).
 * @param {string|string[]} opts.audience  Expected `aud`: for Auther access tokens, the client id.
 * @param {string} opts.jwksUrl        `<issuer>/api/auth/jwks`.
 * @param {string|string[]} [opts.webhookSecrets]  `whsec_…` secrets (array or comma-separated);
 *                                     several during a rotation. Without one the webhook route is not mounted.
 * @param {(event: object) => unknown} [opts.onEvent]  Applies a verified, first-seen webhook event.
 * @param {string[]} [opts.algorithms]  Accepted JWS algorithms.
 * @param {string|null} [opts.tokenType]  Required JWT `typ` header (Auther access tokens are `at+jwt`,
 *                                     RFC 9068, which keeps ID tokens from being used as access tokens); null to skip.
 * @param {number} [opts.jwksCacheMaxAgeMs]  How long the fetched JWKS is used before it is refetched (10 min).
 * @param {number} [opts.dedupTtlMs]   How long a processed webhook id is remembered (24 h).
 * @param {() => number} [opts.now]    Clock in ms (tests).
 */
export function createApp({
  issuer,
  audience,
  jwksUrl,
  webhookSecrets = [],
  onEvent = () => {},
  algorithms = DEFAULT_ALGORITHMS,
  tokenType = 'at+jwt',
  jwksCacheMaxAgeMs,
  dedupTtlMs = WEBHOOK_DEDUP_TTL_MS,
  now = Date.now,
} = {}) {
  if (!issuer || !audience || !jwksUrl) {
    throw new TypeError('createApp needs issuer, audience and jwksUrl');
  }
  const app = new Hono();
  const requireAuth = bearerAuth({ issuer, audience, jwksUrl, algorithms, tokenType, jwksCacheMaxAgeMs });

  app.get('/api/me', requireAuth, (c) => {
    const claims = c.get('claims');
    return c.json({
      sub: claims.sub,
      scope: claims.scope ?? '',
      clientId: claims.client_id ?? claims.azp ?? null,
    });
  });

  if (parseSecrets(webhookSecrets).length > 0) {
    app.post(
      '/api/auth/webhooks/auther',
      bodyLimit({ maxSize: 1024 * 1024, onError: (c) => c.json({ error: 'payload_too_large' }, 413) }),
      webhookReceiver({ secrets: webhookSecrets, onEvent, dedupTtlMs, now }),
    );
  }
  return app;
}

/**
 * Middleware: `Authorization: Bearer <Auther access token>` → c.get('claims').
 * The JWKS is fetched on first use, cached, and refetched (at most every 30 s)
 * when a token names a key it does not know, which is how Auther's key
 * rotation reaches the app.
 */
export function bearerAuth({
  issuer,
  audience,
  jwksUrl,
  algorithms = DEFAULT_ALGORITHMS,
  tokenType = 'at+jwt',
  jwksCacheMaxAgeMs = 10 * 60 * 1000,
}) {
  const remote = createRemoteJWKSet(new URL(jwksUrl), {
    timeoutDuration: 5000,
    cooldownDuration: 30_000,
    cacheMaxAge: jwksCacheMaxAgeMs,
  });
  // When the cached set is due for a refresh but Auther cannot be reached,
  // keep verifying with the keys we last saw: tokens Auther already issued
  // stay usable while it is down.
  let lastKnown;
  const jwks = async (protectedHeader, token) => {
    try {
      const key = await remote(protectedHeader, token);
      const set = remote.jwks();
      if (set) lastKnown = set;
      return key;
    } catch (err) {
      if (lastKnown && unavailable(err)) return createLocalJWKSet(lastKnown)(protectedHeader, token);
      throw err;
    }
  };
  const options = { issuer, audience, algorithms, clockTolerance: 30 };
  if (tokenType) options.typ = tokenType;

  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer +([^ ]+) *$/i.exec(header);
    if (!match) {
      return c.json({ error: 'unauthenticated', message: 'missing bearer token' }, 401);
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1], jwks, options));
    } catch (err) {
      if (unavailable(err)) {
        // Auther (its JWKS) cannot be reached and the cached keys do not
        // cover this token: the token may be fine, so do not call it invalid.
        return c.json({ error: 'auth_unavailable', message: 'cannot fetch the signing keys' }, 503);
      }
      return c.json({ error: 'unauthenticated', message: reason(err) }, 401);
    }
    c.set('claims', payload);
    await next();
  };
}

function unavailable(err) {
  if (err instanceof errors.JWKSTimeout) return true;
  // fetch failures (connection refused, DNS) and a JWKS answered with a non-200.
  if (!(err instanceof errors.JOSEError)) return true;
  return err.code === 'ERR_JOSE_GENERIC' && /response/i.test(err.message);
}

function reason(err) {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `invalid token: ${err.claim} claim`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'invalid token: algorithm not allowed';
  if (err instanceof errors.JWKSNoMatchingKey) return 'invalid token: unknown signing key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'invalid token: bad signature';
  return 'invalid token';
}

function parseSecrets(secrets) {
  const list = Array.isArray(secrets) ? secrets : String(secrets ?? '').split(',');
  return list.map((s) => s.trim()).filter(Boolean).map((s) => Buffer.from(s, 'utf8'));
}

/**
 * Handler for Auther's webhooks. Auther signs each delivery with
 *   x-webhook-signature = hex(HMAC-SHA256(secret, "<x-webhook-timestamp>.<raw body>"))
 * where the key is the whole `whsec_…` string.
 */
export function webhookReceiver({ secrets, onEvent, dedupTtlMs = WEBHOOK_DEDUP_TTL_MS, now = Date.now }) {
  const keys = parseSecrets(secrets);
  // id → { done: boolean, expires: ms }. Per process and lost on restart:
  // production keeps this in a table (unique id) or Redis (SET NX EX).
  const seen = new Map();
  let nextSweep = 0;

  return async (c) => {
    const id = c.req.header('x-webhook-id');
    const timestamp = c.req.header('x-webhook-timestamp');
    const signature = c.req.header('x-webhook-signature');
    if (!id || !timestamp || !signature) {
      return c.json({ error: 'bad_request', message: 'missing x-webhook-id, x-webhook-timestamp or x-webhook-signature' }, 400);
    }
    const raw = await c.req.text();

    if (!signatureMatches(keys, `${timestamp}.${raw}`, signature)) {
      return c.json({ error: 'invalid_signature' }, 401);
    }
    const t = now();
    if (!/^\d{1,16}$/.test(timestamp) || Math.abs(t - Number(timestamp)) > WEBHOOK_TOLERANCE_MS) {
      return c.json({ error: 'stale_timestamp', message: 'timestamp is more than 5 minutes away from now' }, 401);
    }

    let event;
    try {
      event = JSON.parse(raw);
    } catch {
      return c.json({ error: 'bad_request', message: 'body is not JSON' }, 400);
    }
    // The signature covers the body, not the id header: tie them together so a
    // signed body cannot be replayed under a fresh id to get past the dedup.
    if (event === null || typeof event !== 'object' || event.id !== id || typeof event.type !== 'string') {
      return c.json({ error: 'bad_request', message: 'body must be an event whose id is x-webhook-id' }, 400);
    }

    if (t >= nextSweep) {
      for (const [k, v] of seen) if (v.expires <= t) seen.delete(k);
      nextSweep = t + 60_000;
    }
    const prior = seen.get(id);
    if (prior && prior.expires > t) {
      if (prior.done) return c.json({ ok: true, duplicate: true }, 200);
      // Another delivery of this id is being applied right now; if it fails
      // the sender must still retry, so do not claim success.
      return c.json({ error: 'in_progress' }, 409);
    }
    const entry = { done: false, expires: t + dedupTtlMs };
    seen.set(id, entry);
    try {
      await onEvent(event);
    } catch (err) {
      // Forget the id so the sender's retry is applied.
      seen.delete(id);
      console.error(`webhook ${id} (${event.type}) failed:`, err);
      return c.json({ error: 'handler_failed' }, 500);
    }
    entry.done = true;
    return c.json({ ok: true }, 200);
  };
}

function signatureMatches(keys, signed, header) {
  const given = header
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^[0-9a-f]{64}$/.test(s))
    .map((s) => Buffer.from(s, 'hex'));
  let ok = false;
  for (const key of keys) {
    const want = createHmac('sha256', key).update(signed, 'utf8').digest();
    for (const g of given) {
      // Constant time per comparison, and every pair is compared.
      if (timingSafeEqual(want, g)) ok = true;
    }
  }
  return ok;
}
