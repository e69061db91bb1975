// Checks PATCH /oauth-clients/{id} of a running Clientele against JSON
// Patch implementations nobody on this project wrote: rfc6902 (chbrown) and
// fast-json-patch (Starcounter-Jack), and, for one patch in five, a JSON
// merge patch (RFC 7396) against json-merge-patch (pierreinglebert). Random
// patches (seeded, bounded in count and time) over every allowlisted member
// of a few live clients go to the server over HTTP; each library applies
// the same patch to the client's patchable members as the server showed
// them, and the server must agree:
//
//   libraries apply it        -> 200 and the same members; or a refusal of
//                                the result (400.1.0 to 400.1.3) that a
//                                dry-run PATCH replacing every member with
//                                the libraries' result gets too, cause for
//                                cause; or 400.1.4 when that result passes
//                                64 KiB
//   a test operation fails    -> 409.1 Conflict
//   any other operation fails -> 400.1 Bad Request Content
//   a path outside the allowlist, in any operation or merge patch member
//                             -> 400.1.1 Illegal update attempt, and the
//                                client's ETag stays
//   copies copy more than 64 KiB, or the result passes it
//                             -> 400.1.4 Limit violation, also when a later
//                                operation would fail (within a tenth of
//                                the limit either answer is right: the
//                                server measures canonical JSON)
//
// and a refused or dry-run PATCH leaves the client as it was. Numbers are
// written in several spellings (3600, 3600.0, 3.6e3), objects with their
// members shuffled, so test is checked by value (SPEC §4 rule 6).
//
// Two departures of both libraries from RFC 6902 are closed here, not
// ignored. §4.4 defines move as a remove at from followed by an add at
// path, and §4.5 copy as an add at path: so moving element 0 of a
// one-element array to index 1 must fail (after the remove, index 1 is past
// the end), and so must copying to an index past the end. Both libraries
// check a move's target before the remove, and neither checks a copy's
// index, so both accept these. The oracles here apply a move as that remove
// and that add, and a copy as that add, through each library; every other
// operation is the library's own.
//
// usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET [PATCHES] [SEED]
import { generateKeyPairSync } from 'node:crypto'
import { applyPatch as rfcApply } from 'rfc6902'
import fjp from 'fast-json-patch'
import mergePatch from 'json-merge-patch'
import { adminToken, canon, send } from '../admin.mjs'

const [base, adminId, adminSecret, countArg, seedArg] = process.argv.slice(2)
if (!base || !adminId || !adminSecret) {
  console.error('usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET [PATCHES] [SEED]')
  process.exit(2)
}
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(base)) {
  console.error('BASE_URL must be http://127.0.0.1:PORT: this check sends load to loopback only')
  process.exit(2)
}
const patches = Number(countArg || 3000)
const seed = Number(seedArg || Date.now() % 1e9)
const deadline = Date.now() + 120_000 // a bound in time beside the count
console.log(`seed ${seed} (node check.mjs BASE_URL ID SECRET ${patches} ${seed} repeats this run)`)

