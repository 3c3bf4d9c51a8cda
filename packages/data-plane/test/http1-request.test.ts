import assert from 'node:assert/strict';
import {
  BodyKind,
  findHeadEnd,
  H1Error,
  H1_ERRORS,
  h1ErrorName,
  h1ErrorReason,
  h1ErrorStatus,
  h1Limits,
  HEAD_BARE_LF,
  HEAD_INCOMPLETE,
  HeaderId,
  HeadReader,
  Method,
  parseRequestHead,
  ReadStatus,
  RequestHead,
  TargetForm,
  type H1Limits,
} from '../src/http1/index.js';
import { LoopMarker } from '../src/loop-marker.js';

const LOOP_B = new LoopMarker('alb-b', '01'.repeat(32));
const LOOP_C = new LoopMarker('alb-c', '01'.repeat(32));

/** Joins lines with CRLF and ends the head with an empty line. */
function head(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

function parse(buf: Buffer, limits?: H1Limits): { code: number; h: RequestHead } {
  const h = new RequestHead();
  let end = findHeadEnd(buf, 0, buf.length);
  // Inputs with a bare LF make findHeadEnd stop early; they still end with CRLFCRLF.
  if (end === HEAD_BARE_LF) end = buf.length;
  assert.ok(end > 0, `test input has no complete head: ${JSON.stringify(buf.toString('latin1'))}`);
  const code = parseRequestHead(buf, 0, end, h, limits);
  return { code, h };
}

describe('http1 request head: valid requests', () => {
  interface Valid {
    name: string;
    input: Buffer;
    check: (h: RequestHead) => void;
  }
  const cases: Valid[] = [
    {
      name: 'simple origin-form GET',
      input: head('GET /index.html HTTP/1.1', 'Host: example.com'),
      check: (h) => {
        assert.equal(h.method, Method.GET);
        assert.equal(h.methodName, 'GET');
        assert.equal(h.target, '/index.html');
        assert.equal(h.targetForm, TargetForm.ORIGIN);
        assert.equal(h.host, 'example.com');
        assert.equal(h.versionMinor, 1);
        assert.equal(h.keepAlive, true);
        assert.equal(h.bodyKind, BodyKind.NONE);
        assert.equal(h.contentLength, -1);
        assert.equal(h.headerCount, 1);
      },
    },
    {
      name: 'POST with Content-Length',
      input: head('POST /api HTTP/1.1', 'Host: a', 'Content-Length: 42'),
      check: (h) => {
        assert.equal(h.method, Method.POST);
        assert.equal(h.contentLength, 42);
        assert.equal(h.bodyKind, BodyKind.LENGTH);
        assert.equal(h.clRewrite, false);
      },
    },
    {
      name: 'Content-Length: 0 means no body',
      input: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 0'),
      check: (h) => {
        assert.equal(h.contentLength, 0);
        assert.equal(h.bodyKind, BodyKind.NONE);
      },
    },
    {
      name: 'Content-Length at 2^53 - 1 is accepted',
      input: head('PUT / HTTP/1.1', 'Host: a', 'Content-Length: 9007199254740991'),
      check: (h) => assert.equal(h.contentLength, Number.MAX_SAFE_INTEGER),
    },
    {
      name: 'Content-Length with leading zeros and OWS is accepted and marked for a canonical re-emit',
      input: head('PUT / HTTP/1.1', 'Host: a', 'Content-Length:\t007 '),
      check: (h) => {
        assert.equal(h.contentLength, 7);
        assert.equal(h.clRewrite, true);
      },
    },
    {
      name: 'chunked POST',
      input: head('POST /up HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked'),
      check: (h) => {
        assert.equal(h.chunked, true);
        assert.equal(h.bodyKind, BodyKind.CHUNKED);
      },
    },
    {
      name: 'Transfer-Encoding is case-insensitive with OWS around the value',
      input: head('POST /up HTTP/1.1', 'Host: a', 'transfer-encoding: \tChUnKeD \t'),
      check: (h) => assert.equal(h.bodyKind, BodyKind.CHUNKED),
    },
    {
      name: 'HTTP/1.0 without Host, not persistent by default',
      input: head('GET / HTTP/1.0'),
      check: (h) => {
        assert.equal(h.versionMinor, 0);
        assert.equal(h.host, '');
        assert.equal(h.keepAlive, false);
      },
    },
    {
      name: 'HTTP/1.0 with Connection: keep-alive is persistent',
      input: head('GET / HTTP/1.0', 'Connection: Keep-Alive'),
      check: (h) => {
        assert.equal(h.keepAlive, true);
        assert.equal(h.connKeepAlive, true);
      },
    },
    {
      name: 'HTTP/1.1 with Connection: close is not persistent',
      input: head('GET / HTTP/1.1', 'Host: a', 'Connection: close'),
      check: (h) => {
        assert.equal(h.keepAlive, false);
        assert.equal(h.connClose, true);
      },
    },
    {
      name: 'Connection list with empty members and several lines',
      input: head('GET / HTTP/1.1', 'Host: a', 'Connection: ,keep-alive ,, ', 'Connection: close'),
      check: (h) => {
        assert.equal(h.connKeepAlive, true);
        assert.equal(h.connClose, true);
        assert.equal(h.keepAlive, false);
      },
    },
    {
      name: 'absolute-form target with a matching Host',
      input: head('GET http://Example.COM/a/b?x=1 HTTP/1.1', 'Host: example.com'),
      check: (h) => {
        assert.equal(h.targetForm, TargetForm.ABSOLUTE);
        assert.equal(h.target, '/a/b?x=1');
        assert.equal(h.path, '/a/b');
        assert.equal(h.query, 'x=1');
        assert.equal(h.host, 'example.com');
      },
    },
    {
      name: 'absolute-form: default port folded when comparing with Host',
      input: head('GET http://example.com:80/ HTTP/1.1', 'Host: example.com'),
      check: (h) => assert.equal(h.targetForm, TargetForm.ABSOLUTE),
    },
    {
      name: 'absolute-form https: port 443 equals no port',
      input: head('GET https://example.com/x HTTP/1.1', 'Host: example.com:443'),
      check: (h) => {
        assert.equal(h.targetHttps, true);
        assert.equal(h.target, '/x');
      },
    },
    {
      name: 'absolute-form with an empty path is "/"',
      input: head('GET http://a.example HTTP/1.1', 'Host: a.example'),
      check: (h) => assert.equal(h.target, '/'),
    },
    {
      name: 'absolute-form with only a query is "/?query"',
      input: head('GET http://a.example?q=1 HTTP/1.1', 'Host: a.example'),
      check: (h) => {
        assert.equal(h.target, '/?q=1');
        assert.equal(h.query, 'q=1');
      },
    },
    {
      name: 'absolute-form in HTTP/1.0 without Host takes the host from the target',
      input: head('GET http://b.example:8080/p HTTP/1.0'),
      check: (h) => {
        assert.equal(h.host, 'b.example:8080');
        assert.equal(h.hostname, 'b.example');
        assert.equal(h.hostIdx, -1);
      },
    },
    {
      name: 'OPTIONS * (asterisk-form)',
      input: head('OPTIONS * HTTP/1.1', 'Host: a'),
      check: (h) => {
        assert.equal(h.method, Method.OPTIONS);
        assert.equal(h.targetForm, TargetForm.ASTERISK);
        assert.equal(h.target, '*');
      },
    },
    {
      name: 'extension method is kept by name',
      input: head('PURGE /cache HTTP/1.1', 'Host: a'),
      check: (h) => {
        assert.equal(h.method, Method.OTHER);
        assert.equal(h.methodName, 'PURGE');
      },
    },
    {
      name: 'methods are case-sensitive: "get" is an extension method',
      input: head('get / HTTP/1.1', 'Host: a'),
      check: (h) => {
        assert.equal(h.method, Method.OTHER);
        assert.equal(h.methodName, 'get');
      },
    },
    {
      name: 'every standard method is recognised',
      input: head('DELETE / HTTP/1.1', 'Host: a'),
      check: (h) => {
        for (const [m, id] of [
          ['GET', Method.GET],
          ['HEAD', Method.HEAD],
          ['POST', Method.POST],
          ['PUT', Method.PUT],
          ['DELETE', Method.DELETE],
          ['OPTIONS', Method.OPTIONS],
          ['TRACE', Method.TRACE],
          ['PATCH', Method.PATCH],
        ] as const) {
          const r = parse(head(`${m} / HTTP/1.1`, 'Host: a'));
          assert.equal(r.code, 0, m);
          assert.equal(r.h.method, id, m);
          assert.equal(r.h.methodName, m);
        }
        assert.equal(h.method, Method.DELETE);
      },
    },
    {
      name: 'leading empty lines before the request line are ignored (RFC 9112 §2.2)',
      input: Buffer.from('\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 'latin1'),
      check: (h) => {
        assert.equal(h.start, 2);
        assert.equal(h.target, '/');
      },
    },
    {
      name: 'HTAB and obs-text are allowed in values; OWS around values is trimmed',
      input: head('GET / HTTP/1.1', 'Host: a', 'X-Tab: a\tb', 'X-Latin: caf\xe9', 'X-Trail:   v   '),
      check: (h) => {
        assert.equal(h.getHeader('x-tab'), 'a\tb');
        assert.equal(h.getHeader('X-Latin'), 'caf\xe9');
        assert.equal(h.getHeader('x-trail'), 'v');
      },
    },
    {
      name: 'underscores are fine in names that are not a known field',
      input: head('GET / HTTP/1.1', 'Host: a', 'X_Custom_Thing: 1', 'my_header: 2'),
      check: (h) => {
        assert.equal(h.getHeader('x_custom_thing'), '1');
        assert.equal(h.hdrId[1], HeaderId.OTHER);
      },
    },
    {
      name: 'Accept-Encoding has an id and a bit in the seen mask (the compression decision skips heads without it); spelled with _ it is an unknown field, not refused',
      input: head('GET / HTTP/1.1', 'Host: a', 'ACCEPT-encoding: gzip', 'Accept_Encoding: br'),
      check: (h) => {
        assert.equal(h.hdrId[1], HeaderId.ACCEPT_ENCODING);
        assert.notEqual(h.seen & (1 << HeaderId.ACCEPT_ENCODING), 0);
        assert.equal(h.hdrId[2], HeaderId.OTHER);
        assert.equal(h.getHeader('accept-encoding'), 'gzip');
      },
    },
    {
      name: 'no Accept-Encoding: its bit is clear',
      input: head('GET / HTTP/1.1', 'Host: a', 'Accept: */*'),
      check: (h) => assert.equal(h.seen & (1 << HeaderId.ACCEPT_ENCODING), 0),
    },
    {
      name: 'empty field value',
      input: head('GET / HTTP/1.1', 'Host: a', 'X-Empty:', 'X-Empty2:   '),
      check: (h) => {
        assert.equal(h.getHeader('x-empty'), '');
        assert.equal(h.getHeader('x-empty2'), '');
      },
    },
    {
      name: 'exactly maxHeaders (100) fields is accepted',
      input: head('GET / HTTP/1.1', 'Host: a', ...Array.from({ length: 99 }, (_, i) => `X-${i}: ${i}`)),
      check: (h) => assert.equal(h.headerCount, 100),
    },
    {
      name: 'WebSocket handshake is recognised for pass-through (LR-3)',
      input: head(
        'GET /chat HTTP/1.1',
        'Host: a',
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
      ),
      check: (h) => {
        assert.equal(h.isWebSocket, true);
        assert.equal(h.connUpgrade, true);
      },
    },
    {
      name: 'Upgrade: h2c is not passed through',
      input: head('GET / HTTP/1.1', 'Host: a', 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'),
      check: (h) => {
        assert.equal(h.isWebSocket, false);
        assert.deepEqual(h.connectionTokens, ['http2-settings']);
      },
    },
    {
      name: 'WebSocket upgrade without Connection: upgrade is not an upgrade',
      input: head('GET / HTTP/1.1', 'Host: a', 'Upgrade: websocket'),
      check: (h) => assert.equal(h.isWebSocket, false),
    },
    {
      name: 'WebSocket upgrade on POST or with a body is not passed through',
      input: head('POST / HTTP/1.1', 'Host: a', 'Upgrade: websocket', 'Connection: upgrade', 'Content-Length: 5'),
      check: (h) => {
        assert.equal(h.isWebSocket, false);
        const g = parse(head('GET / HTTP/1.1', 'Host: a', 'Upgrade: websocket', 'Connection: upgrade', 'Content-Length: 5'));
        assert.equal(g.code, 0);
        assert.equal(g.h.isWebSocket, false);
      },
    },
    {
      name: 'Expect: 100-continue on HTTP/1.1',
      input: head('PUT / HTTP/1.1', 'Host: a', 'Expect: 100-Continue', 'Content-Length: 3'),
      check: (h) => assert.equal(h.expectContinue, true),
    },
    {
      name: 'Expect: 100-continue is ignored from an HTTP/1.0 client',
      input: head('PUT / HTTP/1.0', 'Expect: 100-continue', 'Content-Length: 3'),
      check: (h) => assert.equal(h.expectContinue, false),
    },
    {
      name: 'Connection nominating a custom header marks that line hop-by-hop',
      input: head('GET / HTTP/1.1', 'Host: a', 'X-Secret: 1', 'Connection: keep-alive, X-Secret', 'X-Other: 2'),
      check: (h) => {
        assert.deepEqual(h.connectionTokens, ['x-secret']);
        assert.equal(h.hdrId[1], HeaderId.NOMINATED);
        assert.equal(h.hdrId[3], HeaderId.OTHER);
      },
    },
    {
      name: 'Host with a port, IPv4 and IPv6 literals',
      input: head('GET / HTTP/1.1', 'Host: Example.com:8080'),
      check: (h) => {
        assert.equal(h.host, 'example.com:8080');
        assert.equal(h.hostname, 'example.com');
        for (const v of ['127.0.0.1', '127.0.0.1:80', '[::1]', '[::1]:8443', 'xn--bcher-kva.example', 'a%2Db']) {
          const r = parse(head('GET / HTTP/1.1', `Host: ${v}`));
          assert.equal(r.code, 0, v);
          assert.equal(r.h.host, v.toLowerCase());
        }
        assert.equal(parse(head('GET / HTTP/1.1', 'Host: [::1]:8443')).h.hostname, '[::1]');
      },
    },
    {
      name: 'empty Host is allowed (RFC 9110 §7.2) and yields an empty host',
      input: head('GET / HTTP/1.1', 'Host:'),
      check: (h) => {
        assert.equal(h.host, '');
        assert.equal(h.hostIdx, 0);
      },
    },
    {
      name: 'getHeader combines repeated fields; Cookie lines with "; "',
      input: head('GET / HTTP/1.1', 'Host: a', 'Accept: a/b', 'Cookie: a=1', 'ACCEPT: c/d', 'cookie: b=2'),
      check: (h) => {
        assert.equal(h.getHeader('Accept'), 'a/b, c/d');
        assert.equal(h.getHeader('cookie'), 'a=1; b=2');
        assert.equal(h.getHeader('x-missing'), undefined);
        assert.equal(h.indexOfHeader('accept', 2), 3);
      },
    },
    {
      name: 'getCookie finds a cookie across Cookie lines, case-sensitively (SP-2)',
      input: head('GET / HTTP/1.1', 'Host: a', 'Cookie: theme=dark; SERVERID=abc.sig', 'Cookie: x = y ;z=1'),
      check: (h) => {
        assert.equal(h.getCookie('SERVERID'), 'abc.sig');
        assert.equal(h.getCookie('serverid'), undefined);
        assert.equal(h.getCookie('theme'), 'dark');
        assert.equal(h.getCookie('x'), 'y');
        assert.equal(h.getCookie('z'), '1');
        assert.equal(h.getCookie('nope'), undefined);
      },
    },
    {
      name: 'BS-8/TB-3: LoopMarker.inHead finds our verified marker in X-Fulcrum-Loop lists only as a whole member',
      input: head('GET / HTTP/1.1', 'Host: a', `X-Fulcrum-Loop: alb-a, ${LOOP_B.value}`, `x-fulcrum-loop: ${LOOP_C.value}`),
      check: (h) => {
        assert.equal(LOOP_B.inHead(h), true);
        assert.equal(LOOP_C.inHead(h), true);
        assert.equal(new LoopMarker('alb', '01'.repeat(32)).inHead(h), false);
        assert.equal(new LoopMarker('alb-a', '01'.repeat(32)).inHead(h), false, 'the bare id is not our marker');
        assert.equal(new LoopMarker('alb-b', '02'.repeat(32)).inHead(h), false, "another deployment's marker for the same id");
      },
    },
    {
      name: 'target may carry percent-encoding and sub-delims, path and query are split',
      input: head("GET /a%20b/c;p=1/d'e?x=%7B|}&y=[1] HTTP/1.1", 'Host: a'),
      check: (h) => {
        assert.equal(h.path, "/a%20b/c;p=1/d'e");
        assert.equal(h.query, 'x=%7B|}&y=[1]');
      },
    },
    {
      name: 'field offsets point into the input buffer (zero copy)',
      input: head('GET / HTTP/1.1', 'Host: a', 'X-Y: zz'),
      check: (h) => {
        assert.equal(h.buf.toString('latin1', h.hdr[4]!, h.hdr[5]!), 'X-Y');
        assert.equal(h.buf.toString('latin1', h.hdr[6]!, h.hdr[7]!), 'zz');
        assert.equal(h.buf.toString('latin1', h.lineStartOf(1), h.lineEndOf(1)), 'X-Y: zz\r\n');
        assert.equal(h.lineEndOf(1), h.fieldsEnd);
        assert.deepEqual(h.headerList(), [
          ['Host', 'a'],
          ['X-Y', 'zz'],
        ]);
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { code, h } = parse(c.input);
      assert.equal(h1ErrorName(code), 'OK', `errorOffset ${h.errorOffset}`);
      c.check(h);
    });
  }

  it('a RequestHead is reused: a second parse leaves nothing of the first', () => {
    const h = new RequestHead();
    const a = head('POST http://x.example/a HTTP/1.1', 'Host: x.example', 'Content-Length: 5', 'Connection: close, X-A', 'X-A: 1');
    assert.equal(parseRequestHead(a, 0, a.length, h), 0);
    assert.equal(h.target, '/a');
    const b = head('GET /b HTTP/1.1', 'Host: y');
    assert.equal(parseRequestHead(b, 0, b.length, h), 0);
    assert.equal(h.target, '/b');
    assert.equal(h.host, 'y');
    assert.equal(h.contentLength, -1);
    assert.equal(h.connClose, false);
    assert.equal(h.connectionTokens, null);
    assert.equal(h.keepAlive, true);
    assert.equal(h.headerCount, 1);
  });

  it('parses a head that starts and ends inside a larger buffer (pipelined bytes around it)', () => {
    const first = head('GET /1 HTTP/1.1', 'Host: a');
    const second = head('GET /2 HTTP/1.1', 'Host: b');
    const buf = Buffer.concat([first, second, Buffer.from('GET /3 HT')]);
    const h = new RequestHead();
    const e1 = findHeadEnd(buf, 0);
    assert.equal(e1, first.length);
    assert.equal(parseRequestHead(buf, 0, e1, h), 0);
    assert.equal(h.target, '/1');
    const e2 = findHeadEnd(buf, e1);
    assert.equal(parseRequestHead(buf, e1, e2, h), 0);
    assert.equal(h.target, '/2');
    assert.equal(h.host, 'b');
    assert.equal(findHeadEnd(buf, e2), HEAD_INCOMPLETE);
  });

  it('refuses a range that does not end with CRLFCRLF (programmer error)', () => {
    const b = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n');
    assert.throws(() => parseRequestHead(b, 0, b.length, new RequestHead()), RangeError);
  });
});

describe('http1 request head: hostile and invalid input', () => {
  const big = 'a'.repeat(9000);
  const cases: Array<[string, Buffer, keyof typeof H1Error, number, H1Limits?]> = [
    // framing
    ['CL and TE together', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5', 'Transfer-Encoding: chunked'), 'CL_AND_TE', 400],
    ['TE and CL together (other order)', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked', 'Content-Length: 5'), 'CL_AND_TE', 400],
    ['duplicate Content-Length with equal values (we refuse, HAProxy merges)', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5', 'Content-Length: 5'), 'DUPLICATE_CL', 400],
    ['duplicate Content-Length with different values', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5', 'content-length: 6'), 'DUPLICATE_CL', 400],
    ['Content-Length as a list', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5, 5'), 'BAD_CL', 400],
    ['Content-Length with a plus sign', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: +5'), 'BAD_CL', 400],
    ['Content-Length negative', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: -1'), 'BAD_CL', 400],
    ['Content-Length in hex', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 0x10'), 'BAD_CL', 400],
    ['Content-Length empty', head('POST / HTTP/1.1', 'Host: a', 'Content-Length:'), 'BAD_CL', 400],
    ['Content-Length blank', head('POST / HTTP/1.1', 'Host: a', 'Content-Length:    '), 'BAD_CL', 400],
    ['Content-Length with exponent', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 1e3'), 'BAD_CL', 400],
    ['Content-Length with inner space', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 1 0'), 'BAD_CL', 400],
    ['Content-Length 2^53 overflows', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 9007199254740992'), 'BAD_CL', 400],
    ['Content-Length of 17 digits', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 00000000000000001'), 'BAD_CL', 400],
    ['Transfer-Encoding: chunked, chunked', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked, chunked'), 'BAD_TE', 400],
    ['Transfer-Encoding on two lines', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'), 'BAD_TE', 400],
    ['Transfer-Encoding: gzip, chunked (coding not implemented)', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: gzip, chunked'), 'TE_NOT_IMPLEMENTED', 501],
    ['Transfer-Encoding: xchunked', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: xchunked'), 'TE_NOT_IMPLEMENTED', 501],
    ['Transfer-Encoding: identity', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: identity'), 'TE_NOT_IMPLEMENTED', 501],
    ['Transfer-Encoding: chunked, gzip (chunked not final)', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked, gzip'), 'BAD_TE', 400],
    ['Transfer-Encoding with a parameter', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked;q=1'), 'BAD_TE', 400],
    ['Transfer-Encoding split by a space', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chun ked'), 'BAD_TE', 400],
    ['Transfer-Encoding with a trailing comma', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked,'), 'BAD_TE', 400],
    ['Transfer-Encoding empty', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding:'), 'BAD_TE', 400],
    ['Transfer-Encoding with a vertical tab', head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked\x0b'), 'BAD_HEADER_VALUE', 400],
    ['Transfer-Encoding in HTTP/1.0', head('POST / HTTP/1.0', 'Transfer-Encoding: chunked'), 'TE_IN_HTTP10', 400],
    // line structure
    ['obs-fold continuation line', head('GET / HTTP/1.1', 'Host: a', 'X-A: 1', ' folded'), 'OBS_FOLD', 400],
    ['obs-fold with HTAB', head('GET / HTTP/1.1', 'Host: a', 'X-A: 1', '\tfolded'), 'OBS_FOLD', 400],
    ['whitespace before the first field line', head('GET / HTTP/1.1', ' Host: a'), 'OBS_FOLD', 400],
    ['bare LF ending a field line', Buffer.from('GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n'), 'BARE_LF', 400],
    ['bare LF ending the request line', Buffer.from('GET / HTTP/1.1\nHost: a\r\n\r\n'), 'BARE_LF', 400],
    ['bare CR inside a value', Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n'), 'BARE_CR', 400],
    ['bare CR ending a field line', Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n'), 'BARE_CR', 400],
    ['bare CR ending the request line', Buffer.from('GET / HTTP/1.1\rHost: a\r\n\r\n'), 'BARE_CR', 400],
    // field syntax
    ['NUL in a value', head('GET / HTTP/1.1', 'Host: a', 'X: a\x00b'), 'BAD_HEADER_VALUE', 400],
    ['control byte 0x01 in a value', head('GET / HTTP/1.1', 'Host: a', 'X: a\x01'), 'BAD_HEADER_VALUE', 400],
    ['DEL in a value', head('GET / HTTP/1.1', 'Host: a', 'X: a\x7f'), 'BAD_HEADER_VALUE', 400],
    ['ESC in a value', head('GET / HTTP/1.1', 'Host: a', 'X: \x1b[31m'), 'BAD_HEADER_VALUE', 400],
    ['NUL in a name', head('GET / HTTP/1.1', 'Host: a', 'X\x00Y: 1'), 'BAD_HEADER_NAME', 400],
    ['space between name and colon', head('GET / HTTP/1.1', 'Host: a', 'Content-Length : 5'), 'WS_BEFORE_COLON', 400],
    ['tab between name and colon', head('GET / HTTP/1.1', 'Host\t: a'), 'WS_BEFORE_COLON', 400],
    ['empty field name', head('GET / HTTP/1.1', 'Host: a', ': x'), 'BAD_HEADER_NAME', 400],
    ['field line without a colon', head('GET / HTTP/1.1', 'Host: a', 'NoColon'), 'BAD_HEADER_LINE', 400],
    ['parenthesis in a name', head('GET / HTTP/1.1', 'Host: a', 'X(y): 1'), 'BAD_HEADER_NAME', 400],
    ['slash in a name', head('GET / HTTP/1.1', 'Host: a', 'X/Y: 1'), 'BAD_HEADER_NAME', 400],
    ['non-ASCII byte in a name', head('GET / HTTP/1.1', 'Host: a', 'X\xe9: 1'), 'BAD_HEADER_NAME', 400],
    ['name starting with a separator', head('GET / HTTP/1.1', 'Host: a', '@x: 1'), 'BAD_HEADER_NAME', 400],
    ['Transfer_Encoding with an underscore (CGI backends read it as Transfer-Encoding)', head('POST / HTTP/1.1', 'Host: a', 'Transfer_Encoding: chunked'), 'BAD_HEADER_NAME', 400],
    ['Content_Length with an underscore', head('POST / HTTP/1.1', 'Host: a', 'Content_Length: 5'), 'BAD_HEADER_NAME', 400],
    ['X_Forwarded_For with underscores (spoofs the client address behind CGI)', head('GET / HTTP/1.1', 'Host: a', 'X_Forwarded_For: 1.2.3.4'), 'BAD_HEADER_NAME', 400],
    ['mixed dash and underscore in a known name', head('GET / HTTP/1.1', 'Host: a', 'x-forwarded_proto: https'), 'BAD_HEADER_NAME', 400],
    // request line: method
    ['invalid token character in method', head('GE(T / HTTP/1.1', 'Host: a'), 'BAD_METHOD', 400],
    ['NUL in method', head('G\x00T / HTTP/1.1', 'Host: a'), 'BAD_METHOD', 400],
    ['non-ASCII byte in method', head('G\xc9T / HTTP/1.1', 'Host: a'), 'BAD_METHOD', 400],
    ['request line starting with a space', head(' GET / HTTP/1.1', 'Host: a'), 'BAD_REQUEST_LINE', 400],
    ['method alone (HTTP/0.9 style)', head('GET', 'Host: a'), 'BAD_REQUEST_LINE', 400],
    ['HTTP/0.9 simple request without a version', head('GET /'), 'BAD_REQUEST_LINE', 400],
    ['two spaces after the method', head('GET  / HTTP/1.1', 'Host: a'), 'BAD_REQUEST_LINE', 400],
    ['CONNECT is refused: not a forward proxy', head('CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443'), 'CONNECT_NOT_SUPPORTED', 501],
    // request line: target
    ['space inside the target', head('GET /a b HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['tab inside the target', head('GET /a\tb HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['control byte inside the target', head('GET /a\x01b HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['NUL inside the target', head('GET /a\x00 HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['DEL inside the target', head('GET /a\x7f HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['byte above 0x7e inside the target', head('GET /caf\xe9 HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['fragment in the target', head('GET /a#frag HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['asterisk-form with GET', head('GET * HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['asterisk followed by more', head('OPTIONS *x HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['authority-form without CONNECT', head('GET example.com:443 HTTP/1.1', 'Host: example.com:443'), 'BAD_TARGET', 400],
    ['relative target', head('GET index.html HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['absolute-form with a non-http scheme', head('GET ftp://a/x HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['absolute-form with userinfo', head('GET http://user:pw@a/x HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['absolute-form with an empty authority', head('GET http:///x HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['absolute-form with a bad port', head('GET http://a:99999/ HTTP/1.1', 'Host: a'), 'BAD_TARGET', 400],
    ['absolute-form whose host disagrees with Host', head('GET http://evil.example/ HTTP/1.1', 'Host: good.example'), 'HOST_MISMATCH', 400],
    ['absolute-form whose port disagrees with Host', head('GET http://a.example:8080/ HTTP/1.1', 'Host: a.example'), 'HOST_MISMATCH', 400],
    ['absolute-form in HTTP/1.1 still needs Host', head('GET http://a.example/ HTTP/1.1'), 'MISSING_HOST', 400],
    // request line: version
    ['HTTP/2.0 on an HTTP/1 connection', head('GET / HTTP/2.0', 'Host: a'), 'VERSION_NOT_SUPPORTED', 505],
    ['HTTP/1.2', head('GET / HTTP/1.2', 'Host: a'), 'VERSION_NOT_SUPPORTED', 505],
    ['HTTP/0.9 spelled out', head('GET / HTTP/0.9', 'Host: a'), 'VERSION_NOT_SUPPORTED', 505],
    ['HTTP/3.0', head('GET / HTTP/3.0', 'Host: a'), 'VERSION_NOT_SUPPORTED', 505],
    ['lower-case version', head('GET / http/1.1', 'Host: a'), 'BAD_VERSION', 400],
    ['version without minor', head('GET / HTTP/1', 'Host: a'), 'BAD_VERSION', 400],
    ['version with two digits', head('GET / HTTP/1.10', 'Host: a'), 'BAD_VERSION', 400],
    ['version with letters', head('GET / HTTP/x.y', 'Host: a'), 'BAD_VERSION', 400],
    ['trailing space after the version', head('GET / HTTP/1.1 ', 'Host: a'), 'BAD_VERSION', 400],
    // Host
    ['missing Host in HTTP/1.1', head('GET / HTTP/1.1', 'Accept: */*'), 'MISSING_HOST', 400],
    ['duplicate Host', head('GET / HTTP/1.1', 'Host: a', 'Host: a'), 'DUPLICATE_HOST', 400],
    ['duplicate Host with different values', head('GET / HTTP/1.1', 'Host: a', 'host: b'), 'DUPLICATE_HOST', 400],
    ['Host with userinfo', head('GET / HTTP/1.1', 'Host: user@a'), 'BAD_HOST', 400],
    ['Host with a space', head('GET / HTTP/1.1', 'Host: a b'), 'BAD_HOST', 400],
    ['Host with a path', head('GET / HTTP/1.1', 'Host: a/b'), 'BAD_HOST', 400],
    ['Host as a list', head('GET / HTTP/1.1', 'Host: a,b'), 'BAD_HOST', 400],
    ['Host with a non-numeric port', head('GET / HTTP/1.1', 'Host: a:http'), 'BAD_HOST', 400],
    ['Host with a port over 65535', head('GET / HTTP/1.1', 'Host: a:65536'), 'BAD_HOST', 400],
    ['Host with an empty port', head('GET / HTTP/1.1', 'Host: a:'), 'BAD_HOST', 400],
    ['Host with an unclosed IPv6 literal', head('GET / HTTP/1.1', 'Host: [::1'), 'BAD_HOST', 400],
    ['Host with a broken percent-escape', head('GET / HTTP/1.1', 'Host: a%zz'), 'BAD_HOST', 400],
    ['Host with a non-ASCII byte', head('GET / HTTP/1.1', 'Host: caf\xe9'), 'BAD_HOST', 400],
    // sizes
    ['101 fields with the default limit of 100', head('GET / HTTP/1.1', 'Host: a', ...Array.from({ length: 100 }, (_, i) => `X-${i}: ${i}`)), 'TOO_MANY_HEADERS', 431],
    ['6 fields with maxHeaders 5', head('GET / HTTP/1.1', 'Host: a', 'A: 1', 'B: 2', 'C: 3', 'D: 4', 'E: 5'), 'TOO_MANY_HEADERS', 431, h1Limits({ maxHeaders: 5 })],
    ['head over maxHeadBytes', head('GET / HTTP/1.1', 'Host: a', `X-Big: ${big}`, `X-Big2: ${big}`), 'HEAD_TOO_LARGE', 431],
    ['head over a configured 1 KiB limit', head('GET / HTTP/1.1', 'Host: a', `X-Big: ${'b'.repeat(1100)}`), 'HEAD_TOO_LARGE', 431, h1Limits({ maxHeadBytes: 1024 })],
    ['request line over maxRequestLineBytes', head(`GET /${big} HTTP/1.1`, 'Host: a'), 'URI_TOO_LONG', 414],
    ['request line over a configured 100-byte limit', head(`GET /${'c'.repeat(100)} HTTP/1.1`, 'Host: a'), 'URI_TOO_LONG', 414, h1Limits({ maxRequestLineBytes: 100 })],
    // connection management
    ['Connection nominating Host', head('GET / HTTP/1.1', 'Host: a', 'Connection: close, Host'), 'CONNECTION_PROTECTED', 400],
    ['Connection nominating X-Forwarded-For (strips the real client address)', head('GET / HTTP/1.1', 'Host: a', 'X-Forwarded-For: 1.2.3.4', 'Connection: X-Forwarded-For'), 'CONNECTION_PROTECTED', 400],
    ['Connection nominating X-Forwarded-Proto', head('GET / HTTP/1.1', 'Host: a', 'Connection: keep-alive, x-forwarded-proto'), 'CONNECTION_PROTECTED', 400],
    ['Connection nominating X-Forwarded-Port', head('GET / HTTP/1.1', 'Host: a', 'Connection: X-Forwarded-Port'), 'CONNECTION_PROTECTED', 400],
    ['Connection nominating X-Forwarded-Host', head('GET / HTTP/1.1', 'Host: a', 'Connection: X-Forwarded-Host'), 'CONNECTION_PROTECTED', 400],
    ['Connection nominating Forwarded', head('GET / HTTP/1.1', 'Host: a', 'Connection: Forwarded'), 'CONNECTION_PROTECTED', 400],
    ['Connection nominating Content-Length', head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 1', 'Connection: Content-Length'), 'CONNECTION_PROTECTED', 400],
    ['Connection nominating Transfer-Encoding', head('POST / HTTP/1.1', 'Host: a', 'Connection: transfer-encoding'), 'CONNECTION_PROTECTED', 400],
    ['Connection nominating the loop marker (BS-8)', head('GET / HTTP/1.1', 'Host: a', 'Connection: X-Fulcrum-Loop'), 'CONNECTION_PROTECTED', 400],
    ['Connection with an invalid token', head('GET / HTTP/1.1', 'Host: a', 'Connection: close;x'), 'BAD_CONNECTION', 400],
    ['Connection members separated by a space', head('GET / HTTP/1.1', 'Host: a', 'Connection: close keep-alive'), 'BAD_CONNECTION', 400],
    ['Expect with an unknown expectation', head('PUT / HTTP/1.1', 'Host: a', 'Expect: 200-ok'), 'EXPECTATION_FAILED', 417],
  ];
  for (const [name, input, code, status, limits] of cases) {
    it(`${name} -> ${status} ${code}`, () => {
      const r = parse(input, limits);
      assert.equal(h1ErrorName(r.code), code);
      assert.equal(h1ErrorStatus(r.code), status);
      assert.ok(r.h.errorOffset >= 0, 'errorOffset is recorded');
    });
  }
});

describe('http1 head end and split reads', () => {
  const sample = head(
    'POST /submit?x=1 HTTP/1.1',
    'Host: www.example.com',
    'User-Agent: test/1.0',
    'Content-Length: 5',
    'Cookie: a=1',
  );
  const body = Buffer.from('hello');

  it('findHeadEnd finds CRLFCRLF, reports incomplete heads and bare LF', () => {
    assert.equal(findHeadEnd(sample, 0), sample.length);
    assert.equal(findHeadEnd(sample, 0, sample.length - 1), HEAD_INCOMPLETE);
    assert.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\nHost: a\n\n'), 0), HEAD_BARE_LF);
    assert.equal(findHeadEnd(Buffer.from('\nGET'), 0), HEAD_BARE_LF);
    // resumable: the CRLFCRLF straddles the previous scan end
    const cut = sample.length - 2;
    assert.equal(findHeadEnd(sample, 0, cut), HEAD_INCOMPLETE);
    assert.equal(findHeadEnd(sample, cut, sample.length, 0), sample.length);
  });

  it('a head in one read is not copied: buf is the read itself, rest is the body', () => {
    const chunk = Buffer.concat([sample, body]);
    const r = new HeadReader();
    assert.equal(r.push(chunk), ReadStatus.DONE);
    assert.equal(r.buf, chunk);
    assert.equal(r.start, 0);
    assert.equal(r.end, sample.length);
    assert.equal(r.restBuf, chunk);
    assert.equal(r.restBuf.toString('latin1', r.restStart, r.restEnd), 'hello');
  });

  it('a head split at every byte offset reads and parses the same', () => {
    const whole = Buffer.concat([sample, body]);
    for (let cut = 1; cut < whole.length; cut++) {
      const r = new HeadReader();
      const a = Buffer.from(whole.subarray(0, cut));
      const b = Buffer.from(whole.subarray(cut));
      let st = r.push(a);
      if (cut >= sample.length) {
        assert.equal(st, ReadStatus.DONE, `cut ${cut}`);
        assert.equal(r.buf, a);
      } else {
        assert.equal(st, ReadStatus.MORE, `cut ${cut}`);
        st = r.push(b);
        assert.equal(st, ReadStatus.DONE, `cut ${cut}`);
        assert.equal(r.restBuf, b);
      }
      assert.equal(r.buf.toString('latin1', r.start, r.end), sample.toString('latin1'), `cut ${cut}`);
      const rest = Buffer.concat([r.restBuf.subarray(r.restStart, r.restEnd), cut >= sample.length ? b : Buffer.alloc(0)]);
      assert.equal(rest.toString(), 'hello', `cut ${cut}`);
      const h = new RequestHead();
      assert.equal(parseRequestHead(r.buf, r.start, r.end, h), 0, `cut ${cut}`);
      assert.equal(h.target, '/submit?x=1');
      assert.equal(h.contentLength, 5);
      assert.equal(h.getCookie('a'), '1');
    }
  });

  it('a head delivered one byte per read', () => {
    const r = new HeadReader();
    for (let i = 0; i < sample.length - 1; i++) assert.equal(r.push(sample, i, i + 1), ReadStatus.MORE, `byte ${i}`);
    assert.equal(r.push(sample, sample.length - 1, sample.length), ReadStatus.DONE);
    assert.equal(r.restStart, r.restEnd);
    const h = new RequestHead();
    assert.equal(parseRequestHead(r.buf, r.start, r.end, h), 0);
    assert.equal(h.host, 'www.example.com');
  });

  it('a split head gets a buffer of its own that the next split head does not overwrite', () => {
    const r = new HeadReader();
    r.push(sample.subarray(0, 10));
    assert.equal(r.push(sample.subarray(10)), ReadStatus.DONE);
    const first = r.buf;
    const copy = Buffer.from(first.subarray(r.start, r.end));
    r.reset();
    const other = head('GET /other HTTP/1.1', 'Host: zz');
    r.push(other.subarray(0, 10));
    assert.equal(r.push(other.subarray(10)), ReadStatus.DONE);
    assert.notEqual(r.buf, first);
    assert.deepEqual(first.subarray(0, copy.length), copy);
  });

  it('pipelined requests: the rest of a read is fed back after reset', () => {
    const two = Buffer.concat([head('GET /1 HTTP/1.1', 'Host: a'), head('GET /2 HTTP/1.1', 'Host: a')]);
    const r = new HeadReader();
    const h = new RequestHead();
    assert.equal(r.push(two), ReadStatus.DONE);
    assert.equal(parseRequestHead(r.buf, r.start, r.end, h), 0);
    assert.equal(h.target, '/1');
    const { restBuf, restStart, restEnd } = r;
    r.reset();
    assert.equal(r.push(restBuf, restStart, restEnd), ReadStatus.DONE);
    assert.equal(parseRequestHead(r.buf, r.start, r.end, h), 0);
    assert.equal(h.target, '/2');
  });

  it('empty lines before a request are skipped, also when they arrive alone', () => {
    const r = new HeadReader();
    assert.equal(r.push(Buffer.from('\r\n')), ReadStatus.MORE);
    assert.equal(r.pending, false);
    assert.equal(r.push(Buffer.from('\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')), ReadStatus.DONE);
    assert.equal(r.buf.toString('latin1', r.start, r.start + 3), 'GET');
  });

  it('bare LF line ends are refused as soon as they arrive, not after a timeout', () => {
    const r = new HeadReader();
    assert.equal(r.push(Buffer.from('GET / HTTP/1.1\n')), ReadStatus.ERROR);
    assert.equal(r.error, H1Error.BARE_LF);
    const r2 = new HeadReader();
    assert.equal(r2.push(Buffer.from('GET / HTTP/1.1\r')), ReadStatus.MORE);
    assert.equal(r2.push(Buffer.from('\nHost: a\n')), ReadStatus.ERROR);
    assert.equal(r2.error, H1Error.BARE_LF);
  });

  it('a head that never ends within maxHeadBytes is refused with 431', () => {
    const r = new HeadReader(1024, 512);
    assert.equal(r.push(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n')), ReadStatus.MORE);
    let st: number = ReadStatus.MORE;
    for (let i = 0; i < 100 && st === ReadStatus.MORE; i++) st = r.push(Buffer.from(`X-${i}: ${'v'.repeat(20)}\r\n`));
    assert.equal(st, ReadStatus.ERROR);
    assert.equal(r.error, H1Error.HEAD_TOO_LARGE);
    assert.equal(h1ErrorStatus(r.error), 431);
  });

  it('one oversized read without a head end is refused with 431', () => {
    const r = new HeadReader(1024, 512);
    const st = r.push(Buffer.from('GET / HTTP/1.1\r\nX: ' + 'v'.repeat(2000)));
    assert.equal(st, ReadStatus.ERROR);
    assert.equal(r.error, H1Error.HEAD_TOO_LARGE);
  });

  it('a head whose end lies beyond maxHeadBytes in one read is refused', () => {
    const r = new HeadReader(1024, 512);
    const st = r.push(head('GET / HTTP/1.1', 'Host: a', 'X: ' + 'v'.repeat(2000)));
    assert.equal(st, ReadStatus.ERROR);
    assert.equal(r.error, H1Error.HEAD_TOO_LARGE);
  });

  it('a request line longer than its limit is refused with 414 before the head ends', () => {
    const r = new HeadReader(16384, 1024);
    assert.equal(r.push(Buffer.from('GET /' + 'p'.repeat(600))), ReadStatus.MORE);
    assert.equal(r.push(Buffer.from('p'.repeat(600))), ReadStatus.ERROR);
    assert.equal(r.error, H1Error.URI_TOO_LONG);
    assert.equal(h1ErrorStatus(r.error), 414);
  });
});

describe('http1 error table', () => {
  it('every code has a name, a status and a reason, indexed by code', () => {
    const names = Object.keys(H1Error) as Array<keyof typeof H1Error>;
    assert.equal(H1_ERRORS.length, names.length);
    for (const name of names) {
      const code = H1Error[name];
      const info = H1_ERRORS[code]!;
      assert.equal(info.code, code);
      assert.equal(info.name, name);
      assert.equal(h1ErrorName(code), name);
      assert.ok(info.status >= 200 && info.status <= 599, name);
      assert.ok(info.reason.length > 0 && !/[\r\n]/.test(info.reason), name);
      assert.equal(h1ErrorReason(code), info.reason);
    }
  });

  it('statuses the conformance suite relies on', () => {
    assert.equal(h1ErrorStatus(H1Error.URI_TOO_LONG), 414);
    assert.equal(h1ErrorStatus(H1Error.HEAD_TOO_LARGE), 431);
    assert.equal(h1ErrorStatus(H1Error.TOO_MANY_HEADERS), 431);
    assert.equal(h1ErrorStatus(H1Error.TE_NOT_IMPLEMENTED), 501);
    assert.equal(h1ErrorStatus(H1Error.CONNECT_NOT_SUPPORTED), 501);
    assert.equal(h1ErrorStatus(H1Error.VERSION_NOT_SUPPORTED), 505);
    assert.equal(h1ErrorStatus(H1Error.EXPECTATION_FAILED), 417);
    assert.equal(h1ErrorStatus(H1Error.BAD_STATUS_LINE), 502);
  });

  it('any fault found in backend bytes maps to 502', () => {
    for (const info of H1_ERRORS) {
      if (info.code !== 0) assert.equal(h1ErrorStatus(info.code, true), 502);
    }
  });

  it('h1Limits validates its input', () => {
    assert.throws(() => h1Limits({ maxHeaders: 0 }), RangeError);
    assert.throws(() => h1Limits({ maxHeadBytes: 1.5 }), RangeError);
    assert.equal(h1Limits({ maxHeaders: 7 }).maxHeaders, 7);
    assert.throws(() => new RequestHead(0), RangeError);
  });
});
