// Follows Clientele's change feed (SPEC §10) with the `eventsource` package,
// the WhatWG EventSource for Node.js that nobody on this project wrote,
// while concurrent writers change clients, and cuts its connection several
// times: the library reconnects by itself, sending the Last-Event-ID it
// kept, and the server resumes after it. What the library delivered must be
// exactly the JSON feed: every event once, in seq order, none missing, each
// with `event:` its type, `id:` its seq and `data:` the event as the JSON
// feed shows it, and within 1 s of the write's answer (p99, SPEC §10's
// bound on PostgreSQL). And the events are the client's history: folding
// each client's events' `patch` with rfc6902 (a JSON Patch implementation
// nobody here wrote either), from nothing, rebuilds the client as GET shows
// it, and each event's etagBefore is the etagAfter of the one before it.
//
// The server must not rate-limit the admin (--rate-limit 0): the writers
// send a few hundred requests in a few seconds.
//
// With a second server sharing the first one's PostgreSQL, as behind a load
// balancer, the writers alternate between the two, the follower reconnects
// to the other server after each cut, and the two JSON feeds must be one.
//
// usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET [OTHER_BASE_URL]
import { EventSource } from 'eventsource'
import { applyPatch } from 'rfc6902'
import { adminToken, canon, feedAfter as readFeed, report, send } from '../admin.mjs'

const [base, adminId, adminSecret, other] = process.argv.slice(2)
if (!base || !adminId || !adminSecret) {
  console.error('usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET [OTHER_BASE_URL]')
  process.exit(2)
}
const servers = other ? [base, other] : [base]
if (!servers.every(u => /^http:\/\/127\.0\.0\.1:\d+$/.test(u))) {
  console.error('BASE_URL must be http://127.0.0.1:PORT: this check sends load to loopback only')
  process.exit(2)
}

const { pass, fail, failures } = report()
const token = await adminToken(base, adminId, adminSecret)

async function api (method, path, body, contentType, server = base) {
  const r = await send(server, token, method, path, body === undefined ? undefined : JSON.stringify(body), contentType)
  const etag = r.res.headers.get('etag')
  if (method !== 'GET' && etag && r.status < 300) written.set(etag, { at: Date.now(), server })
  return r
}
// When each write's answer came, by the ETag it gave the client.
const written = new Map()

// Every event after seq, from the JSON feed of server.
const feedAfter = (seq, server = base) => readFeed((path) => api('GET', path, undefined, undefined, server), seq)

const before = await feedAfter(0)
const start = before.length ? before[before.length - 1].seq : 0

// ---- the follower ----
// Each connection the library opens goes through this fetch, which adds
// the token, records the Last-Event-ID the library sends, and can be cut.
const connections = [] // { lastEventId, controller }
const types = ['created', 'patched', 'replaced', 'secretAdded', 'secretDeleted', 'secretRotated', 'deleted', 'restored']
const received = [] // { type, id, data }
const es = new EventSource(`${base}/oauth-client-events?after=${start}`, {
  fetch: async (input, init) => {
    const headers = new Headers(init.headers)
    // Each connection goes to the next server, as a load balancer may
    // send a reconnection elsewhere.
    const server = servers[connections.length % servers.length]
    const conn = { lastEventId: headers.get('last-event-id'), accept: headers.get('accept'), server }
    connections.push(conn)
    headers.set('authorization', 'Bearer ' + token)
    const url = new URL(input)
    const res = await fetch(server + url.pathname + url.search, { ...init, headers })
    conn.openedAt = Date.now()
    // The body as the library reads it, which conn.cut ends the way a
    // dropped connection does: an error that is not an abort.
    const reader = res.body.getReader()
    const body = new ReadableStream({
      start (controller) {
        conn.cut = () => {
          controller.error(new TypeError('terminated: the connection was cut'))
          reader.cancel().catch(() => {})
          conn.cut = null
        }
      },
      async pull (controller) {
        try {
          const { done, value } = await reader.read()
          if (conn.cut === null) return
          if (done) controller.close()
          else controller.enqueue(value)
        } catch (e) {
          if (conn.cut !== null) controller.error(e)
        }
      }
    })
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
  }
})
for (const type of types) {
  es.addEventListener(type, (e) => {
    const conn = connections[connections.length - 1]
    received.push({ type: e.type, id: e.lastEventId, data: e.data, at: Date.now(), conn })
    conn.delivered = true
  })
}
es.addEventListener('message', (e) => received.push({ type: 'message', id: e.lastEventId, data: e.data }))
let errors = 0
es.addEventListener('error', () => { errors++ })
await new Promise((resolve, reject) => {
  es.addEventListener('open', resolve, { once: true })
  setTimeout(() => reject(new Error('the stream did not open within 10 s')), 10_000)
})

