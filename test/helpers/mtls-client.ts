// An HTTPS client for mutual-TLS tests: trusts one CA, presents a client
// certificate when given, 127.0.0.1 only.
import https from 'node:https';
import type { LeafFiles } from './pki.js';

export interface TlsResult { status: number; text: string; headers: Record<string, unknown> }

export interface MtlsRequest {
  readonly ca: string;
  readonly client?: LeafFiles;
  readonly headers?: Record<string, string>;
  readonly servername?: string;
  /** A keep-alive agent to reuse one connection; default a fresh connection. */
  readonly agent?: https.Agent;
}

export function mtlsGet(port: number, path: string, o: MtlsRequest): Promise<TlsResult> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path, ca: o.ca, servername: o.servername ?? 'localhost', agent: o.agent ?? false, headers: o.headers ?? {},
      ...(o.client ? { cert: o.client.pem, key: o.client.keyPem } : {}),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The lab upstream echoes what it received: the headers it saw. */
export function echoedHeaders(r: TlsResult): Record<string, string> {
  return (JSON.parse(r.text) as { headers: Record<string, string> }).headers;
}
