// IP rules: parse the client address into 16 bytes once per request, then
// test it against compiled CIDR sets (ip_deny / ip_allow). Baseline: a naive
// check that splits the dotted quad and compares against each CIDR's
// numeric range — what a hand-written middleware does.
import { compileIpSet, parseIpInto } from '../../dist/policy/index.js';
import { suite } from './lib.mjs';

const cidrs = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '198.51.100.0/24', '203.0.113.7/32', '2001:db8::/32', 'fd00::/8', '100.64.0.0/10'];
const issues = [];
const set = compileIpSet(cidrs, 'bench', { issue: (p, m) => issues.push(`${p}: ${m}`) });
if (issues.length) throw new Error(issues.join('; '));
const buf = new Uint8Array(16);

const v4 = cidrs.filter((c) => !c.includes(':')).map((c) => {
  const [a, bits] = c.split('/');
  const n = a.split('.').reduce((x, o) => (x << 8) + Number(o), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return [n & mask, mask];
});
function naive(ip) {
  const n = ip.split('.').reduce((x, o) => (x << 8) + Number(o), 0) >>> 0;
  for (const [net, mask] of v4) if (((n & mask) >>> 0) === net) return true;
  return false;
}

await suite('IP rule (8 CIDRs, v4 + v6)', {
  baseline: { name: 'split + numeric compare (v4 only)', fn: () => naive('203.0.113.9'), check: (v) => v === false },
  cases: [
    { name: 'parse v4 + set lookup (miss)', fn: () => parseIpInto('203.0.113.9', buf) && set.has(buf), check: (v) => v === false, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'parse v4 + set lookup (hit /32)', fn: () => parseIpInto('203.0.113.7', buf) && set.has(buf), check: (v) => v === true, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'parse v6 + set lookup (hit)', fn: () => parseIpInto('2001:db8::1:2', buf) && set.has(buf), check: (v) => v === true, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'set lookup only (pre-parsed)', fn: () => set.has(buf), check: () => true, target: { label: '0 B/op', maxBytes: 0 } },
  ],
});
