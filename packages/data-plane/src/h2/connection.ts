import { performance } from 'node:perf_hooks';
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import * as F from './frames.js';
import * as L from './limits.js';
import { HpackDecoder, HpackError } from './hpack.js';
import { FieldCollector } from './request-fields.js';
import { H2Stream } from './stream.js';
import { FloodCounters } from './floods.js';
import { H2StreamSet } from './stream-set.js';

/** What a connection hands its streams to (H2Frontend). */
export interface ConnectionHost {
  /** A valid request opened a stream. */
  onStream(conn: H2Connection, stream: H2Stream): void;
  /** The socket closed: the connection is gone. */
  connectionClosed(conn: H2Connection): void;
  /** An unexpected error ended the connection (it is logged there). */
  connectionFailed(error: unknown): void;
}

/** A connection error: GOAWAY with this code, then close (RFC 9113 §5.4.1). */
class ConnectionError extends Error {
  constructor(readonly code: number, why: string) {
    super(why);
  }
}

const OUR_SETTINGS: readonly (readonly [number, number])[] = [
  [F.SETTINGS_MAX_CONCURRENT_STREAMS, L.MAX_CONCURRENT_STREAMS],
  [F.SETTINGS_INITIAL_WINDOW_SIZE, L.INITIAL_WINDOW_SIZE],
  [F.SETTINGS_MAX_FRAME_SIZE, L.MAX_FRAME_SIZE],
  [F.SETTINGS_MAX_HEADER_LIST_SIZE, L.MAX_HEADER_LIST_SIZE],
  [F.SETTINGS_HEADER_TABLE_SIZE, L.HEADER_TABLE_SIZE],
  [F.SETTINGS_ENABLE_PUSH, 0],
];

const TOO_LARGE_BODY = Buffer.from('Request header fields too large.\n');

/**
 * The server side of one HTTP/2 connection (RFC 9113) on a TLS socket that chose `h2`:
 * frames in, checked against the protocol and the limits of limits.ts, streams out to the
 * host; responses framed back within the client's windows. Frames are parsed in place from
 * the socket's chunks (a partial frame is carried over); nothing is allocated per frame
 * except the header block collected across CONTINUATIONs.
 */
export class H2Connection extends H2StreamSet {
  private readonly decoder = new HpackDecoder(L.HEADER_TABLE_SIZE, L.MAX_HEADER_LIST_SIZE);
  private readonly fields = new FieldCollector();
  private readonly floods = new FloodCounters();
  private carry: Buffer | undefined;
  private prefaceDone = false;
  private settingsSeen = false;
  /** Highest client stream id seen (streams at or below it are no longer idle). */
  private lastStreamId = 0;
  /** HEADERS + CONTINUATIONs being collected: the stream, its flags, the bytes so far. */
  private blockStream = 0;
  private blockFlags = 0;
  private blockSelfDependent = false;
  /** Only for blocks split over CONTINUATIONs (rare): allocated when first needed. */
  private block: Buffer | undefined;
  private blockLen = 0;
  /** What the client may still send on the connection, and what it sent that we have not granted back yet. */
  private recvWindow = L.CONNECTION_WINDOW;
  private recvUnacked = 0;
  /** We sent GOAWAY (shutdown or error): no new streams; close once the last one ends. */
  private goingAway = false;
  /** The client sent GOAWAY: its in-flight streams finish, it opens no new ones. */
  private peerGoneAway = false;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  /** When a frame last arrived, and when the last stream ended (the idle timeout counts from the later). */
  private lastActive = performance.now();
  private idleSince = this.lastActive;

  constructor(socket: Socket, private readonly host: ConnectionHost, private readonly idleMs: number, readonly remoteAddress: string, readonly remotePort: number) {
    super(socket);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', noop);
    socket.once('close', () => this.onSocketClose());
    this.out.settings(OUR_SETTINGS, false);
    this.out.windowUpdate(0, L.CONNECTION_WINDOW - 65535);
    this.armIdle(this.idleMs);
  }

  get openStreams(): number {
    return this.streams.size;
  }

