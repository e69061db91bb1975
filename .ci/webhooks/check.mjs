// Receives real webhook deliveries from a running Clientele and checks them
// the way a subscriber would: every delivery verifies with the Standard
// Webhooks reference library (new Webhook(secret).verify(body, headers)),
// carries the CloudEvents 1.0 attributes of SPEC §10 around the event the
// change feed shows, and comes in seq order; the CloudEvents SDK for
// JavaScript reads it as a subscriber's code would (HTTP.toEvent, structured
// mode by its content type), finds the same attributes and data, and its
// schema (the time a date-time, the source a non-empty URI reference, …)
// accepts them; a tampered body, a tampered webhook-id or the wrong secret
// is refused. One line per check; any
// failure exits non-zero.
//
// The server must run with --allow-private-webhooks: the receiver listens
// here, on 127.0.0.1.
//
// usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET
import http from 'node:http'
import { CloudEvent, HTTP } from 'cloudevents'
import { Webhook, WebhookVerificationError } from 'standardwebhooks'
import { adminToken, feedAfter as readFeed, report, send } from '../admin.mjs'

const [base, adminId, adminSecret] = process.argv.slice(2)
if (!base || !adminId || !adminSecret) {
  console.error('usage: node check.mjs BASE_URL ADMIN_ID ADMIN_SECRET')
  process.exit(2)
}

const { pass, fail, failures } = report()
const token = await adminToken(base, adminId, adminSecret)

async function api (method, path, body, contentType) {
  return send(base, token, method, path, body === undefined ? undefined : JSON.stringify(body), contentType)
}

// The receiver keeps each delivery's raw body and headers, as a subscriber
// must to verify it, and answers 204.
const deliveries = []
const receiver = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    deliveries.push({ body: Buffer.concat(chunks).toString('utf8'), headers: { ...req.headers } })
    res.writeHead(204).end()
  })
})
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve))
const hookURL = `http://127.0.0.1:${receiver.address().port}/hook`

const issuer = (await (await fetch(base + '/.well-known/oauth-authorization-server')).json()).issuer
const before = await readFeed((path) => api('GET', path), 0)
const last = before.length ? before[before.length - 1].seq : 0

const created = await api('POST', '/webhooks', { url: hookURL })
if (created.status !== 201 || !created.json.secret?.startsWith('whsec_')) {
  console.error(`FAIL create webhook: ${created.status} ${JSON.stringify(created.json)}`)
  process.exit(1)
}
const { id: webhookId, secret } = created.json
pass(`webhook ${webhookId} created with a whsec_ secret`)
const shown = await api('GET', '/webhooks/' + webhookId)
if (shown.status !== 200 || 'secret' in shown.json) fail('GET /webhooks/{id}', `${shown.status}, secret shown again`)
else pass('the secret is not shown again')

// Writes of four kinds, one event each.
const client = await api('POST', '/oauth-clients', { name: 'webhooks-check', tenant: 'ci', grantTypes: ['CLIENT_CREDENTIALS'], scope: ['sp:oauth-client:read'] })
if (client.status !== 201) throw new Error(`create client: ${client.status} ${JSON.stringify(client.json)}`)
const patched = await api('PATCH', '/oauth-clients/' + client.json.id, [{ op: 'replace', path: '/description', value: 'patched' }], 'application/json-patch+json')
if (patched.status !== 200) throw new Error(`patch: ${patched.status} ${JSON.stringify(patched.json)}`)
const rotated = await api('POST', `/oauth-clients/${client.json.id}/secret`, {})
if (rotated.status !== 200 && rotated.status !== 201) throw new Error(`rotate: ${rotated.status} ${JSON.stringify(rotated.json)}`)
const deleted = await api('DELETE', '/oauth-clients/' + client.json.id)
if (deleted.status !== 204) throw new Error(`delete: ${deleted.status}`)