// mulberry32: a small seeded generator, so a failure can be replayed.
let state = seed >>> 0
function rnd () {
  state = (state + 0x6d2b79f5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (xs) => xs[Math.floor(rnd() * xs.length)]
const chance = (p) => rnd() < p

// ---- the API ----
const token = await adminToken(base, adminId, adminSecret)

async function api (method, path, body, contentType) {
  let r = await send(base, token, method, path, body, contentType)
  // A rate-limited request is sent again after Retry-After, as a client
  // should; the run is meant for a server without a limit.
  for (let i = 0; r.status === 429 && i < 3; i++) {
    await new Promise(resolve => setTimeout(resolve, 1000 * Number(r.res.headers.get('retry-after') || 1)))
    r = await send(base, token, method, path, body, contentType)
  }
  return { status: r.status, json: r.json, etag: r.res.headers.get('etag') }
}

// ---- the patchable members (SPEC §4 rule 1) and values for them ----
const members = ['tenant', 'businessName', 'homepageUrl', 'name', 'description', 'accessTokenValiditySeconds',
  'refreshTokenValiditySeconds', 'redirectUris', 'grantTypes', 'accessType', 'enabled', 'strongAuthSupported',
  'claimsSupported', 'tokenEndpointAuthMethods', 'jwks', 'jwksUri', 'audience']
const nullable = ['description', 'businessName', 'homepageUrl', 'tenant', 'jwks', 'jwksUri']
const arrays = ['redirectUris', 'grantTypes', 'tokenEndpointAuthMethods', 'audience']

function projection (client) {
  const out = {}
  for (const m of members) out[m] = client[m] === undefined ? null : client[m]
  return out
}

function jwk (kid) {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' }
}
const keys = [jwk('k1'), jwk('k2'), jwk('k3')]

const elements = {
  redirectUris: ['https://app.example.com/cb', 'https://app.example.com/cb2', 'http://127.0.0.1:8080/cb',
    'https://other.example.org/callback', 'not a uri', 'https://app.example.com/cb#frag'],
  grantTypes: ['CLIENT_CREDENTIALS', 'AUTHORIZATION_CODE', 'REFRESH_TOKEN', 'PASSWORD'],
  tokenEndpointAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none', 'tls_client_auth'],
  audience: ['https://api.example.com', 'orders', 'billing', 'has space', '']
}
const scalars = {
  tenant: [null, 'acme', 'Globex', '', 'x'.repeat(256)],
  businessName: [null, 'Acme Corp', 'Ünïcödé GmbH', 'x'.repeat(300)],
  homepageUrl: [null, 'https://acme.example.com', 'http://acme.example.com/home', 'ftp://acme.example.com', 'acme'],
  name: ['payments', 'Payments service', '', '   ', 'n'.repeat(129), 'line\nbreak'],
  description: [null, 'the payments backend', '', 'd'.repeat(2049)],
  accessTokenValiditySeconds: [3600, 60, 86400, 59, 86401, 0, 7200, 1.5],
  refreshTokenValiditySeconds: [86400, 60, 31536000, 31536001, 3600, 0],
  accessType: ['ONLINE', 'OFFLINE', 'online', 'BATCH'],
  enabled: [true, false],
  strongAuthSupported: [true, false],
  claimsSupported: [true, false],
  jwks: [null, { keys: [keys[0]] }, { keys: [keys[1], keys[2]] }, { keys: [] }, { notKeys: 1 }],
  jwksUri: [null, 'https://keys.example.com/jwks.json', 'http://keys.example.com/jwks.json']
}

function valueFor (member) {
  if (arrays.includes(member)) {
    if (chance(0.1)) return pick(['a string', 7, null, {}])
    const n = Math.floor(rnd() * 4)
    return Array.from({ length: n }, () => pick(elements[member]))
  }
  if (chance(0.08)) return pick(['a string', 12, true, null, [], { a: 1 }])
  return structuredClone(pick(scalars[member]))
}

function elementFor (member) {
  if (member === 'jwks') return structuredClone(pick(keys))
  if (chance(0.08)) return pick([3, null, ['nested'], { a: 'b' }])
  return pick(elements[member])
}

// A path into doc: a member, an element of an array member (an index
// that may be past the end; '-' only where SPEC §4 allows it, as an add,
// copy or move target), or /jwks/keys and its elements.
function pathFor (doc, target) {
  const m = pick(members)
  const v = doc[m]
  if (arrays.includes(m) && chance(0.6)) {
    if (target && chance(0.25)) return { path: `/${m}/-`, member: m }
    const len = Array.isArray(v) ? v.length : 0
    return { path: `/${m}/${Math.floor(rnd() * (len + 2))}`, member: m }
  }
  if (m === 'jwks' && chance(0.6)) {
    const keysNow = v && Array.isArray(v.keys) ? v.keys.length : 0
    if (chance(0.3)) return { path: '/jwks/keys', member: m, whole: true }
    if (target && chance(0.25)) return { path: '/jwks/keys/-', member: m }
    return { path: `/jwks/keys/${Math.floor(rnd() * (keysNow + 2))}`, member: m }
  }
  return { path: `/${m}`, member: m, whole: true }
}

// What the document holds at path, or undefined.
function at (doc, path) {
  let cur = doc
  for (const raw of path.split('/').slice(1)) {
    const tok = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    if (cur === null || typeof cur !== 'object') return undefined
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(tok) || Number(tok) >= cur.length) return undefined
      cur = cur[Number(tok)]
    } else {
      if (!Object.hasOwn(cur, tok)) return undefined
      cur = cur[tok]
    }
  }
  return cur
}

