// The dashboard in a real browser: Debian's chromium driven by playwright-core.
// Known traffic goes into the metrics (two thread slices), the page must show
// the same counts as /metrics, then more traffic must appear live.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { R } from '../../src/reasons.js';
import { createMetrics, type Metrics } from '../../src/observe/metrics.js';
import { createLive, type Live } from '../../src/observe/live.js';
import { startAdmin, type AdminServer } from '../../src/observe/admin.js';
import { textToIp16 } from '../../src/observe/ip-text.js';
import { parseProm } from './prom-parse.js';

const TOKEN = 'dash-token-5b1e77c2';
const LONG = 'reports-' + 'quarterly-export-'.repeat(8) + 'v2';
const ROUTES = ['orders', 'catalog', 'health', 'closed', LONG];
const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

let m0: Metrics, m1: Metrics, live: Live, admin: AdminServer;
let ctx: BrowserContext, page: Page, profile: string;
const pageErrors: string[] = [];

function traffic(scale: number): void {
  const ip = (s: string) => textToIp16(s)!;
  for (let i = 0; i < 40 * scale; i++) { (i % 2 ? m0 : m1).recordRequest(0, 200, R.ok, 800 + i * 37, 0, 0); (i % 2 ? m0 : m1).recordUpstream(0, 600 + i * 30, false); }
  for (let i = 0; i < 12 * scale; i++) m1.recordUpstream(1, 2000, i === 0);
  for (let i = 0; i < 12 * scale; i++) m1.recordRequest(1, 200, R.ok, 2500, 1, 1);
  for (let i = 0; i < 3 * scale; i++) m0.recordRequest(1, 304, R.ok, 900, 1, 1);
  for (let i = 0; i < 5 * scale; i++) { m0.recordRequest(0, 401, R.token_expired, 90, -1, 0); m0.recordRejection(0, 401, R.token_expired, ip('203.0.113.9')); }
  for (let i = 0; i < 4 * scale; i++) { m1.recordRequest(0, 403, R.missing_scope, 120, -1, 0); m1.recordRejection(0, 403, R.missing_scope, ip('2001:db8::42'), -1, 'alice'); }
  for (let i = 0; i < 6 * scale; i++) { m1.recordRequest(1, 429, R.rate_limited, 40, -1, -1); m1.recordRejection(1, 429, R.rate_limited, ip('198.51.100.77'), 0, ''); m1.recordRateLimited(0); }
  for (let i = 0; i < 2 * scale; i++) { m0.recordRequest(-1, 404, R.route_not_found, 30, -1, -1); m0.recordRejection(-1, 404, R.route_not_found, ip('198.51.100.77')); }
  for (let i = 0; i < 1 * scale; i++) m0.recordRequest(0, 502, R.upstream_error, 30_000, 0, 0);
  for (let i = 0; i < 9 * scale; i++) m1.recordRequest(2, 200, R.respond, 15, -1, -1);
  // A respond route that refuses: a rejection with its reason, unlike health's 200s.
  for (let i = 0; i < 1 * scale; i++) { m0.recordRequest(3, 403, R.respond, 12, -1, -1); m0.recordRejection(3, 403, R.respond, ip('192.0.2.10')); }
  for (let i = 0; i < 2 * scale; i++) m0.recordRequest(4, 200, R.ok, 1500, 0, -1);
}

beforeAll(async () => {
  const base = { routes: ROUTES, upstreams: ['orders-eu', 'catalog'], authenticators: ['corp-jwt', 'keys'], limits: ['per-ip'], threads: 2 };
  m0 = createMetrics({ ...base, threadSlot: 0 });
  m1 = createMetrics({ ...base, threadSlot: 1, buffer: m0.buffer });
  traffic(1);
  live = createLive({ metrics: m0, intervalMs: 250, windowTicks: 100_000, openWebSockets: () => 3, upstreamHealth: () => [{ name: 'orders-eu', healthy: true, detail: '1/1 targets' }, { name: 'catalog', healthy: false, detail: '0/2 targets' }] });
  live.tick();
  admin = await startAdmin({
    host: '127.0.0.1', port: 0, token: TOKEN, pushIntervalMs: 250,
    metrics: () => m0.renderPrometheus(), config: () => ({}), reload: async () => ({ ok: true, issues: [] }),
    ready: () => ({ ok: true, checks: {} }), live: () => live.snapshot(),
  });
  profile = mkdtempSync(path.join(tmpdir(), 'portcullis-chromium-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1100 },
  });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(msg.text()); });
});

