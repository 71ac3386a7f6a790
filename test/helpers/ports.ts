// Ports on 127.0.0.1 for tests.
import net, { type AddressInfo } from 'node:net';

/** A port nothing listens on right now (bound to 0 on 127.0.0.1, read, released). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