function operation (doc) {
  const op = pick(['add', 'add', 'remove', 'replace', 'replace', 'move', 'copy', 'test', 'test', 'test'])
  const target = op === 'add' || op === 'copy' || op === 'move'
  const p = pathFor(doc, target)
  const out = { op, path: p.path }
  if (op === 'move' || op === 'copy') out.from = pathFor(doc, false).path
  if (op === 'add' || op === 'replace') {
    if (p.path === '/jwks/keys') out.value = chance(0.8) ? [structuredClone(pick(keys))] : 'keys'
    else out.value = p.whole ? valueFor(p.member) : elementFor(p.member)
  }
  if (op === 'test') {
    // Mostly what is there (a test that should hold, in another spelling),
    // else another value of the same kind, else anything.
    const here = at(doc, p.path)
    if (here !== undefined && chance(0.6)) out.value = structuredClone(here)
    else out.value = p.whole ? (p.path === '/jwks/keys' ? [structuredClone(pick(keys))] : valueFor(p.member)) : elementFor(p.member)
  }
  return out
}

function generate (doc) {
  if (chance(0.03)) return copyBomb(doc)
  const n = 1 + Math.floor(rnd() * 5)
  const ops = []
  let cur = structuredClone(doc)
  for (let i = 0; i < n; i++) {
    const op = operation(cur)
    ops.push(op)
    // Later operations are drawn from the document as the earlier ones
    // leave it (when they apply), so that tests of fresh values are common.
    const next = structuredClone(cur)
    if (!rfcOne(next, op)) cur = next
  }
  return ops
}

// Paths SPEC §4 rule 1 refuses, whatever the operation and wherever it is
// in the patch: members outside the allowlist (the secret and the id among
// them, or a name in another case), deeper paths where none are allowed,
// indexes that are not canonical, the whole document.
const forbiddenPaths = ['/id', '/secret', '/secrets', '/secrets/0', '/secrets/0/hint', '/scope', '/scope/0',
  '/created', '/modified', '/lastUsed', '/type', '/internal', '/Name', '/name~1x', '', '/', '/redirectUris/01',
  '/redirectUris/-1', '/audience/+0', '/jwks/keys/0/kid', '/jwks/x', '/description/0', '/enabled/0']
function forbiddenOp () {
  const p = pick(forbiddenPaths)
  return pick([
    { op: 'test', path: p, value: 'x' }, { op: 'copy', from: p, path: '/description' },
    { op: 'move', from: p, path: '/name' }, { op: 'replace', path: p, value: 'x' },
    { op: 'remove', path: p }, { op: 'add', path: p, value: 'x' }])
}
const forbiddenMembers = ['id', 'secret', 'secrets', 'scope', 'created', 'modified', 'lastUsed', 'type', 'internal', 'Name', '']

// Many copies of one long value: the document may grow past 64 KiB, which
// SPEC §4 rule 3 refuses (400.1.4), and so may the bytes copied.
function copyBomb (doc) {
  const target = pick(['/audience/-', '/redirectUris/-', '/grantTypes/0'])
  const ops = [{ op: 'replace', path: '/description', value: 'd'.repeat(1000 + Math.floor(rnd() * 1000)) }]
  for (let n = 5 + Math.floor(rnd() * 70); n > 0; n--) ops.push({ op: 'copy', from: '/description', path: target })
  if (chance(0.5)) ops.push(operation(doc))
  return ops
}

// A merge patch of one to three members: a value, null (a removal), or,
// for jwks, an object merged into the one there.
function generateMerge (doc) {
  const out = {}
  const n = 1 + Math.floor(rnd() * 3)
  for (let i = 0; i < n; i++) {
    const m = pick(members)
    if (chance(0.15)) out[m] = null
    else if (m === 'jwks' && chance(0.5)) out[m] = pick([{ keys: [structuredClone(pick(keys))] }, { keys: null }, { note: 'x' }, { note: null }])
    else if (chance(0.3) && doc[m] !== null) out[m] = structuredClone(doc[m])
    else out[m] = valueFor(m)
  }
  return out
}

