// SailPoint's own TypeScript SDK (sailpoint-api-client), pointed at
// Clientele as a team moving from SailPoint would point it, changing
// nothing else (SPEC §3: the routes are also served under /v3, where the
// SDK puts them):
//
//   - its Configuration fetches the token itself (a multipart
//     client_credentials POST to /oauth/token), from parameters and from
//     SAIL_BASE_URL, SAIL_CLIENT_ID and SAIL_CLIENT_SECRET;
//   - its OAuthClientsApi creates, reads, lists with filters, patches
//     (application/json-patch+json) and deletes a client;
//   - every answer is judged against the types the SDK itself declares in
//     its api.d.ts (CreateOAuthClientResponse, GetOAuthClientResponse,
//     ErrorResponseDto), read from the installed package rather than
//     copied here, so the check follows the SDK and an enum value the SDK
//     cannot represent fails it;
//   - its errors: a refused patch (400.1.1), a failed test (409.1), an
//     unknown id (404), a bad token (401), a disabled client's token fetch;
//   - its retries (axios-retry, configured as SailPoint's documentation
//     shows) ride out the rate limit's 429s by their Retry-After.
//
// It needs the server's rate limit on (the default, SPEC §6).
//
// usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import axios from 'axios'
import * as sdk from 'sailpoint-api-client'
import { report } from '../admin.mjs'

const [base, adminId, adminSecret] = process.argv.slice(2)
if (!base || !adminId || !adminSecret) {
  console.error('usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET')
  process.exit(2)
}
const { pass, fail, failures } = report()
const tokenUrl = base + '/oauth/token'

// The SDK's own declarations of the v3 API: each interface's members, as
// name → { type, optional }.
const require = createRequire(import.meta.url)
const dts = readFileSync(join(dirname(require.resolve('sailpoint-api-client')), 'v3', 'api.d.ts'), 'utf8')
function declared (name) {
  const m = dts.match(new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`))
  if (!m) throw new Error(`the SDK declares no interface ${name}`)
  const members = {}
  for (const [, member, optional, type] of m[1].matchAll(/^\s*'([^']+)'(\?)?: (.+);$/gm)) {
    members[member] = { type, optional: optional === '?' }
  }
  return members
}

// problems lists how value differs from the SDK's type (a TypeScript type
// as api.d.ts writes it), at where.
function problems (value, type, where) {
  const alternatives = type.split(' | ').map(t => t.trim())
  const found = []
  for (const t of alternatives) {
    const p = oneType(value, t, where)
    if (p.length === 0) return []
    found.push(...p)
  }
  return alternatives.length === 1 ? found : [`${where}: ${JSON.stringify(value)} is not ${type}`]
}

function oneType (value, t, where) {
  switch (t) {
    case 'null': return value === null ? [] : [`${where}: not null`]
    case 'string': case 'number': case 'boolean':
      return typeof value === t ? [] : [`${where}: ${JSON.stringify(value)} is not a ${t}`]
    case 'object': return value !== null && typeof value === 'object' ? [] : [`${where}: not an object`]
  }
  const array = t.match(/^Array<(.+)>$/)
  if (array) {
    if (!Array.isArray(value)) return [`${where}: not an array`]
    return value.flatMap((v, i) => problems(v, array[1], `${where}[${i}]`))
  }
  if (Object.hasOwn(sdk, t) && typeof sdk[t] === 'object') { // an enum: a const of its values
    const allowed = Object.values(sdk[t])
    return allowed.includes(value) ? [] : [`${where}: ${JSON.stringify(value)} is not a ${t} (${allowed.join(', ')})`]
  }
  if (new RegExp(`export interface ${t} \\{`).test(dts)) return conforms(value, t, where)
  return [`${where}: the check cannot judge the SDK's type ${t}`]
}

// conforms lists how value differs from the SDK's interface name: a
// required member missing, or a member of another type. Members the SDK
// does not declare are allowed, as its models ignore them.
function conforms (value, name, where = name) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`${where}: not an object`]
  const out = []
  for (const [member, { type, optional }] of Object.entries(declared(name))) {
    if (!(member in value)) {
      if (!optional) out.push(`${where}.${member}: missing`)
      continue
    }
    out.push(...problems(value[member], type, `${where}.${member}`))
  }
  return out
}

function judge (what, value, name) {
  const p = conforms(value, name)
  if (p.length === 0) pass(`${what} is the SDK's ${name}`)
  else fail(`${what} is the SDK's ${name}`, p.slice(0, 5).join('; '))
}

