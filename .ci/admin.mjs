// What the checks in .ci/*/check.mjs that act as the admin share: its
// token, a management API client, the JSON change feed, the ok/FAIL lines,
// and a canonical form of JSON values to compare them by. Node's own fetch
// only, so each check's package needs nothing for it.

// report returns pass and fail, which print one line per check, and
// failures, how many failed so far.
export function report () {
  let n = 0
  return {
    pass: (what) => console.log(`ok   ${what}`),
    fail: (what, why) => { n++; console.error(`FAIL ${what}: ${why}`) },
    failures: () => n
  }
}

// adminToken returns an access token of the admin client from base's
// client_credentials grant, or ends the check, saying why.
export async function adminToken (base, id, secret) {
  const res = await fetch(base + '/oauth/token', {
    method: 'POST',
    headers: { authorization: 'Basic ' + btoa(encodeURIComponent(id) + ':' + encodeURIComponent(secret)) },
    body: new URLSearchParams({ grant_type: 'client_credentials' })
  })
  if (res.status !== 200) {
    console.error(`FAIL admin token: ${res.status} ${await res.text()}`)
    process.exit(1)
  }
  return (await res.json()).access_token
}

// send sends one management request with token to base + path: body, if
// any, as it is (a string), of contentType. It returns the status, the
// parsed JSON answer (its text when it is not JSON) and the response.
export async function send (base, token, method, path, body, contentType = 'application/json') {
  const headers = { authorization: 'Bearer ' + token }
  if (body !== undefined) headers['content-type'] = contentType
  const res = await fetch(base + path, { method, headers, body })
  const text = await res.text()
  let json = null
  try { json = text ? JSON.parse(text) : null } catch { json = text }
  return { status: res.status, json, res }
}

// feedAfter returns every event after seq from the JSON feed, read through
// get(path), which answers as send does.
export async function feedAfter (get, seq) {
  const out = []
  for (;;) {
    const res = await get(`/oauth-client-events?after=${seq}&limit=1000`)
    if (res.status !== 200) throw new Error(`feed: ${res.status} ${JSON.stringify(res.json)}`)
    if (res.json.length === 0) return out
    out.push(...res.json)
    seq = res.json[res.json.length - 1].seq
  }
}

// canon is v with every object's members in sorted order, so that two
// JSON values compare equal by JSON.stringify whatever their members' order.
export function canon (v) {
  if (Array.isArray(v)) return v.map(canon)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map(k => [k, canon(v[k])]))
  return v
}