// ---- the body, written by hand: numbers in several spellings, members shuffled ----
function spell (n) {
  if (!Number.isInteger(n) || chance(0.5)) return JSON.stringify(n)
  switch (Math.floor(rnd() * 4)) {
    case 0: return n + '.0'
    case 1: return n === 0 ? '-0' : n + '.000'
    case 2: {
      if (n === 0) return '0e5'
      let k = 0; let m = n
      while (m % 10 === 0) { m /= 10; k++ }
      const digits = String(Math.abs(m))
      const sign = m < 0 ? '-' : ''
      const exp = k + digits.length - 1
      const mant = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits
      return `${sign}${mant}e${exp}`
    }
    default: return (n * 10) + 'E-1'
  }
}
function write (v) {
  if (typeof v === 'number') return spell(v)
  if (Array.isArray(v)) return '[' + v.map(write).join(',') + ']'
  if (v !== null && typeof v === 'object') {
    const ks = Object.keys(v)
    for (let i = ks.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [ks[i], ks[j]] = [ks[j], ks[i]] }
    return '{' + ks.map(k => JSON.stringify(k) + ':' + write(v[k])).join(',') + '}'
  }
  return JSON.stringify(v)
}
const body = (ops) => '[' + ops.map(o => write(o)).join(',') + ']'

// ---- the oracles ----
// Each applies one operation to doc in place and returns null, or the
// class of its failure: 'test' for a failed test (any test that cannot
// hold: SPEC §4 rule 6 makes a test of a missing member or index fail, not
// err), 'target' for any other.
function moveAsRFC (doc, op, one) {
  const value = at(doc, op.from)
  if (value === undefined) return 'target'
  if (op.path !== op.from && op.path.startsWith(op.from + '/')) return 'target' // §4.4: not into its own child
  return one(doc, { op: 'remove', path: op.from }) || one(doc, { op: 'add', path: op.path, value: structuredClone(value) })
}
function copyAsRFC (doc, op, one) {
  const value = at(doc, op.from)
  if (value === undefined) return 'target'
  return one(doc, { op: 'add', path: op.path, value: structuredClone(value) })
}
function rfcOne (doc, op) {
  if (op.op === 'move') return moveAsRFC(doc, op, rfcOne)
  if (op.op === 'copy') return copyAsRFC(doc, op, rfcOne)
  let err
  try {
    [err] = rfcApply(doc, [structuredClone(op)])
  } catch (e) {
    err = e // rfc6902 throws when asked to add a member to a string
  }
  if (!err) return null
  return op.op === 'test' ? 'test' : 'target'
}
function fjpOne (doc, op) {
  if (op.op === 'move') return moveAsRFC(doc, op, fjpOne)
  if (op.op === 'copy') return copyAsRFC(doc, op, fjpOne)
  try {
    fjp.applyOperation(doc, structuredClone(op), true, true, false)
    return null
  } catch (e) {
    return op.op === 'test' ? 'test' : 'target'
  }
}
const bytes = (v) => Buffer.byteLength(JSON.stringify(v))
function oracle (doc, ops, one) {
  let d = structuredClone(doc)
  if (!Array.isArray(ops)) d = mergePatch.apply(d, structuredClone(ops))
  let copied = 0 // the bytes copied by the copies that applied
  let failed = null
  for (let i = 0; Array.isArray(ops) && i < ops.length && !failed; i++) {
    const value = ops[i].op === 'copy' ? at(d, ops[i].from) : undefined
    const cls = one(d, ops[i])
    if (cls) failed = { cls, at: i }
    else if (value !== undefined) copied += bytes(value)
  }
  // The server stops at the copy that passes the limit, before any later
  // failure.
  if (copied > limitBytes) return { cls: 'limit', copied }
  if (failed) return { ...failed, copied }
  if (bytes(d) > limitBytes) return { cls: 'limit', size: bytes(d), copied }
  // A removed member that may be null is stored as null (SPEC §4 rule 5);
  // any other removed member makes the result invalid.
  for (const m of nullable) if (!Object.hasOwn(d, m)) d[m] = null
  return { cls: 'ok', doc: d, copied }
}

// SPEC §4 rule 3: copies may not grow the document past 64 KiB. The
// server measures canonical JSON, this check JSON.stringify's: within a
// tenth of the limit either answer is right.
const limitBytes = 64 << 10
const nearLimit = (o) => [o.size, o.copied].some(n => n !== undefined && Math.abs(n - limitBytes) < limitBytes / 10)

function equal (a, b) { return JSON.stringify(canon(a)) === JSON.stringify(canon(b)) }

