// Status codes → counter slots: registered codes under their own label,
// anything else under its class ("4xx") or "other". Built once at load.

const KNOWN_STATUSES = [
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423,
  424, 425, 426, 428, 429, 431, 444, 451, 499, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
] as const;
export const STATUS_LABELS: readonly string[] = [...KNOWN_STATUSES.map(String), '1xx', '2xx', '3xx', '4xx', '5xx', 'other'];
/** Status slots per route row. */
export const S = STATUS_LABELS.length;
export const SLOT_OTHER = S - 1;
/** status (0…599) → slot. */
export const STATUS_SLOT = new Uint8Array(600).fill(SLOT_OTHER);
for (let c = 1; c <= 5; c++) for (let s = c * 100; s < c * 100 + 100; s++) STATUS_SLOT[s] = KNOWN_STATUSES.length + c - 1;
KNOWN_STATUSES.forEach((s, i) => (STATUS_SLOT[s] = i));
/** slot → class 1…5, 0 = other. */
export const SLOT_CLASS = new Uint8Array(S);
for (let s = 0; s < 600; s++) SLOT_CLASS[STATUS_SLOT[s]!] = s >= 100 ? Math.floor(s / 100) : 0;
SLOT_CLASS[SLOT_OTHER] = 0;

/** Status classes, in the order of every `byClass` array: other, 1xx … 5xx. */
export const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
