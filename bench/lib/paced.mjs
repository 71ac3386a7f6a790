// Latency at a fixed request rate, with autocannon's programmatic API
// (`overallRate`): wrk can only run flat out, and latency measured at
// saturation is mostly queueing. autocannon's own report rounds latency to
// whole milliseconds, so each response's duration (a float in ms) is
// recorded here into an HDR histogram in microseconds.
import autocannon from 'autocannon';
import hdr from 'hdr-histogram-js';

export async function runPaced({ url, rate, seconds, connections, headers = {} }) {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const inst = autocannon({ url, connections, duration: seconds, overallRate: Math.max(1, Math.round(rate)), headers });
  let non2xx = 0;
  inst.on('response', (_client, status, _bytes, ms) => {
    h.recordValue(Math.max(1, Math.round(ms * 1000)));
    if (status >= 400) non2xx++;
  });
  const res = await new Promise((resolve, reject) => {
    inst.on('done', resolve);
    inst.on('error', reject);
  });
  const out = {
    requests: res.requests.total,
    seconds: res.duration,
    rps: res.requests.total / res.duration,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    socketErrors: res.errors + res.timeouts,
    non2xx: non2xx,
  };
  h.destroy?.();
  return out;
}

/** autocannon flat out: the fallback generator when wrk cannot be installed. */
export async function runAutocannon({ url, seconds, connections, headers = {}, method = 'GET', body }) {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const inst = autocannon({ url, connections, duration: seconds, headers, method, body });
  let non2xx = 0;
  inst.on('response', (_c, status, _b, ms) => {
    h.recordValue(Math.max(1, Math.round(ms * 1000)));
    if (status >= 400) non2xx++;
  });
  const res = await new Promise((resolve, reject) => { inst.on('done', resolve); inst.on('error', reject); });
  const out = {
    requests: res.requests.total, seconds: res.duration, rps: res.requests.total / res.duration,
    p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9), max: h.maxValue, socketErrors: res.errors + res.timeouts, non2xx,
  };
  h.destroy?.();
  return out;
}
