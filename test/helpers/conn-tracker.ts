// Bookkeeping of a raw test server's TCP connections: ids in accept order,
// which are open, which closed, and waiting for one to close. Shared by the
// crafted-bytes upstreams of test/upstream-client and test/proxy-integration.
import type net from 'node:net';

export interface ConnTracker {
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections currently open. */
  open(): number;
  /** Registers an accepted socket (no Nagle, errors ignored); returns its 1-based id. */
  track(socket: net.Socket): number;
  /** Resolves true when the connection has closed, false after `ms`. */
  waitClosed(connId: number, ms: number): Promise<boolean>;
  isClosed(connId: number): boolean;
  /** Destroys every open connection, then closes the server. */
  closeServer(server: net.Server): Promise<void>;
}

export function connTracker(): ConnTracker {
  let accepted = 0;
  const sockets = new Map<number, net.Socket>();
  const closedIds = new Set<number>();
  const waiters = new Map<number, Array<() => void>>();
  return {
    accepted: () => accepted,
    open: () => sockets.size,
    track(socket) {
      const connId = ++accepted;
      sockets.set(connId, socket);
      socket.setNoDelay(true);
      socket.on('error', () => {}); // tests reset connections on purpose
      socket.on('close', () => {
        sockets.delete(connId);
        closedIds.add(connId);
        for (const w of waiters.get(connId) ?? []) w();
        waiters.delete(connId);
      });
      return connId;
    },
    waitClosed(connId, ms) {
      if (closedIds.has(connId)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), ms);
        const list = waiters.get(connId) ?? [];
        list.push(() => { clearTimeout(t); resolve(true); });
        waiters.set(connId, list);
      });
    },
    isClosed: (connId) => closedIds.has(connId),
    closeServer(server) {
      for (const s of sockets.values()) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