// outcome runs an SDK call and returns its response, or the error's.
async function outcome (call) {
  try {
    return await call()
  } catch (err) {
    if (err.response) return err.response
    throw err
  }
}

function expectError (what, res, status, detailCode) {
  if (res.status !== status) {
    fail(what, `status ${res.status}, want ${status}: ${JSON.stringify(res.data)}`)
    return
  }
  if (detailCode !== undefined && res.data?.detailCode !== detailCode) {
    fail(what, `detailCode ${JSON.stringify(res.data?.detailCode)}, want ${detailCode}`)
    return
  }
  pass(what)
}

// Retries as SailPoint's documentation configures them: on a 429, after
// what its Retry-After says.
const onLimit = (count) => ({
  retries: 20,
  retryCondition: (err) => err.response?.status === 429,
  retryDelay: (_, err) => 1000 * Number(err.response?.headers['retry-after'] ?? 1),
  onRetry: count
})

// oauthClients is the SDK's OAuthClientsApi for config, with an axios of its
// own: the SDK adds its retries to the axios it is given at every call, so
// on the shared default one each configuration's retries would apply to
// every other's calls.
const oauthClients = (config) => new sdk.OAuthClientsApi(config, undefined, axios.create())

// The admin, on the server the other checks share (its rate limit on).
const config = new sdk.Configuration({ baseurl: base, clientId: adminId, clientSecret: adminSecret, tokenUrl })
config.retriesConfig = onLimit()
const api = oauthClients(config)

// Its token, fetched by the SDK from the environment as its documentation
// shows first.
{
  Object.assign(process.env, { SAIL_BASE_URL: base, SAIL_CLIENT_ID: adminId, SAIL_CLIENT_SECRET: adminSecret })
  const fromEnvConfig = new sdk.Configuration()
  fromEnvConfig.retriesConfig = onLimit()
  const fromEnv = oauthClients(fromEnvConfig)
  const res = await outcome(() => fromEnv.listOauthClients({ filters: 'name eq "no such client"' }))
  if (res.status === 200 && Array.isArray(res.data) && res.data.length === 0) pass('the SDK configured from SAIL_* lists (none match)')
  else fail('the SDK configured from SAIL_* lists', `${res.status} ${JSON.stringify(res.data)}`)
  if (res.request?.path?.startsWith('/v3/oauth-clients')) pass(`the SDK calls ${res.request.path.split('?')[0]}`)
  else fail('the SDK calls /v3/oauth-clients', res.request?.path)
}

const name = `sailpoint-sdk-${process.pid}-${Date.now()}`
const body = {
  name,
  description: 'made by SailPoint\'s SDK',
  businessName: 'Acme',
  homepageUrl: 'https://acme.example',
  accessTokenValiditySeconds: 750,
  refreshTokenValiditySeconds: 86400,
  redirectUris: ['https://acme.example/callback'],
  grantTypes: [sdk.GrantType.AuthorizationCode, sdk.GrantType.ClientCredentials, sdk.GrantType.RefreshToken],
  accessType: sdk.AccessType.Offline,
  type: sdk.ClientType.Confidential,
  internal: false,
  enabled: true,
  strongAuthSupported: false,
  claimsSupported: false,
  scope: ['sp:oauth-client:read']
}
const created = await outcome(() => api.createOauthClient({ createOAuthClientRequest: body }))
if (created.status !== 201) {
  console.error(`FAIL create: ${created.status} ${JSON.stringify(created.data)}`)
  process.exit(1)
}
pass('createOauthClient answers 201')
judge('the created client', created.data, 'CreateOAuthClientResponse')
const id = created.data.id
{
  const differ = Object.keys(body).filter(k => JSON.stringify(created.data[k]) !== JSON.stringify(body[k]))
  if (differ.length === 0) pass('the created client has every member the SDK sent')
  else fail('the created client has every member the SDK sent', differ.map(k => `${k}: ${JSON.stringify(created.data[k])}`).join(', '))
}

const got = await outcome(() => api.getOauthClient({ id }))
if (got.status === 200) judge('getOauthClient', got.data, 'GetOAuthClientResponse')
else fail('getOauthClient', `${got.status} ${JSON.stringify(got.data)}`)
{
  const { secret, ...rest } = created.data
  if (JSON.stringify(rest) === JSON.stringify(got.data)) pass('getOauthClient gives the created client, without its secret')
  else fail('getOauthClient gives the created client, without its secret', JSON.stringify(got.data))
}

