// Operational log: JSON lines on stderr when it is not a terminal (systemd,
// files, CI), short readable lines on a terminal. Never pass secrets or whole
// tokens in fields: use redactToken() for anything token-like.

type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let minLevel: number = ORDER[(process.env.PORTCULLIS_LOG_LEVEL as Level) ?? 'info'] ?? ORDER.info;
const pretty = process.env.PORTCULLIS_LOG_FORMAT === 'pretty' || (process.env.PORTCULLIS_LOG_FORMAT !== 'json' && process.stderr.isTTY === true);

export type LogFields = Record<string, unknown>;

export function setLogLevel(level: Level): void {
  minLevel = ORDER[level];
}

function write(level: Level, msg: string, fields?: LogFields): void {
  if (ORDER[level] < minLevel) return;
  if (pretty) {
    const extra = fields ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${extra}\n`);
  } else {
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
  }
}

export const log = {
  debug: (msg: string, fields?: LogFields) => write('debug', msg, fields),
  info: (msg: string, fields?: LogFields) => write('info', msg, fields),
  warn: (msg: string, fields?: LogFields) => write('warn', msg, fields),
  error: (msg: string, fields?: LogFields) => write('error', msg, fields),
};

/** First and last few characters of a token, enough to correlate, never enough to replay. */
export function redactToken(t: string): string {
  if (t.length <= 12) return '[redacted]';
  return `${t.slice(0, 6)}…${t.slice(-4)} (${t.length} chars)`;
}
