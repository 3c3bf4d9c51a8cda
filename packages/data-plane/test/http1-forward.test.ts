import assert from 'node:assert/strict';
import {
  buildClientResponseHead,
  buildForwardRequestHead,
  ClientConnection,
  encodeHeaderLines,
  findHeadEnd,
  ForwardContext,
  HeadSlices,
  Method,
  parseRequestHead,
  parseResponseHead,
  ReqFlag,
  RequestHead,
  ResponseHead,
  type RequestEdits,
} from '../src/http1/index.js';
import { LoopMarker } from '../src/loop-marker.js';

function lines(...ls: string[]): string {
  return ls.join('\r\n') + '\r\n\r\n';
}

/** BS-8 / TB-3: this deployment's marker for alb-test1 (`alb-test1.<mac>`). */
const LOOP = new LoopMarker('alb-test1', '42'.repeat(32));
const M = LOOP.value;
/** Another deployment's marker: the same shape, a mac we cannot verify. */
const OTHER = new LoopMarker('alb-test1', '17'.repeat(32)).value;
const ctx = new ForwardContext({ clientIp: '203.0.113.7', proto: 'https', port: 8443, instanceId: 'alb-test1', loop: LOOP });
const OURS = `X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 8443\r\nX-Fulcrum-Loop: ${M}\r\n`;

function forward(req: string, keepAlive = true, edits: RequestEdits | null = null): { out: HeadSlices; h: RequestHead; buf: Buffer } {
  const buf = Buffer.from(req, 'latin1');
  const h = new RequestHead();
  const code = parseRequestHead(buf, 0, findHeadEnd(buf, 0), h);
  assert.equal(code, 0, `parse failed: ${code}`);
  const out = new HeadSlices();
  buildForwardRequestHead(h, ctx, out, keepAlive, edits);
  return { out, h, buf };
}

function respond(
  res: string,
  conn: number = ClientConnection.KEEP_ALIVE,
  setCookie: Buffer | null = null,
  method: number = Method.GET,
  flags = 0,
  remove: string[] | null = null,
): string {
  const buf = Buffer.from(res, 'latin1');
  const h = new ResponseHead();
  const code = parseResponseHead(buf, 0, findHeadEnd(buf, 0), h, method, flags);
  assert.equal(code, 0, `parse failed: ${code}`);
  const out = new HeadSlices();
  buildClientResponseHead(h, out, conn as 0 | 1 | 2, setCookie, remove);
  return out.toString();
}

