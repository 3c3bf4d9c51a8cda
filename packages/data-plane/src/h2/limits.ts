/**
 * Per-connection HTTP/2 limits of the client side (H2-2), one place for all of them.
 * The defaults follow HAProxy's: they bound what one connection may make the proxy hold
 * (streams, header bytes, buffered body) and how fast it may make it work (resets, pings,
 * settings, empty frames) — the levers of the rapid-reset, CONTINUATION-flood, HPACK-bomb
 * and ping/settings-flood attacks.
 */

/** SETTINGS_MAX_CONCURRENT_STREAMS we announce; one more open stream is refused. */
export const MAX_CONCURRENT_STREAMS = 100;
/** SETTINGS_INITIAL_WINDOW_SIZE we announce: what one stream may send before we drain it. */
export const INITIAL_WINDOW_SIZE = 65535;
/** The connection receive window we raise to right after the preface (WINDOW_UPDATE on stream 0). */
export const CONNECTION_WINDOW = 1 << 20;
/** SETTINGS_MAX_FRAME_SIZE we announce (the protocol's minimum: no frame makes us buffer more). */
export const MAX_FRAME_SIZE = 16384;
/** SETTINGS_MAX_HEADER_LIST_SIZE: decoded field bytes (name + value + 32 each) a request may carry. */
export const MAX_HEADER_LIST_SIZE = 16384;
/** SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the client's encoder may use. */
export const HEADER_TABLE_SIZE = 4096;
/** Encoded header block (HEADERS + CONTINUATIONs) beyond this is a CONTINUATION flood. */
export const MAX_HEADER_BLOCK = 65536;

/** Client RST_STREAMs per RESET_WINDOW_MS beyond this: rapid reset (CVE-2023-44487). */
export const MAX_RESETS = 100;
export const RESET_WINDOW_MS = 1000;
/** SETTINGS + PING frames per CONTROL_WINDOW_MS beyond this: a control-frame flood. */
export const MAX_CONTROL_FRAMES = 1000;
/** Empty DATA frames and HEADERS that open nothing, per CONTROL_WINDOW_MS, beyond this: an empty-frame flood. */
export const MAX_EMPTY_FRAMES = 10000;
export const CONTROL_WINDOW_MS = 10_000;

/** Largest flow-control window (RFC 9113 §6.9.1). */
export const MAX_WINDOW = 0x7fffffff;
/** Server-side write buffering past which streams stop being fed (their writes wait for 'drain'). */
export const SOCKET_HIGH_WATER = 256 * 1024;
