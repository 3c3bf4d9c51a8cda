/**
 * HTTP/2 receive windows of the backend side (h2c sessions to gRPC servers). The client
 * side's windows are the contract's, in limits.ts.
 * With the protocol's defaults (64 KiB per stream and per connection) a stream moves one
 * window per round trip through both event loops; measured on a loaded 2-core machine, a
 * 32 MiB echo through an h2 listener took 2.5–3x as long as over HTTP/1.1, about 2x with
 * these. Memory stays bounded: node grants window only as the piped side consumes, so a
 * stream buffers at most its window and a session at most SESSION_WINDOW_BYTES.
 */
export const STREAM_WINDOW_BYTES = 1 << 20;
export const SESSION_WINDOW_BYTES = 8 << 20;