// ---- the writers ----
// Writers in rounds of four, each with a client of its own: create, patches, a secret
// added, a rotation with grace, a replace, a delete and a restore.
const clients = [] // the writers' client ids
async function writer (w) {
  // With two servers, each request goes to the next one.
  let turn = w
  const on = (method, path, body, contentType) => api(method, path, body, contentType, servers[turn++ % servers.length])
  const c = await on('POST', '/oauth-clients', { name: `feed-check ${w}`, type: 'CONFIDENTIAL', grantTypes: ['CLIENT_CREDENTIALS'] })
  if (c.status !== 201) throw new Error(`create: ${c.status} ${JSON.stringify(c.json)}`)
  const id = c.json.id
  clients.push(id)
  const steps = [
    ...Array.from({ length: 25 }, (_, i) => () => on('PATCH', `/oauth-clients/${id}`, [{ op: 'replace', path: '/description', value: `step ${i}` }], 'application/json-patch+json')),
    () => on('POST', `/oauth-clients/${id}/secrets`, {}),
    () => on('POST', `/oauth-clients/${id}/secret`, { graceSeconds: 60 }),
    () => on('PUT', `/oauth-clients/${id}`, { name: `feed-check ${w} replaced`, grantTypes: ['CLIENT_CREDENTIALS'] }),
    ...Array.from({ length: 10 }, (_, i) => () => on('PATCH', `/oauth-clients/${id}`, { tenant: `t${i}` }, 'application/merge-patch+json')),
    () => on('DELETE', `/oauth-clients/${id}`)
  ]
  for (const step of steps) {
    const res = await step()
    if (res.status >= 300) throw new Error(`writer ${w}: ${res.status} ${JSON.stringify(res.json)}`)
  }
  // Back to the state right before the delete.
  const history = await on('GET', `/oauth-clients/${id}/history?limit=2`)
  const restored = await on('POST', `/oauth-clients/${id}/restore`, { seq: history.json[1].seq })
  if (restored.status !== 200) throw new Error(`restore: ${restored.status} ${JSON.stringify(restored.json)}`)
}

