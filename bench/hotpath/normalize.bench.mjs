// Path normalisation (resolve ./.., collapse //, decode unreserved %XX,
// reject what cannot be normalised safely). Baseline: WHATWG URL parsing,
// the usual way to "normalise" a path in Node.
import { normalizePath } from '../../dist/router/index.js';
import { suite } from './lib.mjs';

const viaUrl = (p) => new URL(p, 'http://x').pathname;

await suite('path normalisation', {
  baseline: { name: 'new URL(p).pathname (clean path)', fn: () => viaUrl('/api/orders/123/items'), check: (v) => v === '/api/orders/123/items' },
  cases: [
    { name: 'normalizePath: clean path', fn: () => normalizePath('/api/orders/123/items'), check: (v) => v === '/api/orders/123/items', target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'normalizePath: dot segments + //', fn: () => normalizePath('/api//v1/../orders/./123'), check: (v) => v === '/api/orders/123' },
    { name: 'normalizePath: %-encoded unreserved', fn: () => normalizePath('/api/%6Frders/%7Euser'), check: (v) => v === '/api/orders/~user' },
    { name: 'normalizePath: rejected (%2F)', fn: () => normalizePath('/api/a%2Fb'), check: (v) => v === null, target: { label: '0 B/op', maxBytes: 0 } },
  ],
});
