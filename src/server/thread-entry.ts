// Entry of an extra event-loop thread (server.threads > 1): loads the same
// config, runs its own uWS apps on the same ports (SO_REUSEPORT: the kernel
// spreads connections), and obeys reload/shutdown messages from the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfigFile } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { Gateway } from './gateway.js';
import { makeSink } from './sink.js';
import { closeThreadResources, type SharedState } from './stages.js';

interface Data { configFile: string; shared: SharedState }
type Msg = { type: 'reload'; metricsBuffer?: SharedArrayBuffer } | { type: 'shutdown'; deadline: number };

const data = workerData as Data;
const port = parentPort!;

async function main(): Promise<void> {
  const plan = loadConfigFile(data.configFile);
  const sink = makeSink(plan, data.shared);
  const gw = await Gateway.start(plan, data.shared, sink.sink);
  port.postMessage({ type: 'listening', listeners: gw.listeners });
  port.on('message', (m: Msg | { type: 'reopen' }) => {
    if (m.type === 'reopen') { sink.reopen(); return; }
    if (m.type === 'reload') {
      void (async () => {
        try {
          const next = loadConfigFile(data.configFile);
          await gw.reload(next);
          sink.reload(next, m.metricsBuffer);
          port.postMessage({ type: 'reloaded', ok: true });
        } catch (e) {
          port.postMessage({ type: 'reloaded', ok: false, error: e instanceof ConfigError ? e.message : String(e) });
        }
      })();
    } else if (m.type === 'shutdown') {
      void gw.shutdown(m.deadline).then(async () => {
        await closeThreadResources();
        await sink.close();
        port.postMessage({ type: 'stopped' });
        port.close();
      });
    }
  });
}

main().catch((e: unknown) => {
  port.postMessage({ type: 'failed', error: e instanceof Error ? e.message : String(e) });
});
