// Registers clients with Clientele the way other people's software does:
// openid-client's dynamicClientRegistration (RFC 7591) with an initial
// access token, for a client_secret_basic client and a private_key_jwt
// client whose key jose made; gets a token with each through the library's
// client-credentials grant; then manages each registration by RFC 7592
// with its registration access token: read, replace (which rotates the
// token), delete. Checks the refusals on the way. One line per check; any
// failure exits non-zero.
//
// The server must run with --registration token.
//
// usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET
import * as client from 'openid-client'
import { exportJWK, generateKeyPair } from 'jose'

const [base, adminId, adminSecret] = process.argv.slice(2)
if (!base || !adminId || !adminSecret) {
  console.error('usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET')
  process.exit(2)
}

let failures = 0
function pass (what) { console.log(`ok   ${what}`) }
function fail (what, why) { failures++; console.error(`FAIL ${what}: ${why}`) }

const options = (extra = {}) => ({ algorithm: 'oauth2', execute: [client.allowInsecureRequests], ...extra })

async function call (method, url, token, body) {
  const headers = {}
  if (token) headers.authorization = 'Bearer ' + token
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '', json: text ? JSON.parse(text) : null }
}

// The admin's token is the initial access token (sp:scopes:all holds
// sp:oauth-client:manage).
const adminConfig = await client.discovery(new URL(base), adminId, adminSecret, client.ClientSecretBasic(adminSecret), options())
const admin = (await client.clientCredentialsGrant(adminConfig)).access_token
const meta = adminConfig.serverMetadata()
if (meta.registration_endpoint !== base.replace(/\/$/, '') + '/oauth/register') {
  fail('metadata', `registration_endpoint is ${meta.registration_endpoint}; is the server running with --registration token?`)
  process.exit(1)
}
pass(`metadata names the registration endpoint ${meta.registration_endpoint}`)

// refused runs a registration that must fail and checks how.
async function refused (what, metadata, opts, wantStatus, wantError) {
  try {
    await client.dynamicClientRegistration(new URL(base), metadata, client.None(), options(opts))
    fail(what, 'registered')
  } catch (e) {
    const status = e.status ?? e.cause?.status
    const error = e.error ?? e.cause?.error ?? (e.cause?.find?.((c) => c.parameters?.error)?.parameters?.error)
    if (status === wantStatus && error === wantError) pass(`${what}: ${status} ${error}`)
    else fail(what, `${e.name} ${e.message}: status ${status}, error ${error}; want ${wantStatus} ${wantError}`)
  }
}
await refused('no initial access token', { client_name: 'ci-refused' }, {}, 401, 'invalid_token')
await refused('a scope the initial token does not hold', { client_name: 'ci-refused', scope: 'not:held' },
  { initialAccessToken: (await client.clientCredentialsGrant(adminConfig, { scope: 'sp:oauth-client:manage' })).access_token },
  400, 'invalid_client_metadata')
await refused('an http redirect URI off loopback', { client_name: 'ci-refused', grant_types: ['authorization_code'],
  redirect_uris: ['http://app.example/cb'] }, { initialAccessToken: admin }, 400, 'invalid_redirect_uri')

