// A real browser (Chromium) opening a WebSocket through the gateway: the token
// rides in ?access_token= (a browser cannot set Authorization on a WebSocket),
// the Origin is the page's. Same-origin passes without allow_origins; a page
// from another origin is refused at the upgrade.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { AUDIENCE, ISSUER, rsaKey, sign } from '../e2e/util.js';
import { startWsUpstream, type WsUpstream } from './ws-upstream.js';

const PAGE = '<!doctype html><title>ws</title><p>ws test page</p>';

describe('a browser WebSocket through the gateway', () => {
  let up: WsUpstream;
  let gw: RunningGateway;
  let token: string;
  let ctx: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    const key = await rsaKey('ws-browser');
    token = await sign(key, { sub: 'dana' });
    up = await startWsUpstream();
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      upstreams: { live: { targets: [up.url] } },
      authenticators: {
        qjwt: { type: 'jwt', from: { query: 'access_token' }, issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [key.jwk] },
      },
      routes: [
        { name: 'page', match: { path_prefix: '/page' }, respond: { status: 200, body: PAGE, headers: { 'content-type': 'text/html; charset=utf-8' } } },
        { name: 'live', match: { path_prefix: '/live' }, authenticate: ['qjwt'], upstream: 'live', websocket: {} },
      ],
    });
    profile = mkdtempSync(path.join(tmpdir(), 'portcullis-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await gw?.stop();
    await up?.close();
  });

  /** In the page: open a socket, send text and binary, report what came back and how it closed. */
  const exercise = ({ url }: { url: string }) => new Promise<{ opened: boolean; text: string; bytes: number[]; code: number }>((resolve) => {
    const out = { opened: false, text: '', bytes: [] as number[], code: 0 };
    const s = new WebSocket(url);
    s.binaryType = 'arraybuffer';
    const t = setTimeout(() => { s.close(); resolve(out); }, 8000);
    s.onopen = () => { out.opened = true; s.send('hi from the browser'); s.send(new Uint8Array([9, 8, 7])); };
    s.onmessage = (e) => {
      if (typeof e.data === 'string') out.text = e.data;
      else { out.bytes = Array.from(new Uint8Array(e.data as ArrayBuffer)); s.close(1000, 'done'); }
    };
    s.onclose = (e) => { clearTimeout(t); out.code = e.code; resolve(out); };
  });

  it('connects with ?access_token= from the same origin and echoes text and binary', async () => {
    const p = ctx.pages()[0] ?? (await ctx.newPage());
    await p.goto(`${gw.url}/page`);
    const url = `${gw.url.replace('http://', 'ws://')}/live/echo?access_token=${token}`;
    const out = await p.evaluate(exercise, { url });
    expect(out).toEqual({ opened: true, text: 'hi from the browser', bytes: [9, 8, 7], code: 1000 });
    const seen = up.upgrades.at(-1)!;
    expect(seen.headers['x-portcullis-consumer']).toBe('dana');
    expect(seen.headers.origin).toBe(gw.url);
  });

  it('is refused without the token, and from a page on another origin', async () => {
    const p = ctx.pages()[0] ?? (await ctx.newPage());
    await p.goto(`${gw.url}/page`);
    const n = up.upgrades.length;
    const ws = gw.url.replace('http://', 'ws://');
    const noToken = await p.evaluate(exercise, { url: `${ws}/live/echo` });
    expect(noToken.opened).toBe(false);
    // localhost is another origin than 127.0.0.1 for the browser; Host stays 127.0.0.1.
    await p.goto(`${gw.url.replace('127.0.0.1', 'localhost')}/page`);
    const cross = await p.evaluate(exercise, { url: `${ws}/live/echo?access_token=${token}` });
    expect(cross.opened).toBe(false);
    expect(up.upgrades.length).toBe(n);
  });
});
