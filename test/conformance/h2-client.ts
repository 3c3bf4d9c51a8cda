import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { HpackDecoder, encodeHeaders } from './h2-hpack.js';

/**
 * A raw HTTP/2 client for the conformance suite: TLS with ALPN h2 to a real listener, any
 * frame it is told to write (malformed ones included, which node:http2 refuses to send), and a
 * record of every frame that comes back, with responses, RST_STREAMs and GOAWAY decoded.
 * Loopback only (T-1).
 */

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const F = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
export const E = {
  NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, SETTINGS_TIMEOUT: 4, STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, CONNECT_ERROR: 10, ENHANCE_YOUR_CALM: 11,
} as const;
export const S = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6 } as const;

/** The name of an error code, for messages. */
export function errName(code: number): string {
  return Object.entries(E).find(([, v]) => v === code)?.[0] ?? `0x${code.toString(16)}`;
}

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

// ------------------------------------------------------------------ frame builders

/** One frame; `length` overrides the length field (to lie about it). */
export function frame(type: number, flags: number, stream: number, payload: Buffer | number[] = [], length?: number): Buffer {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const h = Buffer.alloc(9);
  h.writeUIntBE(length ?? p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([h, p]);
}

export const settings = (pairs: ReadonlyArray<readonly [number, number]> = []): Buffer =>
  frame(T.SETTINGS, 0, 0, Buffer.concat(pairs.map(([id, v]) => Buffer.concat([Buffer.from([id >> 8, id & 0xff]), u32(v)]))));
export const settingsAck = (): Buffer => frame(T.SETTINGS, F.ACK, 0);
export const ping = (data = Buffer.from('fulcrum!'), flags = 0, stream = 0): Buffer => frame(T.PING, flags, stream, data);
export const rstStream = (stream: number, code: number): Buffer => frame(T.RST_STREAM, 0, stream, u32(code));
export const windowUpdate = (stream: number, inc: number): Buffer => frame(T.WINDOW_UPDATE, 0, stream, u32(inc));
export const goaway = (last: number, code: number, stream = 0): Buffer => frame(T.GOAWAY, 0, stream, Buffer.concat([u32(last), u32(code)]));
export const priority = (stream: number, dependsOn: number, weight = 16, exclusive = false): Buffer =>
  frame(T.PRIORITY, 0, stream, Buffer.concat([u32((exclusive ? 0x80000000 : 0) + dependsOn), Buffer.from([weight - 1])]));
export const data = (stream: number, body: Buffer | string, end = true): Buffer =>
  frame(T.DATA, end ? F.END_STREAM : 0, stream, Buffer.from(body));

/** HEADERS (and CONTINUATIONs when the block is over 16384 bytes) carrying a header block. */
export function headersFrames(stream: number, block: Buffer, endStream = true, maxFrame = 16384): Buffer {
  const parts: Buffer[] = [];
  for (let p = 0; p === 0 || p < block.length; p += maxFrame) parts.push(block.subarray(p, p + maxFrame));
  return Buffer.concat(parts.map((part, i) => frame(
    i === 0 ? T.HEADERS : T.CONTINUATION,
    (i === 0 && endStream ? F.END_STREAM : 0) | (i === parts.length - 1 ? F.END_HEADERS : 0),
    stream, part,
  )));
}

export type HeaderList = ReadonlyArray<readonly [string, string]>;

/** The pseudo-headers of a request to `path` on the suite's listener, then `extra`. */
export function request(path = '/', method = 'GET', extra: HeaderList = [], authority = 'example.test'): HeaderList {
  return [[':method', method], [':scheme', 'https'], [':authority', authority], [':path', path], ...extra];
}

/** HEADERS for a request header list (literals without indexing, optionally Huffman). */
export function req(stream: number, list: HeaderList = request(), endStream = true, huffman = false): Buffer {
  return headersFrames(stream, encodeHeaders(list, huffman), endStream);
}

// ------------------------------------------------------------------ the client

export interface StreamState {
  /** Header lists in arrival order: the response head first, then trailers. */
  headers: Array<Array<[string, string]>>;
  body: Buffer[];
  ended: boolean;
  rst?: number;
}

export interface ClientOptions {
  /** SETTINGS the client sends after the preface (default none). */
  settings?: ReadonlyArray<readonly [number, number]>;
  /** Return every DATA byte to the connection and stream windows at once (default true). */
  autoWindow?: boolean;
  /** Skip the preface and SETTINGS (cases about a bad preface send their own bytes). */
  raw?: boolean;
}

export class H2Client {
  readonly frames: Frame[] = [];
  readonly streams = new Map<number, StreamState>();
  goaway: { last: number; code: number; debug: string } | undefined;
  closed = false;
  autoWindow: boolean;
  /** The server's first SETTINGS, as id -> value. */
  serverSettings: Map<number, number> | undefined;
  /** What the server lets us send: its connection window and its WINDOW_UPDATEs per stream. */
  private sendWindow = 65535;
  private readonly streamCredit = new Map<number, number>();
  private buf: Buffer = Buffer.alloc(0);
  private readonly decoder = new HpackDecoder();
  private waiters: Array<() => void> = [];
  /** Header block fragments of a HEADERS not yet ended, and its stream. */
  private pendingBlock: { stream: number; parts: Buffer[] } | undefined;

  private constructor(private readonly socket: TLSSocket, o: ClientOptions) {
    this.autoWindow = o.autoWindow ?? true;
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(port: number, o: ClientOptions = {}): Promise<H2Client> {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: 'example.test', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
        s.off('error', reject);
        if (s.alpnProtocol !== 'h2') reject(new Error(`ALPN gave ${String(s.alpnProtocol)}, not h2`));
        else resolve(s);
      });
      s.once('error', reject);
    });
    socket.setNoDelay(true);
    const c = new H2Client(socket, o);
    if (!o.raw) {
      c.send(PREFACE, settings(o.settings ?? []));
      // Handshake: the server's SETTINGS (we ACK it) and its ACK of ours.
      await c.waitFor('the server SETTINGS and its ACK of ours', () =>
        c.serverSettings !== undefined && c.frames.some((f) => f.type === T.SETTINGS && f.flags & F.ACK));
    }
    return c;
  }

  /** Writes bytes; a write after the server closed is dropped (cases send into a dying connection). */
  send(...parts: Buffer[]): void {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(Buffer.concat(parts));
  }

  /** Resolves once the bytes written so far left our buffer. */
  flushed(): Promise<void> {
    if (this.socket.writableLength === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setInterval(() => {
        if (this.socket.writableLength === 0 || this.closed) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
  }

  /**
   * Sends a request body as DATA frames no larger than 16384 bytes and never beyond the
   * server's windows (its SETTINGS_INITIAL_WINDOW_SIZE and WINDOW_UPDATEs), waiting for
   * WINDOW_UPDATEs as a well-behaved client does; END_STREAM on the last frame.
   */
  async sendBody(id: number, body: Buffer, timeoutMs = 10_000): Promise<void> {
    const initial = this.serverSettings?.get(S.INITIAL_WINDOW_SIZE) ?? 65535;
    let p = 0;
    let sentOnStream = 0;
    const streamWindow = (): number => initial + (this.streamCredit.get(id) ?? 0) - sentOnStream;
    while (p < body.length) {
      await this.waitFor(`window to send on stream ${id}`, () => (this.sendWindow > 0 && streamWindow() > 0) || this.closed || this.stream(id).rst !== undefined, timeoutMs);
      if (this.closed || this.stream(id).rst !== undefined) return;
      const n = Math.min(16384, this.sendWindow, streamWindow(), body.length - p);
      this.send(data(id, body.subarray(p, p + n), p + n === body.length));
      p += n;
      sentOnStream += n;
      this.sendWindow -= n;
    }
  }

  stream(id: number): StreamState {
    let s = this.streams.get(id);
    if (!s) {
      s = { headers: [], body: [], ended: false };
      this.streams.set(id, s);
    }
    return s;
  }

  /** Status of a stream's response head, or undefined. */
  status(id: number): number | undefined {
    const h = this.streams.get(id)?.headers[0]?.find(([n]) => n === ':status');
    return h ? Number(h[1]) : undefined;
  }

  /** Waits until `pred` holds (checked on every frame and on close). */
  async waitFor(what: string, pred: () => unknown, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for a stream's response to end (END_STREAM) or be reset. */
  async response(id: number, timeoutMs = 5000): Promise<StreamState> {
    await this.waitFor(`stream ${id} to end`, () => this.streams.get(id)?.ended || this.streams.get(id)?.rst !== undefined || this.closed, timeoutMs);
    return this.stream(id);
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return this.waitFor('the connection to close', () => this.closed, timeoutMs);
  }

  /** A short account of what arrived, for failure messages. */
  describe(): string {
    const names = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k]));
    const fs = this.frames.slice(-12).map((f) => {
      let extra = '';
      if (f.type === T.GOAWAY) extra = ` ${errName(f.payload.readUInt32BE(4))}`;
      if (f.type === T.RST_STREAM) extra = ` ${errName(f.payload.readUInt32BE(0))}`;
      return `${names[f.type] ?? f.type}(s${f.stream},f${f.flags},${f.payload.length}b${extra})`;
    });
    return `${this.frames.length} frames [..${fs.join(' ')}]${this.closed ? ', closed' : ''}`;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(c: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f: Frame = { type: this.buf[3]!, flags: this.buf[4]!, stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: Buffer.from(this.buf.subarray(9, 9 + len)) };
      this.buf = this.buf.subarray(9 + len);
      this.frames.push(f);
      this.onFrame(f);
    }
    this.wake();
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case T.SETTINGS:
        if (!(f.flags & F.ACK)) {
          if (!this.serverSettings) {
            this.serverSettings = new Map();
            for (let p = 0; p + 6 <= f.payload.length; p += 6) this.serverSettings.set(f.payload.readUInt16BE(p), f.payload.readUInt32BE(p + 2));
          }
          this.send(settingsAck());
        }
        break;
      case T.GOAWAY:
        this.goaway = { last: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString('latin1') };
        break;
      case T.WINDOW_UPDATE: {
        const inc = f.payload.readUInt32BE(0) & 0x7fffffff;
        if (f.stream === 0) this.sendWindow += inc;
        else this.streamCredit.set(f.stream, (this.streamCredit.get(f.stream) ?? 0) + inc);
        break;
      }
      case T.RST_STREAM:
        this.stream(f.stream).rst = f.payload.readUInt32BE(0);
        break;
      case T.HEADERS:
      case T.CONTINUATION: {
        let p = f.payload;
        if (f.type === T.HEADERS) {
          const pad = f.flags & F.PADDED ? p[0]! : 0;
          p = p.subarray(f.flags & F.PADDED ? 1 : 0, p.length - pad);
          if (f.flags & F.PRIORITY) p = p.subarray(5);
          this.pendingBlock = { stream: f.stream, parts: [] };
          if (f.flags & F.END_STREAM) this.stream(f.stream).ended = true;
        }
        this.pendingBlock?.parts.push(p);
        if (f.flags & F.END_HEADERS && this.pendingBlock) {
          this.stream(this.pendingBlock.stream).headers.push(this.decoder.decode(Buffer.concat(this.pendingBlock.parts)));
          this.pendingBlock = undefined;
        }
        break;
      }
      case T.DATA: {
        const s = this.stream(f.stream);
        const pad = f.flags & F.PADDED ? f.payload[0]! : 0;
        s.body.push(f.payload.subarray(f.flags & F.PADDED ? 1 : 0, f.payload.length - pad));
        if (f.flags & F.END_STREAM) s.ended = true;
        if (this.autoWindow && f.payload.length > 0) {
          this.send(windowUpdate(0, f.payload.length), ...(s.ended ? [] : [windowUpdate(f.stream, f.payload.length)]));
        }
        break;
      }
      default:
        break;
    }
  }
}