// register, then use, read, replace and delete one client.
async function lifecycle (what, metadata, auth) {
  const config = await client.dynamicClientRegistration(new URL(base), metadata, auth,
    options({ initialAccessToken: admin }))
  const m = config.clientMetadata()
  const id = m.client_id
  if (!m.registration_access_token || m.registration_client_uri !== `${base.replace(/\/$/, '')}/oauth/register/${id}`) {
    fail(what, `registration answered ${JSON.stringify(m)}`); return
  }
  if (metadata.token_endpoint_auth_method === 'private_key_jwt' ? m.client_secret !== undefined : !/^[0-9a-f]{64}$/.test(m.client_secret)) {
    fail(what, `client_secret ${m.client_secret}`); return
  }
  pass(`${what}: registered ${id} (${m.token_endpoint_auth_method}, scope ${m.scope})`)

  const tok = await client.clientCredentialsGrant(config)
  const use = await call('GET', `${base}/oauth-clients/${id}`, tok.access_token)
  if (use.status !== 200 || use.json.name !== metadata.client_name) { fail(what, `its token read itself: ${use.status}`); return }
  pass(`${what}: a token by the library's client-credentials grant reads the client (${use.json.tokenEndpointAuthMethods})`)

  const rat = m.registration_access_token
  const read = await call('GET', m.registration_client_uri, rat)
  if (read.status !== 200 || read.json.client_id !== id || read.json.client_name !== metadata.client_name) {
    fail(what, `RFC 7592 read: ${read.status} ${JSON.stringify(read.json)}`); return
  }
  pass(`${what}: RFC 7592 read with the registration access token`)
  for (const [where, method, url] of [['the management API', 'GET', `${base}/oauth-clients/${id}`],
    ['the management list', 'GET', `${base}/oauth-clients`]]) {
    const r = await call(method, url, rat)
    if (r.status !== 401 || !r.challenge.startsWith('Bearer')) fail(what, `the registration access token on ${where}: ${r.status}`)
  }
  const intro = await client.tokenIntrospection(adminConfig, rat)
  if (intro.active !== false) fail(what, 'the registration access token introspects as active')
  pass(`${what}: the registration access token is refused by the management API and inactive at introspection`)

  // RFC 7592 §2.2: send back what was read, changed, without the
  // response-only fields.
  const { registration_access_token: _t, registration_client_uri: _u, client_id_issued_at: _i, client_secret_expires_at: _e, ...body } = read.json
  const other = await call('PUT', m.registration_client_uri, rat, { ...body, client_id: 'someone-else' })
  if (other.status !== 400 || other.json.error !== 'invalid_client_metadata') fail(what, `PUT with another client_id: ${other.status}`)
  const put = await call('PUT', m.registration_client_uri, rat, { ...body, client_name: metadata.client_name + ' renamed' })
  const rotated = put.json?.registration_access_token
  if (put.status !== 200 || !rotated || rotated === rat || put.json.client_name !== metadata.client_name + ' renamed') {
    fail(what, `RFC 7592 replace: ${put.status} ${JSON.stringify(put.json)}`); return
  }
  const old = await call('GET', m.registration_client_uri, rat)
  if (old.status !== 401 || !old.challenge.includes('error="invalid_token"')) fail(what, `the rotated token: ${old.status} ${old.challenge}`)
  if ((await call('GET', m.registration_client_uri, rotated)).status !== 200) fail(what, 'the new token does not read')
  pass(`${what}: RFC 7592 replace renames, refuses another client_id, and rotates the registration access token`)

  const again = await client.clientCredentialsGrant(config)
  if (!again.access_token) fail(what, 'no token after the replacement')
  const del = await call('DELETE', m.registration_client_uri, rotated)
  if (del.status !== 204) { fail(what, `RFC 7592 delete: ${del.status}`); return }
  const gone = await call('GET', m.registration_client_uri, rotated)
  const dead = await call('GET', `${base}/oauth-clients/${id}`, again.access_token)
  if (gone.status !== 401 || dead.status !== 401) fail(what, `after the delete: read ${gone.status}, its token ${dead.status}`)
  else pass(`${what}: RFC 7592 delete; the registration and its tokens stop working`)
}

await lifecycle('client_secret_basic', {
  client_name: 'ci-registered-basic',
  grant_types: ['client_credentials'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'sp:oauth-client:read'
}, client.ClientSecretBasic())

const { publicKey, privateKey } = await generateKeyPair('ES256')
const kid = 'ci-registered-es256'
await lifecycle('private_key_jwt', {
  client_name: 'ci-registered-signer',
  grant_types: ['client_credentials'],
  token_endpoint_auth_method: 'private_key_jwt',
  jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
  scope: 'sp:oauth-client:read'
}, client.PrivateKeyJwt({ key: privateKey, kid }))

if (failures > 0) {
  console.error(`${failures} registration check(s) failed`)
  process.exit(1)
}
console.log('registration: every check passed')