for (const filters of [`name eq "${name}"`, `name sw "${name.slice(0, -3)}" and type eq "CONFIDENTIAL"`]) {
  const listed = await outcome(() => api.listOauthClients({ filters }))
  const ids = Array.isArray(listed.data) ? listed.data.map(c => c.id) : []
  if (listed.status === 200 && ids.length === 1 && ids[0] === id) {
    pass(`listOauthClients({ filters: '${filters}' }) finds it alone`)
    judge('a listed client', listed.data[0], 'GetOAuthClientResponse')
  } else {
    fail(`listOauthClients({ filters: '${filters}' })`, `${listed.status} ${JSON.stringify(listed.data)}`)
  }
}

// PATCH as the SDK sends it: JsonPatchOperation[] as application/json-patch+json.
const ops = [
  { op: 'test', path: '/accessTokenValiditySeconds', value: 750 },
  { op: 'replace', path: '/description', value: 'patched by SailPoint\'s SDK' },
  { op: 'add', path: '/redirectUris/-', value: 'https://acme.example/second' },
  { op: 'remove', path: '/homepageUrl' },
  { op: 'replace', path: '/grantTypes', value: [sdk.GrantType.ClientCredentials] },
  { op: 'replace', path: '/accessTokenValiditySeconds', value: 900 }
]
const patched = await outcome(() => api.patchOauthClient({ id, jsonPatchOperation: ops }))
if (patched.status !== 200) {
  fail('patchOauthClient', `${patched.status} ${JSON.stringify(patched.data)}`)
} else {
  judge('the patched client', patched.data, 'GetOAuthClientResponse')
  const want = {
    description: 'patched by SailPoint\'s SDK',
    redirectUris: ['https://acme.example/callback', 'https://acme.example/second'],
    homepageUrl: null,
    grantTypes: ['CLIENT_CREDENTIALS'],
    accessTokenValiditySeconds: 900
  }
  const differ = Object.keys(want).filter(k => JSON.stringify(patched.data[k]) !== JSON.stringify(want[k]))
  if (differ.length === 0) pass('patchOauthClient applied every operation')
  else fail('patchOauthClient applied every operation', differ.map(k => `${k}: ${JSON.stringify(patched.data[k])}`).join(', '))
}

// Refusals, each the SDK's ErrorResponseDto, and nothing changed by them.
const refusals = [
  ['a patch of /secret', [{ op: 'replace', path: '/secret', value: 'mine now' }], 400, '400.1.1 Illegal update attempt'],
  ['a patch of /id', [{ op: 'replace', path: '/id', value: 'another' }], 400, '400.1.1 Illegal update attempt'],
  ['a failed test', [{ op: 'test', path: '/accessTokenValiditySeconds', value: 750 }, { op: 'replace', path: '/enabled', value: false }], 409, '409.1 Conflict'],
  ['a value of the wrong type', [{ op: 'replace', path: '/enabled', value: 'no' }], 400, '400.1.3 Illegal value']
]
for (const [what, patch, status, detailCode] of refusals) {
  const res = await outcome(() => api.patchOauthClient({ id, jsonPatchOperation: patch }))
  expectError(`${what}: ${status} ${detailCode}`, res, status, detailCode)
  judge(`the refusal of ${what}`, res.data, 'ErrorResponseDto')
}
{
  const after = await outcome(() => api.getOauthClient({ id }))
  if (after.status === 200 && JSON.stringify(after.data) === JSON.stringify(patched.data)) pass('the refused patches changed nothing')
  else fail('the refused patches changed nothing', JSON.stringify(after.data))
}

{
  const res = await outcome(() => api.getOauthClient({ id: '0'.repeat(32) }))
  expectError('an unknown id: 404', res, 404, '404 Not found')
  judge('the 404', res.data, 'ErrorResponseDto')
}

{
  const bogus = oauthClients(new sdk.Configuration({ baseurl: base, accessToken: 'not-a-token' }))
  const res = await outcome(() => bogus.listOauthClients())
  expectError('a bad token: 401', res, 401)
  // The SDK declares this body ListAccessProfiles401Response, { error?:
  // object }, and SailPoint answers a string there, as SPEC §5 does.
  if (typeof res.data?.error === 'string' && /^Bearer /.test(res.headers['www-authenticate'] ?? '')) pass('the 401 says why, with a Bearer challenge')
  else fail('the 401 says why, with a Bearer challenge', `${JSON.stringify(res.data)} ${res.headers['www-authenticate']}`)
}

