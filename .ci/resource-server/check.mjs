// Checks Clientele's access tokens as resource servers check them: with
// oauth4webapi's RFC 9068 validator and with jose's jwtVerify against the
// remote JWKS, each given an audience. Our tokens must pass both, and a
// token for another audience must be refused by both.
//
// usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET
import * as oauth from 'oauth4webapi'
import { createRemoteJWKSet, jwtVerify } from 'jose'

const [base, adminId, adminSecret] = process.argv.slice(2)
if (!base || !adminId || !adminSecret) {
  console.error('usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET')
  process.exit(2)
}
const insecure = { [oauth.allowInsecureRequests]: true } // CI serves plain http on loopback

async function token (id, secret, params = {}) {
  const body = new URLSearchParams({ grant_type: 'client_credentials' })
  for (const [k, vs] of Object.entries(params)) for (const v of [].concat(vs)) body.append(k, v)
  const res = await fetch(base + '/oauth/token', {
    method: 'POST',
    headers: { authorization: 'Basic ' + btoa(encodeURIComponent(id) + ':' + encodeURIComponent(secret)) },
    body
  })
  const json = await res.json()
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(json)}`)
  return json.access_token
}

let failures = 0
async function expect (what, fn, shouldPass) {
  try {
    await fn()
    if (!shouldPass) { failures++; console.error(`FAIL ${what}: accepted`) } else console.log(`ok   ${what}`)
  } catch (err) {
    if (shouldPass) { failures++; console.error(`FAIL ${what}: ${err.code ?? ''} ${err.message}`) } else console.log(`ok   ${what} (refused: ${err.message})`)
  }
}

const admin = await token(adminId, adminSecret)
const as = await oauth.processDiscoveryResponse(new URL(base),
  await oauth.discoveryRequest(new URL(base), { algorithm: 'oauth2', ...insecure }))
const issuer = as.issuer
const jwks = createRemoteJWKSet(new URL(as.jwks_uri))

const api = 'https://api.ci.example'
const reports = 'urn:ci:reports'
const created = await fetch(base + '/oauth-clients', {
  method: 'POST',
  headers: { authorization: 'Bearer ' + admin, 'content-type': 'application/json' },
  body: JSON.stringify({
    name: 'resource server check ' + Date.now(),
    grantTypes: ['CLIENT_CREDENTIALS'],
    scope: ['sp:oauth-client:read'],
    audience: [api, reports]
  })
})
const client = await created.json()
if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(client)}`)

const forApi = await token(client.id, client.secret, { resource: api })
const forBoth = await token(client.id, client.secret)
const asResourceServer = (tok) => new Request(api + '/orders', { headers: { authorization: 'Bearer ' + tok } })

await expect('oauth4webapi accepts a token for its audience',
  () => oauth.validateJwtAccessToken(as, asResourceServer(forApi), api, insecure), true)
await expect('oauth4webapi accepts a token of the whole audience',
  () => oauth.validateJwtAccessToken(as, asResourceServer(forBoth), reports, insecure), true)
await expect('oauth4webapi refuses a token for another audience',
  () => oauth.validateJwtAccessToken(as, asResourceServer(forApi), reports, insecure), false)
await expect('oauth4webapi refuses a wrong audience',
  () => oauth.validateJwtAccessToken(as, asResourceServer(forBoth), 'https://wrong.example', insecure), false)

await expect('jose accepts a token for its audience',
  () => jwtVerify(forApi, jwks, { issuer, audience: api, typ: 'at+jwt' }), true)
await expect('jose accepts a token of the whole audience',
  () => jwtVerify(forBoth, jwks, { issuer, audience: reports, typ: 'at+jwt' }), true)
await expect('jose refuses a token for another audience',
  () => jwtVerify(forApi, jwks, { issuer, audience: reports }), false)
await expect('jose refuses a wrong audience',
  () => jwtVerify(forBoth, jwks, { issuer, audience: 'https://wrong.example' }), false)

const refused = await fetch(base + '/oauth/token', {
  method: 'POST',
  headers: { authorization: 'Basic ' + btoa(client.id + ':' + client.secret) },
  body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://wrong.example' })
})
const refusedBody = await refused.json()
if (refused.status !== 400 || refusedBody.error !== 'invalid_target') {
  failures++
  console.error(`FAIL a resource outside the audience: ${refused.status} ${JSON.stringify(refusedBody)}`)
} else console.log('ok   a resource outside the audience is invalid_target')

await fetch(base + '/oauth-clients/' + client.id, { method: 'DELETE', headers: { authorization: 'Bearer ' + admin } })
if (failures) {
  console.error(`${failures} check(s) failed`)
  process.exit(1)
}
console.log('resource servers accept our tokens for their audience and refuse others')
