/** The HTTP/1.1 hot-path codec: head reading and parsing, body framing, head forwarding. */
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
export { ChunkedTracker } from './chunked.js';
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
