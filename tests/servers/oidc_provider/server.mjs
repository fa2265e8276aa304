// panva's oidc-provider (an OpenID Certified provider, FAPI 2.0 included) for nb_oauth's tests.
//
//   node server.mjs CONFIG.json
//
// CONFIG.json (written by the test fixture): {"issuer", "port", "mode": "general" | "fapi2",
// "clients": [client metadata...], "jwks": the provider's signing keys (private JWKs), "requireNonce": bool, "accessTokenTTL": seconds,
// "parTTL": seconds (optional, shorter than oidc-provider's 60 s, to test an expired request_uri)}.
// Prints "READY <issuer>" on stdout once it listens.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import process from 'node:process';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const fapi2 = config.mode === 'fapi2';

const accounts = new Map(Object.entries(config.accounts || {
  alice: { email: 'alice@example.test', name: 'Alice Liddell' },
  bob: { email: 'bob@example.test', name: 'Bob Builder' },
}));

const provider = new Provider(config.issuer, {
  clients: config.clients,
  ...(config.jwks ? { jwks: config.jwks } : {}),
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'],
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api'],
  claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
  cookies: { keys: [randomBytes(16).toString('hex')] },
  async findAccount(ctx, sub) {
    if (!accounts.has(sub)) return undefined;
    return { accountId: sub, async claims() { return { sub, ...accounts.get(sub) }; } };
  },
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  ttl: {
    AccessToken: config.accessTokenTTL || 300,
    ClientCredentials: config.accessTokenTTL || 300,
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    deviceFlow: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    dPoP: {
      enabled: true,
      nonceSecret: randomBytes(32),
      requireNonce: () => Boolean(config.requireNonce),
    },
    pushedAuthorizationRequests: {
      enabled: true,
      requirePushedAuthorizationRequests: fapi2,
    },
    requestObjects: { enabled: true },
    fapi: { enabled: fapi2, profile: fapi2 ? '2.0' : undefined },
  },
  enabledJWA: {
    dPoPSigningAlgValues: ['ES256', 'PS256', 'RS256', 'EdDSA'],
  },
  pkce: { required: () => true },
});
provider.proxy = false;

// The pushed request's lifetime is fixed at 60 s in oidc-provider; a test of an expired request_uri
// shortens it here: a request_uri older than parTTL is answered as oidc-provider answers an expired one.
if (config.parTTL) {
  const pushed = new Map();
  provider.use(async (ctx, next) => {
    if (ctx.path === '/auth' && ctx.query.request_uri && pushed.has(ctx.query.request_uri)) {
      if (Date.now() - pushed.get(ctx.query.request_uri) > config.parTTL * 1000) {
        ctx.query = { ...ctx.query, request_uri: `${ctx.query.request_uri}-expired` };
      }
    }
    await next();
    if (ctx.path === '/request' && ctx.status === 201 && ctx.body && ctx.body.request_uri) {
      pushed.set(ctx.body.request_uri, Date.now());
      ctx.body = { ...ctx.body, expires_in: config.parTTL };
    }
  });
}

provider.on('server_error', (ctx, err) => { console.error('server_error', err); });

const server = provider.listen(config.port, '127.0.0.1', () => {
  console.log(`READY ${config.issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