  // ---------------------------------------------------------------- reading: frames parsed in place
  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastActive = performance.now();
    let buf = chunk;
    if (this.carry !== undefined) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    try {
      let pos = 0;
      if (!this.prefaceDone) {
        const n = Math.min(buf.length, F.PREFACE.length);
        if (buf.compare(F.PREFACE, 0, n, 0, n) !== 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'bad preface');
        if (n < F.PREFACE.length) {
          this.carry = buf;
          return;
        }
        this.prefaceDone = true;
        pos = n;
      }
      while (buf.length - pos >= F.FRAME_HEADER) {
        const len = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2];
        if (len > L.MAX_FRAME_SIZE) throw new ConnectionError(F.FRAME_SIZE_ERROR, 'frame too large');
        if (buf.length - pos < F.FRAME_HEADER + len) break;
        const type = buf[pos + 3];
        const flags = buf[pos + 4];
        const id = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        this.frame(type, flags, id, buf, pos + F.FRAME_HEADER, len);
        if (this.closed) return;
        pos += F.FRAME_HEADER + len;
      }
      if (pos < buf.length) this.carry = buf.subarray(pos);
    } catch (e) {
      if (e instanceof ConnectionError) this.fail(e.code);
      else if (e instanceof HpackError) this.fail(F.COMPRESSION_ERROR);
      else {
        // A bug (ours, or in a stream's reader run from a push) costs this connection, not the worker.
        this.host.connectionFailed(e);
        this.fail(F.INTERNAL_ERROR);
      }
    }
  }

  private frame(type: number, flags: number, id: number, b: Buffer, p: number, len: number): void {
    if (this.blockStream !== 0 && (type !== F.CONTINUATION || id !== this.blockStream)) {
      throw new ConnectionError(F.PROTOCOL_ERROR, 'CONTINUATION expected');
    }
    if (!this.settingsSeen && type !== F.SETTINGS) throw new ConnectionError(F.PROTOCOL_ERROR, 'SETTINGS expected first');
    switch (type) {
      case F.DATA: return this.onDataFrame(flags, id, b, p, len);
      case F.HEADERS: return this.onHeaders(flags, id, b, p, len);
      case F.PRIORITY: return this.onPriority(id, b, p, len);
      case F.RST_STREAM: return this.onRst(id, b, p, len);
      case F.SETTINGS: return this.onSettings(flags, id, b, p, len);
      case F.PUSH_PROMISE: throw new ConnectionError(F.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case F.PING:
        if (id !== 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'PING on a stream');
        if (len !== 8) throw new ConnectionError(F.FRAME_SIZE_ERROR, 'PING size');
        if (this.floods.control()) throw new ConnectionError(F.ENHANCE_YOUR_CALM, 'PING flood');
        if ((flags & F.ACK) === 0) this.out.pingAck(b, p);
        return;
      case F.GOAWAY:
        if (id !== 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (len < 8) throw new ConnectionError(F.FRAME_SIZE_ERROR, 'GOAWAY size');
        this.peerGoneAway = true;
        this.closeWhenIdle();
        return;
      case F.WINDOW_UPDATE: return this.onWindowUpdate(id, b, p, len);
      case F.CONTINUATION:
        if (this.blockStream === 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
        // Empty CONTINUATIONs never grow the block past its byte bound: counted like empty DATA.
        if (len === 0 && (flags & F.END_HEADERS) === 0 && this.floods.empty()) throw new ConnectionError(F.ENHANCE_YOUR_CALM, 'empty CONTINUATION flood');
        this.append(b, p, len);
        if (flags & F.END_HEADERS) this.endBlock(this.block!, 0, this.blockLen);
        return;
      default:
        // Unknown frame types are ignored (RFC 9113 §4.1).
        return;
    }
  }

  /** The payload without its padding (PADDED flag); throws when the padding is longer than the frame. */
  private unpad(flags: number, b: Buffer, p: number, len: number, extra: number): [number, number] {
    if ((flags & F.PADDED) === 0) return [p + extra, len - extra];
    if (len < 1) throw new ConnectionError(F.FRAME_SIZE_ERROR, 'padded frame too short');
    const pad = b[p];
    if (pad + 1 + extra > len) throw new ConnectionError(F.PROTOCOL_ERROR, 'padding longer than the frame');
    return [p + 1 + extra, len - 1 - extra - pad];
  }

  private onDataFrame(flags: number, id: number, b: Buffer, p: number, len: number): void {
    if (id === 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'DATA on stream 0');
    if (this.idle(id)) throw new ConnectionError(F.PROTOCOL_ERROR, 'DATA on an idle stream');
    this.recvWindow -= len;
    if (this.recvWindow < 0) throw new ConnectionError(F.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    // The connection window comes back at once: each stream's own window bounds what we hold.
    this.recvUnacked += len;
    if (this.recvUnacked >= L.CONNECTION_WINDOW / 2) {
      this.out.windowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    const [dp, dlen] = this.unpad(flags, b, p, len, 0);
    const end = (flags & F.END_STREAM) !== 0;
    if (dlen === 0 && !end && this.floods.empty()) throw new ConnectionError(F.ENHANCE_YOUR_CALM, 'empty DATA flood');
    const s = this.streams.get(id);
    if (s === undefined || s.remoteClosed) {
      this.out.rst(id, F.STREAM_CLOSED);
      if (s !== undefined) this.finishStream(s);
      return;
    }
    s.recvWindow -= len;
    if (s.recvWindow < 0) throw new ConnectionError(F.FLOW_CONTROL_ERROR, 'DATA beyond the stream window');
    // Padding is nobody's to read: its window comes back now.
    if (len > dlen) this.grant(s, len - dlen);
    s.dataReceived += dlen;
    if (s.contentLength >= 0 && (s.dataReceived > s.contentLength || (end && s.dataReceived !== s.contentLength))) {
      this.reset(s, F.PROTOCOL_ERROR);
      return;
    }
    if (dlen > 0) {
      const chunk = b.subarray(dp, dp + dlen);
      // The bytes that complete a content-length body wait for END_STREAM: a client that then
      // sends more is reset, and the backend must not have taken a whole request by then.
      if (!end && s.dataReceived === s.contentLength) s.heldTail = chunk;
      else s.deliver(chunk);
    }
    if (end) this.remoteEnd(s);
  }

  private onHeaders(flags: number, id: number, b: Buffer, p: number, len: number): void {
    if (id === 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'HEADERS on stream 0');
    if ((id & 1) === 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'even stream id');
    const [hp, hlen] = this.unpad(flags, b, p, len, flags & F.PRIORITY_FLAG ? 5 : 0);
    if (hlen < 0) throw new ConnectionError(F.FRAME_SIZE_ERROR, 'HEADERS too short');
    const s = this.streams.get(id);
    if (s === undefined && id <= this.lastStreamId) throw new ConnectionError(F.PROTOCOL_ERROR, 'new stream id not above the last one');
    // A stream depending on itself (§5.3.1) is a stream error; its block still updates HPACK.
    this.blockSelfDependent = (flags & F.PRIORITY_FLAG) !== 0 && (b.readUInt32BE(hp - 5) & 0x7fffffff) === id;
    this.blockFlags = flags;
    if (s === undefined) this.lastStreamId = id;
    this.blockStream = id;
    this.blockLen = 0;
    // A whole block in one frame (the common case) is decoded where it lies, without a copy.
    if (flags & F.END_HEADERS) this.endBlock(b, hp, hlen);
    else this.append(b, hp, hlen);
  }

  private append(b: Buffer, p: number, len: number): void {
    const need = this.blockLen + len;
    if (need > L.MAX_HEADER_BLOCK) throw new ConnectionError(F.ENHANCE_YOUR_CALM, 'header block too large');
    const have = this.block?.length ?? 0;
    if (need > have) {
      const bigger = Buffer.allocUnsafe(Math.min(L.MAX_HEADER_BLOCK, Math.max(need, have * 2, 1024)));
      this.block?.copy(bigger, 0, 0, this.blockLen);
      this.block = bigger;
    }
    b.copy(this.block!, this.blockLen, p, p + len);
    this.blockLen = need;
  }

  /** A complete header block: decode it (always: HPACK state is the connection's), then open, refuse or end the stream. */
  private endBlock(buf: Buffer, start: number, len: number): void {
    const id = this.blockStream;
    const flags = this.blockFlags;
    this.blockStream = 0;
    const existing = this.streams.get(id);
    const c = this.fields;
    c.reset(existing !== undefined);
    const fits = this.decoder.decode(buf, start, start + len, c, L.MAX_HEADER_LIST_SIZE);
    const end = (flags & F.END_STREAM) !== 0;
    if (existing !== undefined) return this.onTrailers(existing, end, fits);
    if (this.blockSelfDependent) {
      this.out.rst(id, F.PROTOCOL_ERROR);
      return;
    }
    if (this.goingAway || this.peerGoneAway) return;
    if (len === 0 && !end && this.floods.empty()) throw new ConnectionError(F.ENHANCE_YOUR_CALM, 'empty HEADERS flood');
    if (this.streams.size >= L.MAX_CONCURRENT_STREAMS) {
      this.out.rst(id, F.REFUSED_STREAM);
      return;
    }
    if (!fits) {
      this.answerTooLarge(id, end);
      return;
    }
    c.finishRequest();
    if (c.error !== undefined) {
      this.out.rst(id, F.PROTOCOL_ERROR);
      return;
    }
    const s = new H2Stream(this, id, this.peerInitialWindow, L.INITIAL_WINDOW_SIZE, c.fields);
    s.contentLength = c.contentLength;
    this.streams.set(id, s);
    if (end) {
      s.endAfterHeaders = true;
      if (s.contentLength > 0) {
        this.out.rst(id, F.PROTOCOL_ERROR);
        this.streams.delete(id);
        return;
      }
      // The reader sees the end when it first reads (stream.ts _read): most never read.
      s.remoteClosed = true;
    }
    this.host.onStream(this, s);
  }

  private onTrailers(s: H2Stream, end: boolean, fits: boolean): void {
    if (s.remoteClosed) {
      this.out.rst(s.id, F.STREAM_CLOSED);
      return;
    }
    if (!end || !fits || this.fields.error !== undefined) {
      this.reset(s, F.PROTOCOL_ERROR);
      return;
    }
    if (s.contentLength >= 0 && s.dataReceived !== s.contentLength) {
      this.reset(s, F.PROTOCOL_ERROR);
      return;
    }
    s.trailers = this.fields.fields;
    this.remoteEnd(s);
  }

  private remoteEnd(s: H2Stream): void {
    const held = s.heldTail;
    if (held !== undefined) {
      s.heldTail = undefined;
      s.deliver(held);
    }
    s.remoteClosed = true;
    s.endRequestBody();
    if (s.localClosed) this.finishStream(s);
  }

  /** HPACK bomb or a too large list: a 431 of our own; the backend gets nothing. */
  private answerTooLarge(id: number, end: boolean): void {
    this.out.frameCopy(F.HEADERS, F.END_HEADERS, id, this.encoder.encode({ ':status': 431, 'content-type': 'text/plain; charset=utf-8', 'content-length': TOO_LARGE_BODY.length }));
    this.out.data(F.END_STREAM, id, TOO_LARGE_BODY);
    if (!end) this.out.rst(id, F.NO_ERROR);
  }

  private onPriority(id: number, b: Buffer, p: number, len: number): void {
    if (id === 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'PRIORITY on stream 0');
    if (len !== 5) {
      this.rstById(id, F.FRAME_SIZE_ERROR);
      return;
    }
    if ((b.readUInt32BE(p) & 0x7fffffff) === id) this.rstById(id, F.PROTOCOL_ERROR);
  }

  private onRst(id: number, b: Buffer, p: number, len: number): void {
    if (id === 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (len !== 4) throw new ConnectionError(F.FRAME_SIZE_ERROR, 'RST_STREAM size');
    if (this.idle(id)) throw new ConnectionError(F.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
    if (this.floods.reset()) throw new ConnectionError(F.ENHANCE_YOUR_CALM, 'rapid reset');
    const s = this.streams.get(id);
    if (s === undefined) return;
    s.rstCode = b.readUInt32BE(p);
    this.finishStream(s);
  }

  private onSettings(flags: number, id: number, b: Buffer, p: number, len: number): void {
    if (id !== 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & F.ACK) {
      if (len !== 0) throw new ConnectionError(F.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (len % 6 !== 0) throw new ConnectionError(F.FRAME_SIZE_ERROR, 'SETTINGS size');
    if (this.settingsSeen && this.floods.control()) throw new ConnectionError(F.ENHANCE_YOUR_CALM, 'SETTINGS flood');
    this.settingsSeen = true;
    for (let i = p; i < p + len; i += 6) {
      const key = b.readUInt16BE(i);
      const v = b.readUInt32BE(i + 2);
      switch (key) {
        case F.SETTINGS_HEADER_TABLE_SIZE:
          this.encoder.setMaxTableSize(v, L.HEADER_TABLE_SIZE);
          break;
        case F.SETTINGS_ENABLE_PUSH:
          if (v > 1) throw new ConnectionError(F.PROTOCOL_ERROR, 'ENABLE_PUSH not 0 or 1');
          break;
        case F.SETTINGS_INITIAL_WINDOW_SIZE: {
          if (v > L.MAX_WINDOW) throw new ConnectionError(F.FLOW_CONTROL_ERROR, 'INITIAL_WINDOW_SIZE too large');
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > L.MAX_WINDOW) throw new ConnectionError(F.FLOW_CONTROL_ERROR, 'stream window overflow');
          }
          if (delta > 0) this.pumpStalled();
          break;
        }
        case F.SETTINGS_MAX_FRAME_SIZE:
          if (v < 16384 || v > 16777215) throw new ConnectionError(F.PROTOCOL_ERROR, 'MAX_FRAME_SIZE out of range');
          this.peerMaxFrame = v;
          break;
        default:
          break;
      }
    }
    this.out.settings([], true);
  }

  private onWindowUpdate(id: number, b: Buffer, p: number, len: number): void {
    if (len !== 4) throw new ConnectionError(F.FRAME_SIZE_ERROR, 'WINDOW_UPDATE size');
    const inc = b.readUInt32BE(p) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(F.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += inc;
      if (this.sendWindow > L.MAX_WINDOW) throw new ConnectionError(F.FLOW_CONTROL_ERROR, 'connection window overflow');
      this.pumpStalled();
      return;
    }
    if (this.idle(id)) throw new ConnectionError(F.PROTOCOL_ERROR, 'WINDOW_UPDATE on an idle stream');
    const s = this.streams.get(id);
    if (inc === 0) {
      this.rstById(id, F.PROTOCOL_ERROR);
      return;
    }
    if (s === undefined) return;
    s.sendWindow += inc;
    if (s.sendWindow > L.MAX_WINDOW) {
      this.reset(s, F.FLOW_CONTROL_ERROR);
      return;
    }
    if (this.stalled.delete(s)) this.pump(s);
  }

  /** A stream id the client has not opened yet (or one it may never open: even). */
  private idle(id: number): boolean {
    return id > this.lastStreamId || (id & 1) === 0;
  }

  /** Connection lifetime. GOAWAY NO_ERROR: streams under way finish, new ones are not taken, then the connection closes. */
  shutdown(): void {
    if (this.closed || this.goingAway) return;
    this.goingAway = true;
    this.out.goaway(this.lastStreamId, F.NO_ERROR);
    this.closeWhenIdle();
  }

  private closeWhenIdle(): void {
    if ((this.goingAway || this.peerGoneAway) && this.streams.size === 0 && this.blockStream === 0) this.end();
  }

  /** A connection error: GOAWAY with the code, then close. */
  private fail(code: number): void {
    if (this.closed) return;
    this.out.goaway(this.lastStreamId, code);
    this.goingAway = true;
    this.end();
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    this.disarmIdle();
    this.out.flushNow();
    this.out.endSocket();
    // A client that never closes its half must not hold the socket.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onSocketClose(): void {
    this.closed = true;
    this.disarmIdle();
    for (const s of [...this.streams.values()]) {
      s.rstCode = F.CANCEL;
      this.finishStream(s);
    }
    this.host.connectionClosed(this);
  }

  protected noStreams(): void {
    this.idleSince = performance.now();
    if (this.idleTimer === undefined) this.armIdle(this.idleMs);
    this.closeWhenIdle();
  }

  /**
   * Idle: no open stream and no frame for idleMs. The timer is not moved per stream or frame:
   * when it fires it checks, and arms again for what is left (while streams are open, the
   * next noStreams arms it).
   */
  private armIdle(delay: number): void {
    if (this.closed || this.idleMs <= 0) return;
    this.idleTimer = setTimeout(this.onIdleTimer, delay);
    this.idleTimer.unref();
  }

  private readonly onIdleTimer = (): void => {
    this.idleTimer = undefined;
    if (this.closed || this.streams.size !== 0) return;
    const quiet = performance.now() - Math.max(this.lastActive, this.idleSince);
    if (quiet >= this.idleMs - 5) this.shutdown();
    else this.armIdle(this.idleMs - quiet);
  };

  private disarmIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

function noop(): void {}
