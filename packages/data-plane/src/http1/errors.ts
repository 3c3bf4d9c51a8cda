/**
 * The HTTP/1.1 codec's error table. Hot-path functions return one of these small integers
 * (0 = OK) instead of throwing; the connection code maps a code to a status line at the edge.
 *
 * Status rule: the `status` column is what the proxy answers the *client* when the client's
 * own bytes (request head, request body framing) carry the fault. Any fault found in bytes
 * a *backend* sent (response head, response body framing) is answered 502, whatever the
 * code: use `h1ErrorStatus(code, true)`.
 *
 * The codes are stable numbers: the access log and the conformance suite may record them.
 */

export const H1Error = {
  OK: 0,
  // request line
  BAD_REQUEST_LINE: 1,
  BAD_METHOD: 2,
  BAD_TARGET: 3,
  URI_TOO_LONG: 4,
  BAD_VERSION: 5,
  VERSION_NOT_SUPPORTED: 6,
  CONNECT_NOT_SUPPORTED: 7,
  // line structure and size
  BARE_LF: 8,
  BARE_CR: 9,
  OBS_FOLD: 10,
  HEAD_TOO_LARGE: 11,
  TOO_MANY_HEADERS: 12,
  // field lines
  BAD_HEADER_NAME: 13,
  WS_BEFORE_COLON: 14,
  BAD_HEADER_LINE: 15,
  BAD_HEADER_VALUE: 16,
  // Host
  MISSING_HOST: 17,
  DUPLICATE_HOST: 18,
  BAD_HOST: 19,
  HOST_MISMATCH: 20,
  // message framing
  CL_AND_TE: 21,
  DUPLICATE_CL: 22,
  BAD_CL: 23,
  TE_IN_HTTP10: 24,
  BAD_TE: 25,
  TE_NOT_IMPLEMENTED: 26,
  // connection management
  BAD_CONNECTION: 27,
  CONNECTION_PROTECTED: 28,
  EXPECTATION_FAILED: 29,
  // chunked body
  BAD_CHUNK_SIZE: 30,
  CHUNK_SIZE_OVERFLOW: 31,
  BAD_CHUNK_EXT: 32,
  CHUNK_LINE_TOO_LONG: 33,
  BAD_CHUNK_DATA_END: 34,
  TRAILER_TOO_LARGE: 35,
  FORBIDDEN_TRAILER: 36,
  // backend responses only
  BAD_STATUS_LINE: 37,
  BAD_STATUS_CODE: 38,
  UNEXPECTED_101: 39,
  CHUNKED_TO_HTTP10: 40,
} as const;

export interface H1ErrorInfo {
  readonly code: number;
  readonly name: string;
  /** Status the proxy answers the client when the client's bytes carry this fault. */
  readonly status: number;
  /** Short reason: safe to show a client (no input echoed), also the access-log reason. */
  readonly reason: string;
}

const rows: ReadonlyArray<readonly [keyof typeof H1Error, number, string]> = [
  ['OK', 200, 'OK'],
  ['BAD_REQUEST_LINE', 400, 'Malformed request line'],
  ['BAD_METHOD', 400, 'Invalid character in method'],
  ['BAD_TARGET', 400, 'Invalid request target'],
  ['URI_TOO_LONG', 414, 'Request line too long'],
  ['BAD_VERSION', 400, 'Malformed HTTP version'],
  ['VERSION_NOT_SUPPORTED', 505, 'HTTP version not supported'],
  ['CONNECT_NOT_SUPPORTED', 501, 'CONNECT is not supported'],
  ['BARE_LF', 400, 'Line terminated by bare LF'],
  ['BARE_CR', 400, 'Bare CR in message head'],
  ['OBS_FOLD', 400, 'Obsolete line folding'],
  ['HEAD_TOO_LARGE', 431, 'Header section too large'],
  ['TOO_MANY_HEADERS', 431, 'Too many header fields'],
  ['BAD_HEADER_NAME', 400, 'Invalid header field name'],
  ['WS_BEFORE_COLON', 400, 'Whitespace between header name and colon'],
  ['BAD_HEADER_LINE', 400, 'Header line without colon'],
  ['BAD_HEADER_VALUE', 400, 'Invalid character in header field value'],
  ['MISSING_HOST', 400, 'Missing Host header'],
  ['DUPLICATE_HOST', 400, 'Duplicate Host header'],
  ['BAD_HOST', 400, 'Invalid Host'],
  ['HOST_MISMATCH', 400, 'Host does not match the request target'],
  ['CL_AND_TE', 400, 'Both Content-Length and Transfer-Encoding'],
  ['DUPLICATE_CL', 400, 'Duplicate Content-Length'],
  ['BAD_CL', 400, 'Invalid Content-Length'],
  ['TE_IN_HTTP10', 400, 'Transfer-Encoding in an HTTP/1.0 message'],
  ['BAD_TE', 400, 'Invalid Transfer-Encoding'],
  ['TE_NOT_IMPLEMENTED', 501, 'Transfer coding not implemented'],
  ['BAD_CONNECTION', 400, 'Invalid Connection header'],
  ['CONNECTION_PROTECTED', 400, 'Connection header nominates a protected header'],
  ['EXPECTATION_FAILED', 417, 'Unsupported expectation'],
  ['BAD_CHUNK_SIZE', 400, 'Invalid chunk size'],
  ['CHUNK_SIZE_OVERFLOW', 400, 'Chunk size too large'],
  ['BAD_CHUNK_EXT', 400, 'Invalid chunk extension'],
  ['CHUNK_LINE_TOO_LONG', 400, 'Chunk size line too long'],
  ['BAD_CHUNK_DATA_END', 400, 'Chunk data not followed by CRLF'],
  ['TRAILER_TOO_LARGE', 400, 'Trailer section too large'],
  ['FORBIDDEN_TRAILER', 400, 'Forbidden field in trailer section'],
  ['BAD_STATUS_LINE', 502, 'Malformed status line'],
  ['BAD_STATUS_CODE', 502, 'Invalid status code'],
  ['UNEXPECTED_101', 502, 'Switching Protocols without an upgrade request'],
  ['CHUNKED_TO_HTTP10', 502, 'Chunked response to an HTTP/1.0 request'],
];

/** Indexed by code. */
export const H1_ERRORS: readonly H1ErrorInfo[] = rows.map(([name, status, reason]) => {
  return Object.freeze({ code: H1Error[name], name, status, reason });
});

for (let i = 0; i < H1_ERRORS.length; i++) {
  if (H1_ERRORS[i]!.code !== i) throw new Error(`H1 error table out of order at ${i}`);
}

/** Every fault in backend bytes becomes a 502 for the client (bad gateway). */
export const UPSTREAM_ERROR_STATUS = 502;

export function h1ErrorStatus(code: number, upstream = false): number {
  if (upstream) return UPSTREAM_ERROR_STATUS;
  const info = H1_ERRORS[code];
  return info === undefined ? 400 : info.status;
}

export function h1ErrorReason(code: number): string {
  const info = H1_ERRORS[code];
  return info === undefined ? 'Bad request' : info.reason;
}

export function h1ErrorName(code: number): string {
  const info = H1_ERRORS[code];
  return info === undefined ? `UNKNOWN_${code}` : info.name;
}