// Cut the follower's connection now and then while the writers run.
// A connection is cut once it has delivered an event. The library waits
// 3 s before it reconnects; the writers run on meanwhile, so each cut
// leaves events to resume.
let cuts = 0
const cutter = setInterval(() => {
  const last = connections[connections.length - 1]
  if (cuts < 4 && last.delivered && last.cut) {
    last.cutAfter = received[received.length - 1].id
    last.cut()
    cuts++
  }
}, 500)
// Rounds of four writers, 2 s apart, until three cuts (at most eight).
async function writeInRounds () {
  for (let round = 0; round < 8 && (round < 4 || cuts < 3); round++) {
    await Promise.all(Array.from({ length: 4 }, (_, w) => writer(round * 4 + w)))
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
}
await writeInRounds()
clearInterval(cutter)
// The last cut's reconnection, and one more write for it to deliver.
for (const until = Date.now() + 10_000; Date.now() < until && connections.length <= cuts;) {
  await new Promise(resolve => setTimeout(resolve, 100))
}
await writer(100)

// ---- the comparison ----
const feed = await feedAfter(start)
const last = feed[feed.length - 1].seq
const deadline = Date.now() + 30_000
while (Date.now() < deadline && !(received.length > 0 && Number(received[received.length - 1].id) >= last)) {
  await new Promise(resolve => setTimeout(resolve, 100))
}
es.close()

if (other) {
  const otherFeed = await feedAfter(start, other)
  if (JSON.stringify(otherFeed) !== JSON.stringify(feed)) fail('the two servers serve one feed', `${feed.length} events on one, ${otherFeed.length} on the other, and they differ`)
  else pass(`the two servers' JSON feeds are the same ${feed.length} events`)
}
const want = feed.map(e => ({ type: e.type, id: String(e.seq), data: e }))
let mismatch = null
for (let i = 0; i < Math.max(want.length, received.length) && !mismatch; i++) {
  const w = want[i]; const g = received[i]
  if (!w || !g) mismatch = `event ${i}: the feed has ${JSON.stringify(w)}, the stream delivered ${JSON.stringify(g)}`
  else if (g.type !== w.type || g.id !== w.id) mismatch = `event ${i}: the feed has ${w.type} seq ${w.id}, the stream delivered ${g.type} id ${g.id}`
  else if (JSON.stringify(JSON.parse(g.data)) !== JSON.stringify(w.data)) mismatch = `event ${i} (seq ${w.id}): data ${g.data}, the feed ${JSON.stringify(w.data)}`
}
if (mismatch) fail('the stream is the JSON feed, event for event', mismatch)
else pass(`the stream delivered all ${want.length} events of the JSON feed once each, in seq order, with their types, ids and data`)

const typesSeen = new Set(received.map(e => e.type))
const missingTypes = types.filter(t => !typesSeen.has(t) && t !== 'secretDeleted')
if (missingTypes.length) fail('every kind of write was followed', `no ${missingTypes.join(', ')} event`)

// Every reconnection carried the id of the last event delivered before
// its cut, as the library keeps it.
const reconnects = connections.slice(1)
if (cuts < 3 || reconnects.length < cuts) {
  fail('the library reconnected after each cut', `${cuts} cuts, ${reconnects.length} reconnections, ${errors} error events`)
} else {
  const wrong = connections.slice(0, -1).map((c, i) => [c, connections[i + 1]])
    .filter(([c, next]) => c.cutAfter !== undefined && next.lastEventId !== c.cutAfter)
  if (wrong.length) fail('each reconnection resumes after the last event delivered', JSON.stringify(wrong.map(([c, n]) => ({ cutAfter: c.cutAfter, sent: n.lastEventId }))))
  else pass(`the library reconnected ${reconnects.length} times after ${cuts} cuts, each time with Last-Event-ID the last id it had (${reconnects.map(c => c.lastEventId).join(', ')})` +
    (other ? ', each time to the other server' : ''))
}
// Each writer's client, rebuilt from its events' patches.
let folded = 0
for (const id of clients) {
  let doc = {}
  let etag = null
  let problem = null
  for (const e of feed.filter(e => e.clientId === id)) {
    if (e.etagBefore !== etag) problem ??= `seq ${e.seq} (${e.type}): etagBefore ${e.etagBefore}, the event before left ${etag}`
    const errors = applyPatch(doc, structuredClone(e.patch)).filter(Boolean)
    if (errors.length) problem ??= `seq ${e.seq} (${e.type}): its patch does not apply: ${errors.map(x => x.message).join('; ')}`
    if (e.type === 'deleted' && Object.keys(doc).length !== 0) problem ??= `seq ${e.seq}: after the delete's patch ${JSON.stringify(doc)} is left`
    etag = e.etagAfter
  }
  const now = await api('GET', `/oauth-clients/${id}`)
  if (problem) fail(`client ${id}'s events`, problem)
  else if (JSON.stringify(canon(doc)) !== JSON.stringify(canon(now.json))) fail(`client ${id}'s events`, `their patches build ${JSON.stringify(doc)}, GET shows ${JSON.stringify(now.json)}`)
  else folded++
}
if (folded === clients.length) pass(`the patches of each of the ${folded} writers' clients' events, applied by rfc6902 from nothing, rebuild the client GET shows, and each etagBefore is the etagAfter before it`)

// How soon the follower saw each write whose answer came while it was
// connected, from the answer (an event may come before it: 0).
const delays = []
for (const r of received) {
  const w = written.get(JSON.parse(r.data).etagAfter)
  if (w && w.at >= r.conn.openedAt) delays.push(Math.max(0, r.at - w.at))
}
delays.sort((a, b) => a - b)
const pct = (q) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]
const seen = `${delays.length} writes made while it was connected, after a median ${pct(0.5)} ms, p99 ${pct(0.99)} ms, at most ${delays[delays.length - 1]} ms`
// SPEC §10: on PostgreSQL, events written by every server show within 1 s.
if (delays.length < 50 || pct(0.99) > 1000) fail('the follower sees writes within 1 s', seen)
else pass(`the follower saw ${seen}`)

if (connections.some(c => c.accept !== 'text/event-stream')) fail('the library asks for text/event-stream', JSON.stringify(connections.map(c => c.accept)))

if (failures() > 0) {
  console.error(`${failures()} failures`)
  process.exit(1)
}
