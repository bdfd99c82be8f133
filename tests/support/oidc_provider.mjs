// A real OpenID provider (npm oidc-provider) for the sign-in tests, on 127.0.0.1 only.
// Usage: node oidc_provider.mjs PORT REDIRECT_URI POST_LOGOUT_URI
// Its own login form (devInteractions) takes any password; the account named at login
// gets the claims below. Prints "ready" once it listens.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.resolve(process.env.NODE_MODULES_DIR, "x.js"));
const { default: Provider } = await import(require.resolve("oidc-provider"));

const [port, redirectUri, postLogoutUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

// Role claim values the portal maps (or, for "carla", does not).
const USERS = {
  ana: { roles: ["portal-investigator"] },
  bruno: { roles: ["portal-admin"], amr: ["pwd", "mfa"] },
  carla: { roles: ["contractor"] },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "portal",
      client_secret: "portal-test-secret",
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [postLogoutUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  // `amr` with the openid scope: the ID token then always says how the user signed in.
  claims: { openid: ["sub", "amr"], profile: ["preferred_username", "roles"] },
  // The role claim goes into the ID token itself (the portal reads no userinfo).
  conformIdTokenClaims: false,
  cookies: { keys: ["test-only-cookie-key"] },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, roles: user.roles };
      },
    };
  },
  // Consent is taken as given for the one test client: the form tests sign-in, not consent.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid profile");
    grant.addOIDCClaims(["preferred_username", "roles"]);
    await grant.save();
    return grant;
  },
});

// The login form takes no second factor; a user listed with `amr` is said to have given one,
// as the provider's own login would record it (the ID token's `amr` comes from the session).
const record = Provider.prototype.interactionResult;
Provider.prototype.interactionResult = function withAmr(req, res, result, options) {
  const amr = result?.login && USERS[result.login.accountId]?.amr;
  if (amr) result.login.amr = amr;
  return record.call(this, req, res, result, options);
};

provider.listen(Number(port), "127.0.0.1", () => console.log("ready"));
