// Authenticates clients to Clientele the way other people's software does:
// openid-client's PrivateKeyJwt (RFC 7523) with keys made by jose, for
// ES256, RS256, PS256 and EdDSA, from jwks and from a jwksUri; refuses
// assertions that must not pass (SPEC §6), each with 401 invalid_client;
// and rotates a secret with grace, so the old and the new one both get
// tokens (SPEC §9). One line per check; any failure exits non-zero.
//
// The server must run with --allow-private-jwks-uri: the jwksUri is served
// here, on 127.0.0.1.
//
// usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET
import http from 'node:http'
import { randomUUID } from 'node:crypto'
import * as client from 'openid-client'
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose'

const [base, adminId, adminSecret] = process.argv.slice(2)
if (!base || !adminId || !adminSecret) {
  console.error('usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET')
  process.exit(2)
}
const assertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

let failures = 0
function pass (what) { console.log(`ok   ${what}`) }
function fail (what, why) { failures++; console.error(`FAIL ${what}: ${why}`) }

async function form (body, headers = {}) {
  const res = await fetch(base + '/oauth/token', { method: 'POST', headers, body: new URLSearchParams(body) })
  return { status: res.status, json: await res.json().catch(() => ({})) }
}

async function api (method, path, token, body) {
  const headers = { authorization: 'Bearer ' + token }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) : null }
}

const basic = (id, secret) => ({ authorization: 'Basic ' + btoa(encodeURIComponent(id) + ':' + encodeURIComponent(secret)) })

const adminRes = await form({ grant_type: 'client_credentials' }, basic(adminId, adminSecret))
if (adminRes.status !== 200) {
  console.error(`FAIL admin token: ${adminRes.status} ${JSON.stringify(adminRes.json)}`)
  process.exit(1)
}
const admin = adminRes.json.access_token

const discovered = await client.discovery(new URL(base), 'discovery-only', undefined, client.None(),
  { algorithm: 'oauth2', execute: [client.allowInsecureRequests] })
const meta = discovered.serverMetadata()
if (!meta.token_endpoint_auth_methods_supported?.includes('private_key_jwt')) fail('metadata', 'private_key_jwt not listed')
else pass(`metadata lists private_key_jwt, algorithms ${meta.token_endpoint_auth_signing_alg_values_supported}`)

async function createClient (name, extra) {
  const res = await api('POST', '/oauth-clients', admin, {
    name, tenant: 'ci', grantTypes: ['CLIENT_CREDENTIALS'], scope: ['sp:oauth-client:read'], ...extra
  })
  if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${JSON.stringify(res.json)}`)
  return res.json
}

// publicJWK is the public half of a jose key pair as a JWK with kid and alg.
async function publicJWK (publicKey, alg, kid) {
  return { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
}

// EdDSA: WebCrypto names the key Ed25519 and oauth4webapi would write that
// into the header; RFC 8037's name is EdDSA.
const remapEd25519 = { [client.modifyAssertion]: (header) => { if (header.alg === 'Ed25519') header.alg = 'EdDSA' } }

async function grantWithKey (what, clientId, privateKey, kid) {
  try {
    const config = await client.discovery(new URL(base), clientId, undefined,
      client.PrivateKeyJwt({ key: privateKey, kid }, remapEd25519),
      { algorithm: 'oauth2', execute: [client.allowInsecureRequests] })
    const tok = await client.clientCredentialsGrant(config)
    if (!tok.access_token) throw new Error('no access_token')
    const use = await api('GET', '/oauth-clients/' + clientId, tok.access_token)
    if (use.status !== 200) throw new Error(`the token reads its own client: ${use.status}`)
    pass(what)
  } catch (err) {
    // openid-client keeps the server's answer on the error; its body says why.
    const body = err.response && !err.response.bodyUsed ? await err.response.text().catch(() => '') : ''
    fail(what, `${err.code ?? ''} ${err.message} ${err.error_description ?? ''} ${body}`)
  }
}

// 1. Each algorithm, keys in jwks, assertions by openid-client.
const keys = {}
for (const alg of ['ES256', 'RS256', 'PS256', 'EdDSA']) {
  const pair = await generateKeyPair(alg, { extractable: true })
  const kid = 'ci-' + alg.toLowerCase()
  keys[alg] = { ...pair, kid }
  const cl = await createClient('pkjwt ' + alg, {
    tokenEndpointAuthMethods: ['private_key_jwt'],
    jwks: { keys: [await publicJWK(pair.publicKey, alg, kid)] }
  })
  keys[alg].clientId = cl.id
  await grantWithKey(`${alg}: openid-client PrivateKeyJwt gets a token (jwks)`, cl.id, pair.privateKey, kid)
}

// 2. A jwksUri served on loopback.
const uriPair = await generateKeyPair('ES256', { extractable: true })
const uriJWKS = JSON.stringify({ keys: [await publicJWK(uriPair.publicKey, 'ES256', 'ci-uri')] })
const jwksServer = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(uriJWKS)
})
await new Promise((resolve) => jwksServer.listen(0, '127.0.0.1', resolve))
try {
  const uriClient = await createClient('pkjwt jwksUri', {
    tokenEndpointAuthMethods: ['private_key_jwt'],
    jwksUri: `http://127.0.0.1:${jwksServer.address().port}/jwks.json`
  })
  await grantWithKey('ES256: openid-client PrivateKeyJwt gets a token (jwksUri on 127.0.0.1)', uriClient.id, uriPair.privateKey, 'ci-uri')
} finally {
  jwksServer.close()
}

