#!/usr/bin/env node
// Makes @btc-vision/uwebsockets.js (official uWS v20.57.0 binaries, built on
// glibc 2.38) load on glibc 2.36 (Debian 12). Only three imports carry the
// GLIBC_2.38 version: __isoc23_sscanf/strtol/strtoul, reached only from HTTP/3
// and static libstdc++ code. We rename them to their C99 equivalents, make them
// unversioned and mark the GLIBC_2.38 requirement weak.
// Idempotent; a no-op where the binary already loads; refuses unknown binaries.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const EXPECTED_SHA256 = '5b126ee00bf754b02e97e4c27090365a8562c5820c93f93918ac2212d4503e91';
const RENAMES = new Map([
  ['__isoc23_sscanf', '__isoc99_sscanf'],
  ['__isoc23_strtol', 'strtol'],
  ['__isoc23_strtoul', 'strtoul'],
]);

const say = (msg) => process.stdout.write(`[patch-uws] ${msg}\n`);
const fail = (msg) => { process.stderr.write(`[patch-uws] error: ${msg}\n`); process.exit(1); };

const require = createRequire(import.meta.url);
let pkgDir;
try {
  pkgDir = path.dirname(require.resolve('@btc-vision/uwebsockets.js'));
} catch {
  say('uWebSockets.js is not installed yet; nothing to patch');
  process.exit(0);
}
const binName = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
const binPath = path.join(pkgDir, binName);
if (!existsSync(binPath)) fail(`${binName} is missing from ${pkgDir}: this platform/Node ABI is not supported by the pinned uWebSockets.js`);

function loads(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
  return { ok: r.status === 0, err: (r.stderr || '').trim().split('\n').find((l) => l.includes('Error')) ?? r.stderr };
}

const first = loads(binPath);
if (first.ok) { say(`${binName} loads as is; nothing to do`); process.exit(0); }
if (process.platform !== 'linux' || process.arch !== 'x64' || process.versions.modules !== '115') {
  fail(`${binName} does not load (${first.err}) and only linux-x64 Node 20 is patchable`);
}
const buf = readFileSync(binPath);
const sha = createHash('sha256').update(buf).digest('hex');
if (sha !== EXPECTED_SHA256) {
  fail(`${binName} does not load (${first.err}) and its sha256 ${sha} is not the expected unpatched binary ${EXPECTED_SHA256}; refusing to modify an unknown binary. Reinstall with: rm -rf node_modules/@btc-vision && npm install`);
}

// --- ELF64 little-endian surgery --------------------------------------------
const SHT_DYNSYM = 11, SHT_VERNEED = 0x6ffffffe, SHT_VERSYM = 0x6fffffff, VER_FLG_WEAK = 0x2;
if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) fail('not a little-endian ELF64 file');
const shoff = Number(buf.readBigUInt64LE(0x28));
const shentsize = buf.readUInt16LE(0x3a), shnum = buf.readUInt16LE(0x3c);
const sections = [];
for (let i = 0; i < shnum; i++) {
  const o = shoff + i * shentsize;
  sections.push({
    type: buf.readUInt32LE(o + 4),
    offset: Number(buf.readBigUInt64LE(o + 0x18)),
    size: Number(buf.readBigUInt64LE(o + 0x20)),
    link: buf.readUInt32LE(o + 0x28),
    info: buf.readUInt32LE(o + 0x2c),
    entsize: Number(buf.readBigUInt64LE(o + 0x38)),
  });
}
const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
const versym = sections.find((s) => s.type === SHT_VERSYM);
const verneed = sections.find((s) => s.type === SHT_VERNEED);
if (!dynsym || !versym || !verneed) fail('missing .dynsym/.gnu.version/.gnu.version_r');
const dynstr = sections[dynsym.link];
const cstr = (off) => { const s = dynstr.offset + off; return buf.toString('latin1', s, buf.indexOf(0, s)); };

// GLIBC_2.38 vernaux entries → weak; remember their version indexes.
const weakIdx = new Set();
let vn = verneed.offset;
for (let n = 0; n < verneed.info; n++) {
  const cnt = buf.readUInt16LE(vn + 2);
  let va = vn + buf.readUInt32LE(vn + 8);
  for (let k = 0; k < cnt; k++) {
    if (cstr(buf.readUInt32LE(va + 8)) === 'GLIBC_2.38') {
      buf.writeUInt16LE(buf.readUInt16LE(va + 4) | VER_FLG_WEAK, va + 4);
      weakIdx.add(buf.readUInt16LE(va + 6));
    }
    va += buf.readUInt32LE(va + 12);
  }
  const next = buf.readUInt32LE(vn + 12);
  if (!next) break;
  vn += next;
}
if (weakIdx.size === 0) fail('no GLIBC_2.38 requirement found; unexpected binary layout');

let renamed = 0;
const count = dynsym.size / dynsym.entsize;
for (let i = 0; i < count; i++) {
  const nameOff = buf.readUInt32LE(dynsym.offset + i * dynsym.entsize);
  const name = cstr(nameOff);
  const vIdx = buf.readUInt16LE(versym.offset + i * 2) & 0x7fff;
  if (RENAMES.has(name)) {
    const to = RENAMES.get(name);
    const at = dynstr.offset + nameOff;
    buf.fill(0, at, at + name.length);
    buf.write(to, at, 'latin1');
    buf.writeUInt16LE(1, versym.offset + i * 2); // VER_NDX_GLOBAL: unversioned
    renamed++;
  } else if (weakIdx.has(vIdx)) {
    fail(`symbol ${name} also needs GLIBC_2.38; this patch only covers ${[...RENAMES.keys()].join(', ')}`);
  }
}
if (renamed !== RENAMES.size) fail(`expected ${RENAMES.size} symbols to rename, found ${renamed}`);

const tmp = binPath.replace(/\.node$/, ".patching.node");
writeFileSync(tmp, buf);
const check = loads(tmp);
if (!check.ok) fail(`patched binary still does not load: ${check.err}`);
renameSync(tmp, binPath);
say(`patched ${binName} for glibc < 2.38 (renamed ${renamed} symbols, GLIBC_2.38 marked weak)`);