describe('http1 forward head: request to the backend (byte-exact)', () => {
  const cases: Array<{ name: string; input: string; keepAlive?: boolean; edits?: RequestEdits; expected: string }> = [
    {
      name: 'LR-3: simple GET gets X-Forwarded-For/Proto/Port, the loop marker and Connection',
      input: lines('GET /a?b=1 HTTP/1.1', 'Host: example.com', 'Accept: */*'),
      expected: 'GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'Connection: close upstream when the caller asks',
      input: lines('GET / HTTP/1.1', 'Host: a'),
      keepAlive: false,
      expected: 'GET / HTTP/1.1\r\nHost: a\r\n' + OURS + 'Connection: close\r\n\r\n',
    },
    {
      name: 'LR-3: hop-by-hop fields are removed wherever they are',
      input: lines(
        'GET / HTTP/1.1',
        'Connection: keep-alive, X-Hop',
        'Host: a',
        'Keep-Alive: timeout=5',
        'Proxy-Connection: keep-alive',
        'X-Hop: 1',
        'TE: trailers',
        'Accept: x',
        'Proxy-Authorization: Basic Zm9vOmJhcg==',
        'Trailer: X-Checksum',
      ),
      expected: 'GET / HTTP/1.1\r\nHost: a\r\nAccept: x\r\nTrailer: X-Checksum\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'LR-3: X-Forwarded-For is appended to, across several client lines',
      input: lines('GET / HTTP/1.1', 'Host: a', 'X-Forwarded-For: 10.0.0.1', 'Accept: x', 'x-forwarded-for: 10.0.0.2, 10.0.0.3'),
      expected:
        'GET / HTTP/1.1\r\nHost: a\r\nAccept: x\r\n' +
        'X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 203.0.113.7\r\n' +
        `X-Forwarded-Proto: https\r\nX-Forwarded-Port: 8443\r\nX-Fulcrum-Loop: ${M}\r\nConnection: keep-alive\r\n\r\n`,
    },
    {
      name: 'LR-3: an empty client X-Forwarded-For is replaced',
      input: lines('GET / HTTP/1.1', 'Host: a', 'X-Forwarded-For:'),
      expected: 'GET / HTTP/1.1\r\nHost: a\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'LR-3: client X-Forwarded-Proto and X-Forwarded-Port are replaced',
      input: lines('GET / HTTP/1.1', 'X-Forwarded-Proto: http', 'Host: a', 'X-Forwarded-Port: 1'),
      expected: 'GET / HTTP/1.1\r\nHost: a\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: "BS-8/TB-3: our marker is appended to another deployment's (same id, other mac)",
      input: lines('GET / HTTP/1.1', 'Host: a', `X-Fulcrum-Loop: ${OTHER}`),
      expected:
        'GET / HTTP/1.1\r\nHost: a\r\n' +
        'X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 8443\r\n' +
        `X-Fulcrum-Loop: ${OTHER}, ${M}\r\nConnection: keep-alive\r\n\r\n`,
    },
    {
      name: 'TB-3: forged loop elements (a bare id, a short mac, noise) are removed; marker-shaped ones on several lines are merged',
      input: lines('GET / HTTP/1.1', 'Host: a', 'X-Fulcrum-Loop: alb-test1, alb-test1.AAAA,, x', 'Accept: */*', `x-fulcrum-loop:  ${OTHER} ,alb-b.${'B'.repeat(22)}`, 'X-Fulcrum-Loop: alb-c.'),
      expected:
        'GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n' +
        'X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 8443\r\n' +
        `X-Fulcrum-Loop: ${OTHER}, alb-b.${'B'.repeat(22)}, ${M}\r\nConnection: keep-alive\r\n\r\n`,
    },
    {
      name: 'TB-3: a loop field holding only forged elements gives way to our marker alone',
      input: lines('GET / HTTP/1.1', 'Host: a', 'X-Fulcrum-Loop: alb-test1', 'X-Fulcrum-Loop: '),
      expected: 'GET / HTTP/1.1\r\nHost: a\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'LR-3: a WebSocket handshake keeps Upgrade and sends Connection: upgrade',
      input: lines('GET /ws HTTP/1.1', 'Host: a', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Key: k', 'Sec-WebSocket-Version: 13'),
      expected:
        'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n' +
        OURS +
        'Connection: upgrade\r\n\r\n',
    },
    {
      name: 'Upgrade: h2c and HTTP2-Settings are stripped (h2c upgrade is not passed through)',
      input: lines('GET / HTTP/1.1', 'Host: a', 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAAQAAP__'),
      expected: 'GET / HTTP/1.1\r\nHost: a\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'chunked: the client Transfer-Encoding line is replaced by a canonical one',
      input: lines('POST /u HTTP/1.1', 'Host: a', 'Transfer-Encoding:  Chunked ', 'Content-Type: x'),
      expected: 'POST /u HTTP/1.1\r\nHost: a\r\nContent-Type: x\r\nTransfer-Encoding: chunked\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'a plain Content-Length line is kept as is',
      input: lines('POST /u HTTP/1.1', 'Host: a', 'Content-Length: 10', 'Content-Type: x'),
      expected: 'POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nContent-Type: x\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'a Content-Length with leading zeros or odd spacing is re-emitted canonically',
      input: lines('POST /u HTTP/1.1', 'Host: a', 'Content-Length:\t0010', 'Content-Type: x'),
      expected: 'POST /u HTTP/1.1\r\nHost: a\r\nContent-Type: x\r\nContent-Length: 10\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'absolute-form target is sent in origin-form',
      input: lines('GET http://a.example/p/q?x=1 HTTP/1.1', 'Host: a.example'),
      expected: 'GET /p/q?x=1 HTTP/1.1\r\nHost: a.example\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'absolute-form with an empty path becomes "/"',
      input: lines('GET http://a.example HTTP/1.1', 'Host: a.example'),
      expected: 'GET / HTTP/1.1\r\nHost: a.example\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'absolute-form with only a query becomes "/?query"',
      input: lines('GET http://a.example?q HTTP/1.1', 'Host: a.example'),
      expected: 'GET /?q HTTP/1.1\r\nHost: a.example\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'HTTP/1.0 absolute-form without Host: version kept, Host added from the target',
      input: lines('GET http://b.example:81/x HTTP/1.0', 'Accept: y'),
      keepAlive: false,
      expected: 'GET /x HTTP/1.0\r\nAccept: y\r\nHost: b.example:81\r\n' + OURS + 'Connection: close\r\n\r\n',
    },
    {
      name: 'LR-2: Rewrite replaces the target',
      input: lines('GET /old?q=1 HTTP/1.1', 'Host: a'),
      edits: { target: Buffer.from('/new/path?q=1') },
      expected: 'GET /new/path?q=1 HTTP/1.1\r\nHost: a\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'LR-2: InsertHeader lines come after ours, RemoveHeader drops by name in any case',
      input: lines('GET / HTTP/1.1', 'Host: a', 'X-Remove-Me: 1', 'Accept: x', 'x-remove-me: 2', 'X-Env: client'),
      edits: { insertLines: encodeHeaderLines([['X-Env', 'prod']]), removeNames: ['x-remove-me', 'x-env'] },
      expected: 'GET / HTTP/1.1\r\nHost: a\r\nAccept: x\r\n' + OURS + 'X-Env: prod\r\nConnection: keep-alive\r\n\r\n',
    },
    {
      name: 'LR-2: RemoveHeader never removes Host, Content-Length or Transfer-Encoding',
      input: lines('POST / HTTP/1.1', 'Host: a', 'Content-Length: 1'),
      edits: { removeNames: ['host', 'content-length', 'transfer-encoding'] },
      expected: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
    {
      name: 'the original bytes of kept lines are not normalised (case, spacing, obs-text)',
      input: lines('GET / HTTP/1.1', 'hOsT:a', 'X-Odd:\t  v  \t', 'X-Latin: caf\xe9'),
      expected: 'GET / HTTP/1.1\r\nhOsT:a\r\nX-Odd:\t  v  \t\r\nX-Latin: caf\xe9\r\n' + OURS + 'Connection: keep-alive\r\n\r\n',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { out } = forward(c.input, c.keepAlive ?? true, c.edits ?? null);
      assert.equal(out.toString(), c.expected);
      assert.equal(out.byteLength, Buffer.byteLength(c.expected, 'latin1'));
    });
  }

  it('copies none of the client bytes: kept runs are views of the received buffer', () => {
    const { out, buf } = forward(lines('GET / HTTP/1.1', 'Host: a', 'Connection: keep-alive', 'Accept: */*', 'User-Agent: t'));
    assert.equal(out.count, 3, 'two runs around the dropped Connection line + one spliced tail');
    assert.equal(out.bufs[0], buf);
    assert.equal(out.bufs[1], buf);
    assert.equal(out.bufs[2], ctx.tailKeepAlive);
    const views = out.toBuffers();
    assert.equal(views[0]!.buffer, buf.buffer);
    assert.equal(Buffer.concat(views).toString('latin1'), out.toString());
    const target = Buffer.alloc(out.byteLength + 4);
    assert.equal(out.copyTo(target, 4), out.byteLength + 4);
    assert.equal(target.toString('latin1', 4), out.toString());
  });

  it('a request without hop-by-hop fields is the whole head in one slice plus one tail', () => {
    const { out, buf, h } = forward(lines('GET / HTTP/1.1', 'Host: a', 'Accept: */*'));
    assert.equal(out.count, 2);
    assert.equal(out.bufs[0], buf);
    assert.equal(out.ends[0], h.fieldsEnd);
  });

  it('reusing a HeadSlices drops the previous request', () => {
    const out = new HeadSlices();
    const a = forward(lines('GET /first HTTP/1.1', 'Host: a'));
    const b = forward(lines('GET /second HTTP/1.1', 'Host: a'));
    buildForwardRequestHead(a.h, ctx, out, true);
    buildForwardRequestHead(b.h, ctx, out, true);
    assert.ok(out.toString().startsWith('GET /second'));
    out.reset();
    assert.equal(out.count, 0);
    assert.equal(out.byteLength, 0);
  });
});

describe('http1 forward head: response to the client (byte-exact)', () => {
  it('keep-alive 200: status line and fields as received, Connection set by us', () => {
    assert.equal(
      respond(lines('HTTP/1.1 200 OK', 'Content-Type: text/plain', 'Content-Length: 2')),
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  it('Connection: close to the client when the caller asks', () => {
    assert.equal(
      respond(lines('HTTP/1.1 404 Not Found', 'Content-Length: 0'), ClientConnection.CLOSE),
      'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
  });

  it('an HTTP/1.0 backend is answered to the client as HTTP/1.1', () => {
    assert.equal(
      respond(lines('HTTP/1.0 200 OK', 'Content-Length: 1', 'Connection: keep-alive')),
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  it('hop-by-hop and nominated fields are stripped', () => {
    assert.equal(
      respond(
        lines(
          'HTTP/1.1 200 OK',
          'Connection: keep-alive, X-Internal',
          'Keep-Alive: timeout=5',
          'X-Internal: secret',
          'Proxy-Connection: x',
          'Upgrade: h2c',
          'Content-Length: 0',
        ),
      ),
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  it('a repeated identical Content-Length is sent once', () => {
    assert.equal(
      respond(lines('HTTP/1.1 200 OK', 'Content-Length: 3', 'Content-Length: 3', 'X: 1')),
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX: 1\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  it('204 loses Content-Length and Transfer-Encoding', () => {
    assert.equal(
      respond(lines('HTTP/1.1 204 No Content', 'Content-Length: 7', 'X: 1')),
      'HTTP/1.1 204 No Content\r\nX: 1\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  it('304 keeps its Content-Length (it describes the selected representation)', () => {
    assert.equal(
      respond(lines('HTTP/1.1 304 Not Modified', 'Content-Length: 7')),
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  it('100 Continue is forwarded without a Connection field', () => {
    assert.equal(respond(lines('HTTP/1.1 100 Continue')), 'HTTP/1.1 100 Continue\r\n\r\n');
  });

  it('103 Early Hints keeps its Link fields', () => {
    assert.equal(
      respond(lines('HTTP/1.1 103 Early Hints', 'Link: </a.css>; rel=preload')),
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n',
    );
  });

  it('LR-3: 101 to a WebSocket handshake keeps Upgrade and says Connection: upgrade', () => {
    assert.equal(
      respond(
        lines('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo='),
        ClientConnection.KEEP_ALIVE,
        null,
        Method.GET,
        ReqFlag.UPGRADE,
      ),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: upgrade\r\n\r\n',
    );
  });

  it('a close-delimited body forces Connection: close to the client', () => {
    assert.equal(
      respond(lines('HTTP/1.1 200 OK', 'Content-Type: text/html'), ClientConnection.KEEP_ALIVE),
      'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n',
    );
  });

  it('chunked responses keep their Transfer-Encoding and Trailer fields', () => {
    assert.equal(
      respond(lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Trailer: X-Sum')),
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  it('SP-2: a sticky-session Set-Cookie line is appended after the backend cookies', () => {
    const cookie = encodeHeaderLines([['Set-Cookie', 'SERVERID=s1.sig; Max-Age=1000; Path=/']]);
    assert.equal(
      respond(lines('HTTP/1.1 200 OK', 'Set-Cookie: app=1', 'Content-Length: 0'), ClientConnection.KEEP_ALIVE, cookie),
      'HTTP/1.1 200 OK\r\nSet-Cookie: app=1\r\nContent-Length: 0\r\nSet-Cookie: SERVERID=s1.sig; Max-Age=1000; Path=/\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  it('removeNames drops response fields by name', () => {
    assert.equal(
      respond(lines('HTTP/1.1 200 OK', 'Server: nginx', 'Content-Length: 0'), ClientConnection.KEEP_ALIVE, null, Method.GET, 0, ['server']),
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n',
    );
  });
});

describe('http1 forward head: configuration checks', () => {
  it('encodeHeaderLines refuses header injection and bad names', () => {
    assert.throws(() => encodeHeaderLines([['X-A', 'v\r\nX-Injected: 1']]), RangeError);
    assert.throws(() => encodeHeaderLines([['X A', 'v']]), RangeError);
    assert.throws(() => encodeHeaderLines([['', 'v']]), RangeError);
    assert.equal(encodeHeaderLines([['X-A', ' v '], ['X-B', '']]).toString(), 'X-A: v\r\nX-B: \r\n');
  });

  it('ForwardContext refuses values that would break the spliced lines', () => {
    assert.throws(() => new ForwardContext({ clientIp: '1.2.3.4\r\nX: y', proto: 'http', port: 80, instanceId: 'a', loop: LOOP }), RangeError);
    assert.throws(() => new ForwardContext({ clientIp: '1.2.3.4, 5.6.7.8', proto: 'http', port: 80, instanceId: 'a', loop: LOOP }), RangeError);
    assert.throws(() => new ForwardContext({ clientIp: '1.2.3.4', proto: 'ftp' as 'http', port: 80, instanceId: 'a', loop: LOOP }), RangeError);
    assert.throws(() => new ForwardContext({ clientIp: '1.2.3.4', proto: 'http', port: 0, instanceId: 'a', loop: LOOP }), RangeError);
    assert.throws(() => new ForwardContext({ clientIp: '1.2.3.4', proto: 'http', port: 80, instanceId: 'a b', loop: LOOP }), RangeError);
    const ok = new ForwardContext({ clientIp: '::1', proto: 'http', port: 80, instanceId: 'alb-1', loop: LOOP });
    assert.equal(ok.tailClose.toString(), `X-Forwarded-For: ::1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\nX-Fulcrum-Loop: ${M}\r\nConnection: close\r\n\r\n`);
  });
});