// 3. Refusals: hand-made assertions for the ES256 client, each 401 invalid_client.
const es = keys.ES256
const now = Math.floor(Date.now() / 1000)
function claims (over = {}) {
  return { iss: es.clientId, sub: es.clientId, aud: meta.issuer, jti: randomUUID(), iat: now, exp: now + 60, ...over }
}
async function signed (payload, key = es.privateKey, header = { alg: 'ES256', kid: es.kid }) {
  return new SignJWT(payload).setProtectedHeader(header).sign(key)
}
async function refused (what, assertion) {
  const res = await form({ grant_type: 'client_credentials', client_id: es.clientId, client_assertion_type: assertionType, client_assertion: assertion })
  if (res.status === 401 && res.json.error === 'invalid_client') pass(`${what}: refused (${res.json.error_description})`)
  else fail(what, `got ${res.status} ${JSON.stringify(res.json)}, want 401 invalid_client`)
}

// A control: the hand-made assertion itself is good, so the refusals below
// are refused for the one thing each changes.
const good = await signed(claims())
const control = await form({ grant_type: 'client_credentials', client_id: es.clientId, client_assertion_type: assertionType, client_assertion: good })
if (control.status === 200) pass('a hand-made ES256 assertion (jose SignJWT) gets a token')
else fail('hand-made ES256 assertion', `${control.status} ${JSON.stringify(control.json)}`)

await refused('the same assertion again (jti reused)', good)
await refused('alg none', new UnsecuredJWT(claims()).encode())
const pem = new TextEncoder().encode(await exportSPKI(es.publicKey))
await refused('HS256 with the public key as the secret', await signed(claims(), pem, { alg: 'HS256', kid: es.kid }))
await refused('a wrong aud', await signed(claims({ aud: 'https://elsewhere.example/token' })))
await refused('an expired exp', await signed(claims({ iat: now - 600, exp: now - 300 })))
await refused('an exp an hour ahead', await signed(claims({ exp: now + 3600 })))
const stranger = await generateKeyPair('ES256')
await refused('a key not in the set', await signed(claims(), stranger.privateKey, { alg: 'ES256', kid: es.kid }))
await refused('a key not in the set, under its own kid', await signed(claims(), stranger.privateKey, { alg: 'ES256', kid: 'stranger' }))

// 4. A secret rotation with grace: old and new secrets both get tokens.
const rotating = await createClient('rotating', {})
const rotated = await api('POST', `/oauth-clients/${rotating.id}/secret`, admin, { graceSeconds: 3600 })
if (rotated.status !== 200 || !rotated.json.secret) fail('rotation with grace', `${rotated.status} ${JSON.stringify(rotated.json)}`)
else {
  for (const [what, secret] of [['the old secret', rotating.secret], ['the new secret', rotated.json.secret]]) {
    const res = await form({ grant_type: 'client_credentials' }, basic(rotating.id, secret))
    if (res.status === 200) pass(`after a rotation with graceSeconds 3600, ${what} gets a token`)
    else fail(`rotation: ${what}`, `${res.status} ${JSON.stringify(res.json)}`)
  }
  const listed = await api('GET', `/oauth-clients/${rotating.id}/secrets`, admin)
  const expiring = listed.json?.filter?.((s) => s.expires !== null).length
  if (listed.status === 200 && listed.json.length === 2 && expiring === 1 && !JSON.stringify(listed.json).includes(rotating.secret)) {
    pass('the secrets list shows two live secrets, the old one expiring, no values')
  } else fail('secrets list', `${listed.status} ${JSON.stringify(listed.json)}`)
}

for (const cl of [...Object.values(keys).map((k) => k.clientId), rotating.id]) {
  await api('DELETE', '/oauth-clients/' + cl, admin)
}
if (failures) {
  console.error(`${failures} client-authentication check(s) failed`)
  process.exit(1)
}
console.log('client authentication: every check passed')