// ---- the run ----
let failures = 0
const fail = (what, why) => { failures++; if (failures <= 20) console.error(`FAIL ${what}: ${why}`) }

const seeds = [
  { name: 'patch-check confidential', type: 'CONFIDENTIAL', grantTypes: ['CLIENT_CREDENTIALS'], audience: ['orders'] },
  { name: 'patch-check web', type: 'CONFIDENTIAL', grantTypes: ['AUTHORIZATION_CODE', 'REFRESH_TOKEN'],
    redirectUris: ['https://app.example.com/cb', 'https://app.example.com/cb2'], tenant: 'acme', description: 'web app' },
  { name: 'patch-check public', type: 'PUBLIC', grantTypes: ['AUTHORIZATION_CODE'], redirectUris: ['http://127.0.0.1:8080/cb'],
    tokenEndpointAuthMethods: ['none'] },
  { name: 'patch-check keys', type: 'CONFIDENTIAL', grantTypes: ['CLIENT_CREDENTIALS'],
    tokenEndpointAuthMethods: ['private_key_jwt'], jwks: { keys: [keys[0], keys[1]] } }
]
const clients = []
for (const s of seeds) {
  const res = await api('POST', '/oauth-clients', JSON.stringify(s))
  if (res.status !== 201) { console.error(`FAIL create ${s.name}: ${res.status} ${JSON.stringify(res.json)}`); process.exit(1) }
  clients.push({ id: res.json.id, doc: projection(res.json), etag: res.etag })
}

const counts = { ok: 0, test: 0, target: 0, invalid: 0, limit: 0, nearLimit: 0, dryRun: 0, disagree: 0, merge: 0, forbidden: 0 }
// Refusals of a result the libraries reach: the rules of SPEC §2 and §9
// (a client left with secret methods and no live secret is 400.1.1).
const validation = ['400.1.0 Required data missing or empty', '400.1.1 Illegal update attempt',
  '400.1.2 Value length out of range', '400.1.3 Illegal value']