// A client of its own, so that its rate limit is its own.
const reader = await outcome(() => api.createOauthClient({
  createOAuthClientRequest: {
    name: name + '-reader', description: null, accessTokenValiditySeconds: 750, grantTypes: [sdk.GrantType.ClientCredentials],
    accessType: sdk.AccessType.Online, enabled: true, scope: ['sp:oauth-client:read']
  }
}))
if (reader.status !== 201) {
  console.error(`FAIL create the reader: ${reader.status} ${JSON.stringify(reader.data)}`)
  process.exit(1)
}
const readerConfig = (retriesConfig) => {
  const c = new sdk.Configuration({ baseurl: base, clientId: reader.data.id, clientSecret: reader.data.secret, tokenUrl })
  c.retriesConfig = retriesConfig
  return oauthClients(c)
}

// Without retries, the reader's calls meet the limit: the SDK's 429 shape,
// with a Retry-After in whole seconds.
{
  const noRetries = readerConfig({ retries: 0 })
  let limited
  for (let i = 0; i < 400 && !limited; i += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => outcome(() => noRetries.getOauthClient({ id }))))
    limited = batch.find(r => r.status === 429)
    const other = batch.find(r => r.status !== 200 && r.status !== 429)
    if (other) {
      fail('the reader reads', `${other.status} ${JSON.stringify(other.data)}`)
      break
    }
  }
  if (!limited) {
    fail('the rate limit answers 429', 'no 429 in 400 calls: is the server\'s rate limit on?')
  } else {
    // ListAccessProfiles429Response, { message?: object }, in the SDK; a
    // string in SailPoint's answers and SPEC §5.
    const after = limited.headers['retry-after']
    if (limited.data.message === 'Rate Limit Exceeded' && /^[1-9][0-9]*$/.test(after ?? '')) pass(`the 429 says Rate Limit Exceeded, Retry-After: ${after}`)
    else fail('the 429 says Rate Limit Exceeded, with Retry-After in whole seconds', `${JSON.stringify(limited.data)} Retry-After: ${after}`)
  }
}

// With retries as SailPoint's documentation configures them (on 429,
// waiting what Retry-After says), every call of a burst succeeds.
{
  let retried = 0
  const withRetries = readerConfig(onLimit(() => { retried++ }))
  const started = Date.now()
  const burst = await Promise.all(Array.from({ length: 40 }, () => outcome(() => withRetries.getOauthClient({ id }))))
  const bad = burst.filter(r => r.status !== 200)
  if (bad.length === 0 && retried > 0) pass(`a burst of 40 reads after the limit all succeed, the SDK retrying ${retried} times over ${((Date.now() - started) / 1000).toFixed(1)} s`)
  else fail('a burst of 40 reads after the limit all succeed through the SDK\'s retries', `${bad.length} failed (${bad.map(r => r.status).join(' ')}), ${retried} retries`)
}

// A disabled client's SDK cannot fetch its token.
{
  const off = await outcome(() => api.patchOauthClient({ id: reader.data.id, jsonPatchOperation: [{ op: 'replace', path: '/enabled', value: false }] }))
  if (off.status !== 200) fail('disable the reader', `${off.status} ${JSON.stringify(off.data)}`)
  const quiet = console.error
  console.error = () => {} // the SDK prints "Unable to fetch access token" itself
  let err
  try {
    await readerConfig({ retries: 0 }).getOauthClient({ id })
  } catch (e) {
    err = e
  } finally {
    console.error = quiet
  }
  if (err && !err.response && /401/.test(String(err.message))) pass('a disabled client\'s SDK fails at its token fetch (401)')
  else fail('a disabled client\'s SDK fails at its token fetch (401)', err ? `${err.response?.status ?? ''} ${err.message}` : 'it read the client')
}

for (const [what, which] of [['the client', id], ['the reader', reader.data.id]]) {
  const del = await outcome(() => api.deleteOauthClient({ id: which }))
  const gone = await outcome(() => api.getOauthClient({ id: which }))
  if (del.status === 204 && gone.status === 404) pass(`deleteOauthClient: 204, then ${what} is 404`)
  else fail(`deleteOauthClient ${what}`, `${del.status}, then ${gone.status}`)
}

if (failures() > 0) {
  console.error(`sailpoint: ${failures()} failed`)
  process.exit(1)
}
console.log('sailpoint: SailPoint\'s SDK, pointed at Clientele, works unchanged')