afterAll(async () => {
  await ctx?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  admin?.close();
  live?.close();
  m0?.close();
  m1?.close();
});

async function scrape() {
  const r = await fetch(`http://127.0.0.1:${admin.port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(r.status).toBe(200);
  return parseProm(await r.text());
}

const num = (s: string | null) => Number((s ?? '').replace(/,/g, ''));

/** What the page shows, read from the DOM. */
async function shown() {
  return page.evaluate(() => {
    const t = (id: string) => document.getElementById(id)!.textContent;
    const rows = (id: string) => [...document.querySelectorAll<HTMLTableRowElement>(`#${id} tr`)].map((tr) => ({ ...tr.dataset, cells: [...tr.cells].map((c) => c.textContent) }));
    return {
      total: t('v-total'), c2: t('v-2xx'), c3: t('v-3xx'), c4: t('v-4xx'), c5: t('v-5xx'), p50: t('v-p50'), p99: t('v-p99'),
      routes: rows('t-routes'), reasons: rows('t-reasons'), ips: rows('t-ips'), rejections: rows('t-rejections'), upstreams: rows('t-upstreams'),
      limits: rows('t-limits'), ws: document.getElementById('c-ws')!.hidden ? null : t('v-ws'),
    };
  });
}

function expectPageMatchesMetrics(s: Awaited<ReturnType<typeof shown>>, p: ReturnType<typeof parseProm>) {
  const cls = (c: string) => p.samples.filter((x) => x.name === 'portcullis_requests_total' && (x.labels.status![0] === c[0])).reduce((a, x) => a + x.value, 0);
  expect(num(s.total)).toBe(p.sum('portcullis_requests_total'));
  expect(num(s.c2)).toBe(cls('2xx'));
  expect(num(s.c3)).toBe(cls('3xx'));
  expect(num(s.c4)).toBe(cls('4xx'));
  expect(num(s.c5)).toBe(cls('5xx'));
  for (const route of ROUTES) {
    const row = s.routes.find((r) => r.route === route)!;
    expect(row, route).toBeDefined();
    expect(num(row.requests)).toBe(p.sum('portcullis_requests_total', { route }));
    const byCls = (c: string) => p.samples.filter((x) => x.name === 'portcullis_requests_total' && x.labels.route === route && x.labels.status![0] === c).reduce((a, x) => a + x.value, 0);
    expect(num(row.c2xx)).toBe(byCls('2'));
    expect(num(row.c4xx)).toBe(byCls('4'));
    expect(num(row.c5xx)).toBe(byCls('5'));
    expect(num(row.cells[1]!)).toBe(num(row.requests)); // the visible cell says the same
  }
  for (const reason of ['token_expired', 'missing_scope', 'rate_limited', 'route_not_found', 'upstream_error', 'respond']) {
    const row = s.reasons.find((r) => r.reason === reason)!;
    expect(row, reason).toBeDefined();
    expect(num(row.cells[3]!)).toBe(p.sum('portcullis_rejections_total', { reason }));
  }
  // Only the refusing respond route counts: health's 200s are not rejections.
  expect(p.sum('portcullis_rejections_total', { reason: 'respond' })).toBeLessThan(p.sum('portcullis_requests_by_reason_total', { reason: 'respond' }));
  expect(s.reasons.find((r) => r.reason === 'ok')).toBeUndefined();
  expect(num(s.limits.find((l) => l.limit === 'per-ip')!.rejected!)).toBe(p.get('portcullis_rate_limited_total', { limit: 'per-ip' }));
}

