// Starts the example API from the environment:
//   AUTHER_URL             Auther's base URL (the issuer), e.g. http://127.0.0.1:3000
//   AUTHER_AUDIENCE        expected token audience: the client id registered in Auther
//   AUTHER_WEBHOOK_SECRET  whsec_… secret(s), comma-separated while rotating (old,new)
//   PORT                   port to listen on (default 8787)
import { serve } from '@hono/node-server';
import { createApp } from './app.js';

function required(name) {
  const v = process.env[name]?.trim();
  if (!v) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return v;
}

const issuer = required('AUTHER_URL').replace(/\/+$/, '');
const audience = required('AUTHER_AUDIENCE');
const webhookSecrets = required('AUTHER_WEBHOOK_SECRET');
const port = Number(process.env.PORT || 8787);

const app = createApp({
  issuer,
  audience,
  jwksUrl: `${issuer}/api/auth/jwks`,
  webhookSecrets,
  async onEvent(event) {
    // Apply the change to the app's own data here (e.g. upsert the shadow
    // user on user.created / user.updated, delete it on user.deleted).
    // Throwing makes the receiver answer 500 and Auther retries.
    console.log(`auther event ${event.id}: ${event.type}`);
  },
});

const server = serve({ fetch: app.fetch, port, hostname: process.env.HOST || '127.0.0.1' }, (info) => {
  console.log(`listening on http://${info.address}:${info.port} (issuer ${issuer}, audience ${audience})`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
