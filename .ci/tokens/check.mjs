// Ends a client's tokens every way SPEC §6 names — revoked (RFC 7009), the
// client disabled, its secret rotated, CLIENT_CREDENTIALS taken away, the
// client deleted — each through one server, and watches the other server
// (the same one when only one is given) stop accepting the token: at
// introspection (RFC 7662) and at the management API, within 5 s, the
// bound SPEC §6 sets for servers sharing PostgreSQL. And the other way:
// once the client is enabled again or has its grant back, the other
// server accepts its new tokens within the same 5 s. The token requests,
// introspections and revocations are oauth4webapi's, a client library
// nobody on this project wrote, which also checks the answers' shapes.
//
// usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET [OTHER_BASE_URL]
import * as oauth from 'oauth4webapi'
import { adminToken, report, send } from '../admin.mjs'

const [base, adminId, adminSecret, otherArg] = process.argv.slice(2)
if (!base || !adminId || !adminSecret) {
  console.error('usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET [OTHER_BASE_URL]')
  process.exit(2)
}
const other = otherArg || base
const { pass, fail, failures } = report()
const where = other === base ? 'the server' : 'the other server'
const insecure = { [oauth.allowInsecureRequests]: true } // CI serves plain http on loopback

const admin = await adminToken(base, adminId, adminSecret)
const api = (server, method, path, body, token = admin, contentType) =>
  send(server, token, method, path, body === undefined ? undefined : JSON.stringify(body), contentType)

// The authorization server as discovered at base, and the same with the
// other server's endpoints: one issuer behind two addresses.
const as = await oauth.processDiscoveryResponse(new URL(base),
  await oauth.discoveryRequest(new URL(base), { algorithm: 'oauth2', ...insecure }))
const at = (server) => ({
  ...as,
  token_endpoint: server + '/oauth/token',
  introspection_endpoint: server + '/oauth/introspect',
  revocation_endpoint: server + '/oauth/revoke'
})
const adminClient = { client_id: adminId }
const adminAuth = oauth.ClientSecretBasic(adminSecret)

const created = await api(base, 'POST', '/oauth-clients', {
  name: 'tokens-check', grantTypes: ['CLIENT_CREDENTIALS'], scope: ['sp:oauth-client:read']
})
if (created.status !== 201) {
  console.error(`FAIL create: ${created.status} ${JSON.stringify(created.json)}`)
  process.exit(1)
}
const id = created.json.id
const client = { client_id: id }
let secret = created.json.secret

// A token for the client from server, or the OAuth error that refused it.
async function token (server, withSecret = secret) {
  const res = await oauth.clientCredentialsGrantRequest(at(server), client, oauth.ClientSecretBasic(withSecret), {}, insecure)
  try {
    return { token: (await oauth.processClientCredentialsResponse(at(server), client, res)).access_token }
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) return { error: err.error }
    // A client that authenticated with the Authorization header is
    // refused with 401 and a Basic challenge (RFC 6749 §5.2), which the
    // library raises before reading the body.
    if (err instanceof oauth.WWWAuthenticateChallengeError && err.status === 401) {
      const body = await err.response.json()
      return { error: body.error, challenge: err.cause.map(c => c.scheme).join(',') }
    }
    throw err
  }
}

// Whether server still accepts tok, at introspection (asked by the admin)
// and at the management API.
async function accepted (server, tok) {
  const res = await oauth.introspectionRequest(at(server), adminClient, adminAuth, tok, insecure)
  const { active } = await oauth.processIntrospectionResponse(at(server), adminClient, res)
  const read = await api(server, 'GET', '/oauth-clients/' + id, undefined, tok)
  return { active, api: read.status }
}

// lives waits until other accepts tok, for 5 s at most: a token issued
// after a change that let the client's tokens live again (enabled, its
// grant back) must not keep being refused by a server that saw it dead.
async function lives (what, tok) {
  const t0 = Date.now()
  let now
  do {
    now = await accepted(other, tok)
    if (now.active && now.api === 200) return true
    await new Promise(resolve => setTimeout(resolve, 20))
  } while (Date.now() - t0 < 5000)
  fail(what, `after 5 s the token is still refused: ${JSON.stringify(now)}`)
  return false
}

