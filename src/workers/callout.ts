// What an HTTP callout task takes and answers. Failures are values, not
// thrown errors: they cross the thread boundary cheaply and the caller maps
// each kind to its failure_mode.

export interface CalloutRequest {
  [key: string]: unknown;
  url: string;
  method: 'GET' | 'POST';
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  body?: string;
  /** Answers with a body larger than this fail with error "too_large". */
  maxBody?: number;
  /** Epoch ms, set by the pool. */
  deadline?: number;
}

export type CalloutErrorKind = 'timeout' | 'refused' | 'protocol' | 'network' | 'too_large' | 'expired';

export type CalloutAnswer =
  | {
      readonly ok: true;
      readonly status: number;
      /** Answer headers, lower-case names; repeated ones joined with ", " (set-cookie dropped). */
      readonly headers: Readonly<Record<string, string>>;
      readonly body: string;
    }
  | { readonly ok: false; readonly error: CalloutErrorKind; readonly detail: string };
