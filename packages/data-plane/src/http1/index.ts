/**
 * The HTTP/1.1 hot-path codec: head reading and parsing, body framing, head forwarding.
 *
 * Per client connection (worker only, all reused per request; nothing here allocates on a
 * typical request except the lazily decoded strings the caller asks for):
 *
 *   reader = new HeadReader(limits.maxHeadBytes, limits.maxRequestLineBytes)
 *   req = new RequestHead(limits.maxHeaders); body = new ChunkedTracker(limits)
 *   ctx = new ForwardContext({clientIp, proto, port, instanceId, loop}); slices = new HeadSlices()
 *
 *   on data(chunk): switch (reader.push(chunk))
 *     MORE  -> wait (the caller owns the head timeout)
 *     ERROR -> answer h1ErrorStatus(reader.error) h1ErrorReason(reader.error), close
 *     DONE  -> code = parseRequestHead(reader.buf, reader.start, reader.end, req, limits)
 *              code !== 0 -> answer h1ErrorStatus(code), close
 *              loop.inHead(req) -> 508 (BS-8; loop-marker.ts)
 *              route on req.host / req.path / req.query / req.method / getHeader / getCookie
 *              buildForwardRequestHead(req, ctx, slices, upstreamKeepAlive, rule.edits)
 *              body: req.bodyKind LENGTH -> req.contentLength bytes; CHUNKED -> body.feed();
 *              bytes after the head: reader.restBuf[restStart, restEnd)
 *
 * Upstream: the same HeadReader + ResponseHead + parseResponseHead(…, req.method,
 * ReqFlag bits) + buildClientResponseHead; every error there is a 502 to the client.
 *
 * Documented choices where RFC 9110/9112 or HAProxy leave room (stricter is the rule):
 * - Content-Length repeated in a request: refused even with equal values (HAProxy merges).
 *   In a response, identical repeats are accepted and sent once; differing ones are a 502.
 * - Transfer-Encoding: exactly one line whose value is `chunked` (any case, OWS around);
 *   another coding (`gzip, chunked`, `identity`, `xchunked`) is 501; malformed lists,
 *   `chunked` repeated or not last, parameters, a second TE line are 400. Forwarded as a
 *   canonical `Transfer-Encoding: chunked` line. TE in HTTP/1.0 is 400; CL with TE is 400.
 * - absolute-form targets: http/https only, no userinfo; the authority must match Host
 *   (case-insensitive, default port folded) or 400; forwarded in origin-form. CONNECT is
 *   501 (we are not a forward proxy); `*` only with OPTIONS.
 * - Host: required in HTTP/1.1, once; reg-name or IP-literal with an optional 1-5 digit
 *   port <= 65535; `,` `@` `/` and spaces refused; an empty Host is allowed (RFC 9110 §7.2).
 * - Connection may not nominate Host, Content-Length, Transfer-Encoding, the forwarding
 *   headers (X-Forwarded-*, Forwarded, X-Real-IP, SLB-ID) or X-Fulcrum-Loop (400). Authorization is not protected: only the
 *   client's own credentials would be dropped.
 * - Upgrade passes through only for a WebSocket handshake (GET, HTTP/1.1, Connection:
 *   upgrade, a single `Upgrade: websocket`, no body); any other Upgrade (h2c) is stripped
 *   with HTTP2-Settings and the request is served as plain HTTP/1.1, as HAProxy does.
 * - Expect: only 100-continue (ignored from HTTP/1.0 clients); anything else is 417.
 * - Line ends are CRLF only: a bare LF or bare CR anywhere in a head is 400 (HeadReader
 *   refuses a bare LF as soon as it arrives). Empty lines before a request are skipped.
 * - Targets: visible ASCII only; `#` (a fragment) is refused.
 * - A known field name spelled with `_` for `-` (Content_Length, Transfer_Encoding,
 *   X_Forwarded_For...) is 400 / 502: CGI-style backends fold `_` and `-` together.
 *   Underscores in other names are forwarded.
 * - The request keeps the client's HTTP version upstream (an HTTP/1.0 client gets an answer
 *   it can read); responses to the client always say HTTP/1.1.
 */
export * from './errors.js';
export * from './limits.js';
export { HeaderId, LOOP_HEADER, type HeaderIdValue } from './header-ids.js';
export { BodyKind, HDR_STRIDE, MessageHead, type BodyKindValue } from './message-head.js';
export { findHeadEnd, HeadReader, ReadStatus, HEAD_INCOMPLETE, HEAD_BARE_LF, type ReadStatusValue } from './head-reader.js';
export {
  Method,
  METHOD_NAMES,
  TargetForm,
  RequestHead,
  parseRequestHead,
  isValidAuthority,
  REQUEST_PROTECTED_NOMINATIONS,
  type MethodValue,
  type TargetFormValue,
} from './request-head.js';
export { ResponseHead, parseResponseHead, ReqFlag, RESPONSE_PROTECTED_NOMINATIONS } from './response-head.js';
export { ChunkedTracker, type ChunkSink } from './chunked.js';
export { HeadSlices } from './head-slices.js';
export {
  ForwardContext,
  ClientConnection,
  buildForwardRequestHead,
  buildClientResponseHead,
  encodeHeaderLines,
  type ForwardContextOptions,
  type RequestEdits,
  type ClientConnectionValue,
} from './forward-head.js';
