// systemd readiness (Type=notify). Node cannot send to a unix datagram socket
// itself, so we run `systemd-notify`; it sends from a child process, which is
// why the unit says NotifyAccess=all (with NotifyAccess=main systemd would
// ignore it). systemd-notify waits until systemd has processed the message, so
// there is no race with the child exiting. Without NOTIFY_SOCKET (not under
// systemd, or Type=exec) every call is a no-op.
import { execFile } from 'node:child_process';
import { log } from './log.js';

function notify(args: string[]): Promise<boolean> {
  if (!process.env.NOTIFY_SOCKET) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('systemd-notify', args, { timeout: 5000 }, (err) => {
      if (err) {
        log.warn('systemd-notify failed; systemd may consider the service not started', { args: args.join(' '), error: err.message });
        resolve(false);
      } else resolve(true);
    });
  });
}

/** Started: listeners are bound and the plan is loaded. */
export function notifyReady(status = 'ready'): Promise<boolean> {
  return notify(['--ready', `--status=${status}`]);
}

/** A reload (SIGHUP) has begun; call notifyReady() when it is done. */
export function notifyReloading(): Promise<boolean> {
  return notify(['--status=reloading configuration', 'RELOADING=1']);
}

/** Shutting down: draining connections. */
export function notifyStopping(): Promise<boolean> {
  return notify(['--status=stopping', 'STOPPING=1']);
}

/** Free-form status line shown by `systemctl status`. */
export function notifyStatus(text: string): Promise<boolean> {
  return notify([`--status=${text}`]);
}