let sent = 0
for (; sent < patches && Date.now() < deadline && failures < 20; sent++) {
  const c = pick(clients)
  const merge = chance(0.2)
  const ops = merge ? generateMerge(c.doc) : generate(c.doc)
  const forbidden = chance(0.04)
  if (forbidden && merge) ops[pick(forbiddenMembers)] = 'x'
  else if (forbidden) ops.splice(Math.floor(rnd() * (ops.length + 1)), 0, forbiddenOp())
  const text = merge ? write(ops) : body(ops)
  if (forbidden) {
    const res = await api('PATCH', `/oauth-clients/${c.id}`, text, merge ? 'application/merge-patch+json' : 'application/json-patch+json')
    if (res.status !== 400 || res.json.detailCode !== '400.1.1 Illegal update attempt') {
      fail(`patch ${sent} on ${c.id} ${text}`, `a path outside SPEC §4's allowlist is due 400.1.1; got ${res.status} ${JSON.stringify(res.json)}`)
    } else counts.forbidden++
    const now = await api('GET', `/oauth-clients/${c.id}`)
    if (now.etag !== c.etag) fail(`patch ${sent} on ${c.id} ${text}`, `refused, yet the ETag moved from ${c.etag} to ${now.etag}`)
    continue
  }
  const a = oracle(c.doc, ops, rfcOne)
  const b = merge ? a : oracle(c.doc, ops, fjpOne)
  if (a.cls !== b.cls || (a.cls === 'ok' && !equal(a.doc, b.doc))) {
    // The two libraries disagree: the case says nothing about the server.
    if (++counts.disagree <= 3) console.log(`note: the libraries disagree on ${text} over ${JSON.stringify(c.doc)}: rfc6902 ${JSON.stringify(a)}, fast-json-patch ${JSON.stringify(b)}`)
    continue
  }
  if (merge) counts.merge++
  if (nearLimit(a) || nearLimit(b)) { counts.nearLimit++; continue }
  const dry = chance(0.15)
  const res = await api('PATCH', `/oauth-clients/${c.id}${dry ? '?dryRun=true' : ''}`, text,
    merge ? 'application/merge-patch+json' : 'application/json-patch+json')
  const code = res.json && res.json.detailCode
  const what = `patch ${sent} on ${c.id} ${text}`
  if (res.status >= 500) { fail(what, `${res.status} ${JSON.stringify(res.json)}`); continue }
  if (a.cls === 'limit') {
    if (res.status !== 400 || code !== '400.1.4 Limit violation') {
      fail(what, `the patch grows the document past 64 KiB (${JSON.stringify({ copied: a.copied, size: a.size })}), so 400.1.4 is due; got ${res.status} ${JSON.stringify(res.json)}`)
    } else counts.limit++
  } else if (a.cls === 'test' || a.cls === 'target') {
    const want = a.cls === 'test' ? [409, '409.1 Conflict'] : [400, '400.1 Bad Request Content']
    if (res.status !== want[0] || code !== want[1]) {
      fail(what, `operation ${a.at} fails (${a.cls}) in both libraries, so ${want.join(' ')} is due; got ${res.status} ${JSON.stringify(res.json)}`)
    } else counts[a.cls]++
  } else if (res.status === 200) {
    const got = projection(res.json)
    if (!equal(got, a.doc)) {
      fail(what, `the libraries give ${JSON.stringify(canon(a.doc))}, the server ${JSON.stringify(canon(got))}`)
      continue
    }
    counts.ok++
    if (dry) counts.dryRun++
    else { c.doc = got; c.etag = res.etag }
  } else if (res.status === 400 && validation.includes(code)) {
    // The libraries' result must be refused the same way when it is the
    // whole of the patch: every member replaced (or removed) at once.
    const whole = members.map(m => Object.hasOwn(a.doc, m) ? { op: 'replace', path: '/' + m, value: a.doc[m] } : { op: 'remove', path: '/' + m })
    if (bytes(whole) > 60_000) { counts.invalid++; continue } // it would not fit in a body
    const again = await api('PATCH', `/oauth-clients/${c.id}?dryRun=true`, JSON.stringify(whole), 'application/json-patch+json')
    if (again.status !== 400 || again.json.detailCode !== code || !equal(again.json.causes, res.json.causes)) {
      fail(what, `refused with ${code} ${JSON.stringify(res.json.causes)}, but the libraries' result ${JSON.stringify(a.doc)} gets ${again.status} ${JSON.stringify(again.json)}`)
    } else counts.invalid++
  } else {
    fail(what, `the libraries apply it to ${JSON.stringify(c.doc)}; got ${res.status} ${JSON.stringify(res.json)}`)
  }
  if (res.status !== 200 || dry || sent % 20 === 0) {
    // Nothing refused or dry-run changed the client.
    const now = await api('GET', `/oauth-clients/${c.id}`)
    if (now.status !== 200 || !equal(projection(now.json), c.doc) || now.etag !== c.etag) {
      fail(what, `after a ${res.status}${dry ? ' dry run' : ''} the client is ${JSON.stringify(now.json)}, ETag ${now.etag} (was ${c.etag})`)
      c.doc = projection(now.json); c.etag = now.etag
    }
  }
}
for (const c of clients) await api('DELETE', `/oauth-clients/${c.id}`)

console.log(`${sent} patches (${counts.merge} of them merge patches): ${counts.ok} applied (${counts.dryRun} of them dry runs), ${counts.test} failed tests (409), ` +
  `${counts.target} missing targets (400.1), ${counts.invalid} refused results (400.1.x, confirmed by a whole-document dry run), ` +
  `${counts.limit} over the size limit (400.1.4), ${counts.nearLimit} within a tenth of it not sent, ${counts.forbidden} with a forbidden path (400.1.1); ` +
  `${counts.disagree} cases where the two libraries disagreed were not sent`)
// Every outcome must be exercised, or the run proves little.
for (const k of ['ok', 'test', 'target', 'invalid', 'dryRun', 'merge', 'limit', 'forbidden']) {
  if (k === 'limit' && counts.limit < sent / 500) fail('coverage', `only ${counts.limit} limit outcomes in ${sent} patches`)
  if (k === 'limit') continue
  if (counts[k] < sent / 50) fail('coverage', `only ${counts[k]} ${k} outcomes in ${sent} patches`)
}
if (sent < Math.min(patches, 500)) fail('coverage', `only ${sent} patches within the time bound`)
if (failures > 0) {
  console.error(`${failures} failures (seed ${seed})`)
  process.exit(1)
}
console.log('ok   PATCH agrees with rfc6902, fast-json-patch and json-merge-patch')