// ends runs end on base and polls other until tok is inactive at
// introspection and refused (401) by the API, for 5 s at most.
async function ends (what, tok, end) {
  if (!await lives(`${what}: before it`, tok)) return
  await end()
  const t0 = Date.now()
  let now
  while (Date.now() - t0 < 5000) {
    now = await accepted(other, tok)
    if (!now.active && now.api === 401) break
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  if (now.active || now.api !== 401) fail(what, `after 5 s the token is still ${JSON.stringify(now)}`)
  else pass(`${what}: ${where} stopped accepting the token within ${Date.now() - t0} ms`)
}

const patch = (ops) => async () => {
  const r = await api(base, 'PATCH', '/oauth-clients/' + id, ops, admin, 'application/json-patch+json')
  if (r.status !== 200) throw new Error(`PATCH ${JSON.stringify(ops)}: ${r.status} ${JSON.stringify(r.json)}`)
}

let t = await token(other)
if (!t.token) {
  console.error(`FAIL a token for the client: ${JSON.stringify(t)}`)
  process.exit(1)
}
await ends('revoked (RFC 7009)', t.token, async () => {
  const res = await oauth.revocationRequest(at(base), client, oauth.ClientSecretBasic(secret), t.token, insecure)
  await oauth.processRevocationResponse(res)
})

t = await token(other)
await ends('the client disabled', t.token, patch([{ op: 'replace', path: '/enabled', value: false }]))
const disabled = await token(other)
if (disabled.error !== 'invalid_client' || disabled.challenge !== 'basic') fail('a disabled client gets no token', JSON.stringify(disabled))
else pass('a disabled client gets no token: 401 invalid_client with a Basic challenge')
await patch([{ op: 'replace', path: '/enabled', value: true }])()
t = await token(other)
if (await lives('enabled again', t.token)) pass(`enabled again: ${where} accepts its new token`)

const old = secret
await ends('its secret rotated', t.token, async () => {
  const r = await api(base, 'POST', `/oauth-clients/${id}/secret`)
  if (r.status !== 200) throw new Error(`rotation: ${r.status} ${JSON.stringify(r.json)}`)
  secret = r.json.secret
})
// The other server may have the client's old secrets cached for a moment:
// within the same 5 s, the old secret is refused there, the new one not.
let withOld
const rotated = Date.now()
do {
  withOld = await token(other, old)
  if (withOld.token) await new Promise(resolve => setTimeout(resolve, 20))
} while (withOld.token && Date.now() - rotated < 5000)
const withNew = await token(other)
if (withOld.error !== 'invalid_client' || withOld.challenge !== 'basic' || !withNew.token) fail('after the rotation only the new secret gets a token', JSON.stringify({ withOld, withNew }))
else pass(`after the rotation the old secret is invalid_client (within ${Date.now() - rotated} ms) and the new one gets a token`)

t = await token(other)
await ends('CLIENT_CREDENTIALS taken away', t.token, patch([
  { op: 'add', path: '/redirectUris/-', value: 'https://app.example.com/cb' },
  { op: 'replace', path: '/grantTypes', value: ['AUTHORIZATION_CODE'] }]))
await patch([{ op: 'replace', path: '/grantTypes', value: ['CLIENT_CREDENTIALS'] }])()
t = await token(other)
if (await lives('CLIENT_CREDENTIALS back', t.token)) pass(`CLIENT_CREDENTIALS back: ${where} accepts its new token`)

await ends('the client deleted', t.token, async () => {
  const r = await api(base, 'DELETE', '/oauth-clients/' + id)
  if (r.status !== 204) throw new Error(`delete: ${r.status}`)
})

if (failures() > 0) {
  console.error(`${failures()} failures`)
  process.exit(1)
}
