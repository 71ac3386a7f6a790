// One request, its status: the functional checks every system passes before
// it is timed (valid token 200, hostile tokens 401, low limit 429…).
import http from 'node:http';

export function probe(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve) => {
    const req = http.request(url, { method, headers, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.end(body);
  });
}

/** Runs a row's checks; resolves null when all pass, else a message naming the first failure. */
export async function runChecks(url, checks, expectLoad) {
  const all = checks.length ? checks : [{ name: 'expected status', expect: expectLoad }];
  for (const c of all) {
    let r;
    for (let i = 0; i < (c.repeat ?? 1); i++) r = await probe(url, { headers: c.headers ?? {}, method: c.method, body: c.body });
    if (r.status !== c.expect) return `check "${c.name}" got ${r.status || r.error} (expected ${c.expect})`;
  }
  return null;
}
