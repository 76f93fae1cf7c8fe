// A real OpenID Provider (panva/oidc-provider, OpenID Certified) for the CRM's sign-in tests.
//
// Started by tests/oidc_support.py on 127.0.0.1 with:
//   PORT          port to listen on (0: any free one)
//   CRM_BASE_URL  the CRM under test, e.g. http://127.0.0.1:5123 (its callback and login page
//                 are registered as the clients' redirect and post-logout URIs)
//   ACCOUNTS      JSON {sub: {email, email_verified, name}}; any other login name signs in as a
//                 subject with only an unverified-free, unknown address (see findAccount)
// Prints one line of JSON {"issuer": ...} when it listens.
//
// Clients (all confidential, code flow with PKCE, secret "test-secret"):
//   crm      behaves as a provider should
//   crm-aud  its ID token is re-signed with the provider's own key but for another audience
//   crm-sig  its ID token is signed by a key the provider does not publish (same kid)
//   crm-exp  its ID token is re-signed with the provider's key, expired an hour ago
//   crm-userinfo  its ID token is re-signed without the e-mail claims (userinfo has them)
// The provider's login and consent pages are oidc-provider's development interactions: any login
// name is accepted as the subject, any password.
import * as jose from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 0);
const crm = (process.env.CRM_BASE_URL || 'http://127.0.0.1:5000').replace(/\/$/, '');
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');

const KID = 'test-key-1';
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' };
const rogue = await jose.generateKeyPair('RS256', { extractable: true });

const clients = ['crm', 'crm-aud', 'crm-sig', 'crm-exp', 'crm-userinfo'].map((clientId) => ({
  client_id: clientId,
  client_secret: 'test-secret',
  redirect_uris: [`${crm}/login/oidc/test/callback`],
  post_logout_redirect_uris: [`${crm}/login`],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
}));

async function findAccount(ctx, sub) {
  const known = accounts[sub];
  return {
    accountId: sub,
    async claims() {
      if (known) return { sub, ...known };
      return { sub, email: `${sub}@nowhere.invalid`, email_verified: true, name: sub };
    },
  };
}

// Bind the port first so the issuer names it.
import { createServer } from 'node:http';
const server = createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingJwk] },
  findAccount,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // The claims of the requested scopes go into the ID token (as e.g. Entra ID does).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  cookies: { keys: ['test-cookie-key-not-secret'] },
  ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html lang="en"><head><title>Error</title></head><body><h1>${out.error}</h1><p>${out.error_description || ''}</p></body></html>`;
  },
});
provider.proxy = false;

// The bad cases: rewrite the ID token of the token endpoint's answer for the named clients.
async function tamper(idToken) {
  const payload = jose.decodeJwt(idToken);
  const header = jose.decodeProtectedHeader(idToken);
  const now = Math.floor(Date.now() / 1000);
  switch (payload.aud) {
    case 'crm-aud':
      return new jose.SignJWT({ ...payload, aud: 'someone-else' }).setProtectedHeader(header).sign(privateKey);
    case 'crm-sig':
      return new jose.SignJWT(payload).setProtectedHeader(header).sign(rogue.privateKey);
    case 'crm-exp':
      return new jose.SignJWT({ ...payload, iat: now - 7200, exp: now - 3600 }).setProtectedHeader(header).sign(privateKey);
    case 'crm-userinfo': {
      const { email, email_verified: verified, ...rest } = payload;
      return new jose.SignJWT(rest).setProtectedHeader(header).sign(privateKey);
    }
    default:
      return idToken;
  }
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.body && typeof ctx.body === 'object' && ctx.body.id_token) {
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token) };
  }
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