describe('dashboard in headless Chromium', () => {
  it('shows the same counts as /metrics, then follows new traffic live', async () => {
    await page.goto(`http://127.0.0.1:${admin.port}/#token=${TOKEN}`);
    await page.waitForSelector('#t-routes tr[data-route="orders"]', { timeout: 15_000 });
    expect(await page.textContent('#status')).toBe('live');
    expect(page.url()).not.toContain(TOKEN); // taken out of the address bar

    const s1 = await shown();
    expectPageMatchesMetrics(s1, await scrape());
    expect(num(s1.total)).toBe(85);
    expect(s1.ips[0]).toMatchObject({ ip: '198.51.100.77', count: '8' });
    expect(s1.ips.find((r) => r.ip === '2001:db8::42')).toMatchObject({ count: '4' });
    expect(s1.rejections.length).toBe(18);
    // The consumer beside the client address, and the limit that fired.
    expect(s1.rejections.some((r) => r.cells[2] === 'missing_scope' && r.cells[1] === '403' && r.cells[4] === '2001:db8::42' && r.consumer === 'alice' && r.cells[5] === 'alice')).toBe(true);
    expect(s1.rejections.filter((r) => r.cells[2] === 'rate_limited').every((r) => r.limit === 'per-ip' && r.cells[6] === 'per-ip')).toBe(true);
    expect(s1.rejections.some((r) => r.cells[2] === 'respond' && r.cells[1] === '403' && r.cells[3] === 'closed')).toBe(true);
    expect(s1.ws).toBe('3');
    expect(s1.upstreams.map((u) => [u.upstream, u.health])).toEqual([['orders-eu', 'up'], ['catalog', 'down']]);
    expect(s1.p99).toMatch(/ms$/);

    traffic(2);
    live.tick();
    await page.waitForFunction((want) => document.getElementById('v-total')!.textContent!.replace(/,/g, '') === want, String(85 * 3), { timeout: 15_000 });
    const s2 = await shown();
    expectPageMatchesMetrics(s2, await scrape());

    // The chart is drawn (some non-background pixels in the plot area).
    const painted = await page.evaluate(() => {
      const c = document.getElementById('chart') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    });
    expect(painted).toBeGreaterThan(100);

    // No card is wider than its box: the long route name is cut, not pushed past the panel (wide and narrow windows).
    for (const width of [1400, 720]) {
      await page.setViewportSize({ width, height: 1100 });
      await page.waitForFunction(() => true);
      const overflow = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('.panel, .panel .tablebox')]
        .filter((el) => el.closest('.scroll') === null && el.scrollWidth > el.clientWidth + 1)
        .map((el) => `${el.className} ${el.closest('.panel')!.querySelector('h2')!.textContent}: ${el.scrollWidth} > ${el.clientWidth}`));
      expect(overflow, `at ${width}px`).toEqual([]);
      const cell = await page.evaluate((name) => {
        const td = [...document.querySelectorAll<HTMLTableCellElement>('#t-routes td')].find((c) => c.textContent === name)!;
        return { title: td.title, cut: td.scrollWidth > td.clientWidth };
      }, LONG);
      expect(cell).toEqual({ title: LONG, cut: true });
    }
    await page.setViewportSize({ width: 1400, height: 1100 });

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(pageErrors).toEqual([]);
  });

  it('asks for the token when the feed refuses the connection', async () => {
    const p2 = await ctx.newPage();
    await p2.evaluate(() => sessionStorage.clear()).catch(() => {});
    await p2.goto(`http://127.0.0.1:${admin.port}/`);
    await p2.evaluate(() => sessionStorage.clear());
    await p2.reload();
    await p2.waitForSelector('#tokenbox', { state: 'visible', timeout: 15_000 });
    expect(await p2.textContent('#status')).toBe('disconnected');
    await p2.fill('#token', TOKEN);
    await p2.click('#tokenform button');
    await p2.waitForSelector('#t-routes tr[data-route="orders"]', { timeout: 15_000 });
    expect(await p2.textContent('#status')).toBe('live');
    await p2.close();
  });
});