const want = await readFeed((path) => api('GET', path), last)
const deadline = Date.now() + 30000
while (deliveries.length < want.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
if (deliveries.length < want.length) fail('deliveries', `${deliveries.length} of ${want.length} events within 30 s`)
else pass(`${want.length} events in the feed, ${deliveries.length} deliveries`)

const wh = new Webhook(secret)
let prevSeq = last
deliveries.forEach((d, i) => {
  const what = `delivery ${i + 1}`
  let ce
  try {
    ce = wh.verify(d.body, d.headers)
  } catch (err) {
    fail(what, `standardwebhooks refuses it: ${err.message}`)
    return
  }
  const ev = want[i]
  const problems = []
  if (d.headers['content-type'] !== 'application/cloudevents+json') problems.push(`content-type ${d.headers['content-type']}`)
  if (ce.specversion !== '1.0') problems.push(`specversion ${ce.specversion}`)
  if (typeof ce.id !== 'string' || ce.id !== ev?.id || d.headers['webhook-id'] !== ce.id) problems.push(`id ${ce.id}, webhook-id ${d.headers['webhook-id']}, feed ${ev?.id}`)
  if (ce.source !== issuer) problems.push(`source ${ce.source}, issuer ${issuer}`)
  if (ce.type !== 'com.clientele.oauth-client.' + ev?.type) problems.push(`type ${ce.type} for ${ev?.type}`)
  if (ce.subject !== ev?.clientId) problems.push(`subject ${ce.subject} for ${ev?.clientId}`)
  if (Number.isNaN(Date.parse(ce.time)) || Date.parse(ce.time) !== Date.parse(ev?.time)) problems.push(`time ${ce.time} for ${ev?.time}`)
  if (ce.datacontenttype !== 'application/json') problems.push(`datacontenttype ${ce.datacontenttype}`)
  if (JSON.stringify(ce.data) !== JSON.stringify(ev)) problems.push('data is not the event of the feed')
  if (!(ce.data?.seq > prevSeq)) problems.push(`seq ${ce.data?.seq} after ${prevSeq}`)
  problems.push(...asCloudEvent(d, ce))
  prevSeq = ce.data?.seq
  if (problems.length) fail(what, problems.join('; '))
  else pass(`${what}: verified; ${ce.type}, seq ${ce.data.seq}, subject ${ce.subject}`)
})

// asCloudEvent lists how the CloudEvents SDK reads delivery d otherwise
// than its JSON body ce says, or what its schema refuses. The SDK fills in
// what it finds missing (an id, a specversion) instead of refusing, hence
// the comparison with the body itself.
function asCloudEvent (d, ce) {
  let parsed
  try {
    parsed = HTTP.toEvent({ headers: d.headers, body: d.body })
  } catch (err) {
    return [`the CloudEvents SDK cannot read it: ${err.message}`]
  }
  if (Array.isArray(parsed)) return ['the CloudEvents SDK reads a batch']
  const out = []
  for (const a of ['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype']) {
    if (parsed[a] !== ce[a]) out.push(`the CloudEvents SDK reads ${a} ${JSON.stringify(parsed[a])}, the body says ${JSON.stringify(ce[a])}`)
  }
  if (JSON.stringify(parsed.data) !== JSON.stringify(ce.data)) out.push('the CloudEvents SDK reads other data')
  try {
    new CloudEvent({ ...parsed }).validate() // strict: the SDK's JSON schema of CloudEvents 1.0
  } catch (err) {
    out.push(`the CloudEvents SDK's schema refuses it: ${err.message} ${JSON.stringify(err.errors ?? '')}`)
  }
  return out
}

// What must be refused.
function refuses (what, body, headers, s = secret) {
  try {
    new Webhook(s).verify(body, headers)
    fail(what, 'verified')
  } catch (err) {
    if (err instanceof WebhookVerificationError) pass(`${what}: refused (${err.message})`)
    else fail(what, `refused for another reason: ${err}`)
  }
}
const sample = deliveries[0]
if (sample) {
  refuses('a tampered body', sample.body.replace('"specversion":"1.0"', '"specversion":"1.1"'), sample.headers)
  refuses('a body with one more space', sample.body + ' ', sample.headers)
  refuses('another webhook-id', sample.body, { ...sample.headers, 'webhook-id': sample.headers['webhook-id'] + 'x' })
  const other = 'whsec_' + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')
  refuses('the wrong secret', sample.body, sample.headers, other)
}

const gone = await api('DELETE', '/webhooks/' + webhookId)
if (gone.status !== 204 || (await api('GET', '/webhooks/' + webhookId)).status !== 404) fail('DELETE /webhooks/{id}', `status ${gone.status}`)
else pass('webhook deleted')
receiver.close()
if (failures()) {
  console.error(`${failures()} webhook check(s) failed`)
  process.exit(1)
}
