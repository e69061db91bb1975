// A short Clientele client in TypeScript: the README walkthrough, typed by
// openapi-typescript from openapi.yaml and called through openapi-fetch.
// CI type-checks it with `tsc --strict`; a change of the spec that breaks
// these calls breaks the build.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type OAuthClient = components["schemas"]["OAuthClient"];
type ErrorResponse = components["schemas"]["ErrorResponse"];
type ClientSecret = components["schemas"]["ClientSecret"];
type NewClientSecret = components["schemas"]["NewClientSecret"];

export async function walkthrough(baseUrl: string, clientId: string, clientSecret: string): Promise<OAuthClient[]> {
  const api = createClient<paths>({ baseUrl });

  const token = await api.POST("/oauth/token", {
    body: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret },
    // A form: an array member (resource, audience) is its parameter repeated.
    bodySerializer: (body) => {
      const form = new URLSearchParams();
      for (const [name, value] of Object.entries(body ?? {})) {
        if (value === undefined) continue;
        for (const one of Array.isArray(value) ? value : [value]) form.append(name, String(one));
      }
      return form.toString();
    },
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (!token.data) throw new Error(`token: ${describe(token.error)}`);
  const auth = { Authorization: `Bearer ${token.data.access_token}` };

  const created = await api.POST("/oauth-clients", {
    headers: auth,
    body: { name: "Acme CI", tenant: "acme", grantTypes: ["CLIENT_CREDENTIALS"], scope: ["sp:oauth-client:read"] },
  });
  if (!created.data) throw new Error(describe(created.error));
  if (Array.isArray(created.data)) throw new Error("one body, but an array of clients came back");
  const id: string = created.data.id;
  const secret: string | null = created.data.secret;

  // Bulk create: an array of bodies, all created or none, answered in order.
  const bulk = await api.POST("/oauth-clients", {
    params: { query: { dryRun: true } },
    headers: auth,
    body: [
      { name: "Acme nightly", grantTypes: ["CLIENT_CREDENTIALS"] },
      { name: "Acme SPA", type: "PUBLIC", grantTypes: ["AUTHORIZATION_CODE"], redirectUris: ["https://spa.acme.example/cb"] },
    ],
  });
  if (!bulk.data || !Array.isArray(bulk.data)) throw new Error(describe(bulk.error));
  const bulkNames: string[] = bulk.data.map((c) => c.name);

  const got = await api.GET("/oauth-clients/{id}", { params: { path: { id } }, headers: auth });
  const etag = got.response.headers.get("ETag") ?? "*";

  const patched = await api.PATCH("/oauth-clients/{id}", {
    params: { path: { id }, header: { "If-Match": etag } },
    headers: { ...auth, "Content-Type": "application/json-patch+json" },
    body: [
      { op: "test", path: "/name", value: "Acme CI" },
      { op: "replace", path: "/description", value: "Deploys Acme" },
      { op: "add", path: "/redirectUris/-", value: "https://ci.acme.example/callback" },
    ],
  });
  if (!patched.data) throw new Error(describe(patched.error));

  const merged = await api.PATCH("/oauth-clients/{id}", {
    params: { path: { id } },
    headers: { ...auth, "Content-Type": "application/merge-patch+json" },
    body: { businessName: "Acme Corp", description: null },
  });
  const businessName: string | null | undefined = merged.data?.businessName;

  const list = await api.GET("/oauth-clients", {
    params: { query: { filters: 'name sw "acme" and tenant eq "acme"', sorters: "-created", limit: 10, count: true } },
    headers: auth,
  });
  const total = Number(list.response.headers.get("X-Total-Count") ?? "0");

  const refused = await api.PATCH("/oauth-clients/{id}", {
    params: { path: { id } },
    headers: { ...auth, "Content-Type": "application/json-patch+json" },
    body: [{ op: "copy", from: "/secret", path: "/description" }],
  });
  if (refused.response.status === 400 && refused.error) {
    const detailCode: string = (refused.error as ErrorResponse).detailCode;
    console.log(detailCode, refused.error);
  }

  // A rotation with grace: the old secret keeps working for an hour beside the new one.
  const graced = await api.POST("/oauth-clients/{id}/secret", {
    params: { path: { id } },
    headers: auth,
    body: { graceSeconds: 3600 },
  });
  const gracedSecret: string | null | undefined = graced.data?.secret;

  const secrets = await api.GET("/oauth-clients/{id}/secrets", { params: { path: { id } }, headers: auth });
  if (!secrets.data) throw new Error(describe(secrets.error));
  const live: ClientSecret[] = secrets.data;
  const expiring = live.find((s) => s.expires !== null);
  if (expiring) {
    const dropped = await api.DELETE("/oauth-clients/{id}/secrets/{secretId}", {
      params: { path: { id, secretId: expiring.id } },
      headers: auth,
    });
    console.log(expiring.hint, dropped.response.status);
  }

  const added = await api.POST("/oauth-clients/{id}/secrets", {
    params: { path: { id } },
    headers: auth,
    body: { expiresInSeconds: 86400 },
  });
  if (!added.data) throw new Error(describe(added.error));
  const addedSecret: NewClientSecret = added.data;
  console.log(gracedSecret !== addedSecret.secret, addedSecret.id, addedSecret.expires);

  const rotated = await api.POST("/oauth-clients/{id}/secret", { params: { path: { id } }, headers: auth });
  const newSecret: string | null | undefined = rotated.data?.secret;

  const deleted = await api.DELETE("/oauth-clients/{id}", { params: { path: { id } }, headers: auth });
  console.log(secret !== newSecret, businessName, total, deleted.response.status, bulkNames);
  return list.data ?? [];
}

function describe(e: ErrorResponse | { error: string } | { message: string } | undefined): string {
  if (!e) return "no body";
  if ("detailCode" in e) return `${e.detailCode}: ${e.causes.map((c) => c.text).join("; ")}`;
  if ("error" in e) return e.error;
  return e.message;
}
