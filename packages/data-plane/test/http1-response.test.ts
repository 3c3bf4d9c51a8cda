import assert from 'node:assert/strict';
import {
  BodyKind,
  findHeadEnd,
  H1Error,
  h1ErrorName,
  h1ErrorStatus,
  h1Limits,
  HEAD_BARE_LF,
  HeaderId,
  HeadReader,
  Method,
  parseResponseHead,
  ReadStatus,
  ReqFlag,
  ResponseHead,
  type H1Limits,
} from '../src/http1/index.js';

function head(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

function parse(buf: Buffer, method: number = Method.GET, flags = 0, limits?: H1Limits): { code: number; h: ResponseHead } {
  const h = new ResponseHead();
  let end = findHeadEnd(buf, 0, buf.length);
  if (end === HEAD_BARE_LF) end = buf.length;
  assert.ok(end > 0, 'test input has no complete head');
  return { code: parseResponseHead(buf, 0, end, h, method, flags, limits), h };
}

describe('http1 response head: valid responses', () => {
  interface Valid {
    name: string;
    input: Buffer;
    method?: number;
    flags?: number;
    check: (h: ResponseHead) => void;
  }
  const cases: Valid[] = [
    {
      name: '200 with Content-Length',
      input: head('HTTP/1.1 200 OK', 'Content-Type: text/plain', 'Content-Length: 12'),
      check: (h) => {
        assert.equal(h.status, 200);
        assert.equal(h.reason, 'OK');
        assert.equal(h.bodyKind, BodyKind.LENGTH);
        assert.equal(h.contentLength, 12);
        assert.equal(h.keepAlive, true);
        assert.equal(h.reusable, true);
        assert.equal(h.interim, false);
      },
    },
    {
      name: 'chunked 200',
      input: head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'),
      check: (h) => {
        assert.equal(h.bodyKind, BodyKind.CHUNKED);
        assert.equal(h.chunked, true);
      },
    },
    {
      name: 'no framing headers: close-delimited body, connection not reusable',
      input: head('HTTP/1.1 200 OK', 'Content-Type: text/html'),
      check: (h) => {
        assert.equal(h.bodyKind, BodyKind.CLOSE);
        assert.equal(h.reusable, false);
      },
    },
    {
      name: 'Content-Length: 0 means no body',
      input: head('HTTP/1.1 200 OK', 'Content-Length: 0'),
      check: (h) => assert.equal(h.bodyKind, BodyKind.NONE),
    },
    {
      name: 'a response to HEAD has no body whatever its Content-Length says',
      input: head('HTTP/1.1 200 OK', 'Content-Length: 1000'),
      method: Method.HEAD,
      check: (h) => {
        assert.equal(h.bodyKind, BodyKind.NONE);
        assert.equal(h.contentLength, 1000);
        assert.equal(h.reusable, true);
      },
    },
    {
      name: 'a response to HEAD with Transfer-Encoding has no body',
      input: head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'),
      method: Method.HEAD,
      check: (h) => assert.equal(h.bodyKind, BodyKind.NONE),
    },
    {
      name: '204 has no body even with Content-Length',
      input: head('HTTP/1.1 204 No Content', 'Content-Length: 10'),
      check: (h) => assert.equal(h.bodyKind, BodyKind.NONE),
    },
    {
      name: '304 has no body even with Content-Length',
      input: head('HTTP/1.1 304 Not Modified', 'Content-Length: 10', 'ETag: "x"'),
      check: (h) => assert.equal(h.bodyKind, BodyKind.NONE),
    },
    {
      name: '100 Continue is interim: forward it, then read the final response',
      input: head('HTTP/1.1 100 Continue'),
      check: (h) => {
        assert.equal(h.interim, true);
        assert.equal(h.bodyKind, BodyKind.NONE);
      },
    },
    {
      name: '103 Early Hints is interim',
      input: head('HTTP/1.1 103 Early Hints', 'Link: </style.css>; rel=preload; as=style'),
      check: (h) => {
        assert.equal(h.interim, true);
        assert.equal(h.status, 103);
      },
    },
    {
      name: '101 Switching Protocols to a WebSocket request becomes a tunnel',
      input: head('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Accept: x'),
      flags: ReqFlag.UPGRADE,
      check: (h) => {
        assert.equal(h.bodyKind, BodyKind.TUNNEL);
        assert.equal(h.interim, false);
        assert.equal(h.reusable, false);
      },
    },
    {
      name: 'HTTP/1.0 response is not persistent by default',
      input: head('HTTP/1.0 200 OK', 'Content-Length: 1'),
      check: (h) => {
        assert.equal(h.versionMinor, 0);
        assert.equal(h.keepAlive, false);
        assert.equal(h.reusable, false);
      },
    },
    {
      name: 'HTTP/1.0 response with Connection: keep-alive is persistent',
      input: head('HTTP/1.0 200 OK', 'Content-Length: 1', 'Connection: keep-alive'),
      check: (h) => assert.equal(h.reusable, true),
    },
    {
      name: 'Connection: close makes the upstream connection not reusable',
      input: head('HTTP/1.1 200 OK', 'Content-Length: 1', 'Connection: close'),
      check: (h) => {
        assert.equal(h.keepAlive, false);
        assert.equal(h.reusable, false);
      },
    },
    {
      name: 'empty reason phrase after the space',
      input: head('HTTP/1.1 404 ', 'Content-Length: 0'),
      check: (h) => {
        assert.equal(h.status, 404);
        assert.equal(h.reason, '');
      },
    },
    {
      name: 'missing space before an empty reason is tolerated',
      input: head('HTTP/1.1 500', 'Content-Length: 0'),
      check: (h) => {
        assert.equal(h.status, 500);
        assert.equal(h.reason, '');
      },
    },
    {
      name: 'reason phrase with spaces, HTAB and obs-text',
      input: head('HTTP/1.1 418 I\'m a\tteapot \xe9', 'Content-Length: 0'),
      check: (h) => assert.equal(h.reason, "I'm a\tteapot \xe9"),
    },
    {
      name: 'repeated identical Content-Length is accepted; the repeat is marked for dropping',
      input: head('HTTP/1.1 200 OK', 'Content-Length: 3', 'X: y', 'Content-Length: 3'),
      check: (h) => {
        assert.equal(h.contentLength, 3);
        assert.equal(h.hdrId[0], HeaderId.CONTENT_LENGTH);
        assert.equal(h.hdrId[2], HeaderId.DUPLICATE);
      },
    },
    {
      name: 'Connection nominating a custom header marks that line',
      input: head('HTTP/1.1 200 OK', 'Content-Length: 0', 'Connection: X-Internal', 'X-Internal: secret'),
      check: (h) => assert.equal(h.hdrId[2], HeaderId.NOMINATED),
    },
    {
      name: 'SP-3: getSetCookie finds the backend cookie value',
      input: head(
        'HTTP/1.1 200 OK',
        'Content-Length: 0',
        'Set-Cookie: other=1; Path=/',
        'Set-Cookie: JSESSIONID = abc123 ; Path=/; HttpOnly',
        'Set-Cookie: broken',
      ),
      check: (h) => {
        assert.equal(h.getSetCookie('JSESSIONID'), 'abc123');
        assert.equal(h.getSetCookie('other'), '1');
        assert.equal(h.getSetCookie('jsessionid'), undefined);
        assert.equal(h.getSetCookie('broken'), undefined);
        assert.equal(h.getHeader('set-cookie')?.startsWith('other=1'), true);
      },
    },
    {
      name: 'chunked response to an HTTP/1.1 request is fine',
      input: head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'),
      flags: ReqFlag.NONE,
      check: (h) => assert.equal(h.bodyKind, BodyKind.CHUNKED),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { code, h } = parse(c.input, c.method ?? Method.GET, c.flags ?? 0);
      assert.equal(h1ErrorName(code), 'OK', `errorOffset ${h.errorOffset}`);
      c.check(h);
    });
  }

  it('interim 100 then the final response from the bytes after it (same reader, reset)', () => {
    const bytes = Buffer.concat([head('HTTP/1.1 100 Continue'), head('HTTP/1.1 201 Created', 'Content-Length: 2'), Buffer.from('ok')]);
    const r = new HeadReader();
    const h = new ResponseHead();
    assert.equal(r.push(bytes), ReadStatus.DONE);
    assert.equal(parseResponseHead(r.buf, r.start, r.end, h, Method.POST), 0);
    assert.equal(h.interim, true);
    const { restBuf, restStart, restEnd } = r;
    r.reset();
    assert.equal(r.push(restBuf, restStart, restEnd), ReadStatus.DONE);
    assert.equal(parseResponseHead(r.buf, r.start, r.end, h, Method.POST), 0);
    assert.equal(h.status, 201);
    assert.equal(r.restBuf.toString('latin1', r.restStart, r.restEnd), 'ok');
  });
});

describe('http1 response head: hostile backends (each answered 502)', () => {
  const big = 'v'.repeat(9000);
  const cases: Array<[string, Buffer, keyof typeof H1Error, number?, number?, H1Limits?]> = [
    ['CL and TE together', head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Transfer-Encoding: chunked'), 'CL_AND_TE'],
    ['non-numeric Content-Length', head('HTTP/1.1 200 OK', 'Content-Length: abc'), 'BAD_CL'],
    ['signed Content-Length', head('HTTP/1.1 200 OK', 'Content-Length: -5'), 'BAD_CL'],
    ['Content-Length list', head('HTTP/1.1 200 OK', 'Content-Length: 5,5'), 'BAD_CL'],
    ['Content-Length overflowing 2^53', head('HTTP/1.1 200 OK', 'Content-Length: 99999999999999999'), 'BAD_CL'],
    ['duplicate Content-Length with different values', head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Length: 6'), 'DUPLICATE_CL'],
    ['Transfer-Encoding: gzip, chunked', head('HTTP/1.1 200 OK', 'Transfer-Encoding: gzip, chunked'), 'TE_NOT_IMPLEMENTED'],
    ['Transfer-Encoding: chunked, chunked', head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked, chunked'), 'BAD_TE'],
    ['Transfer-Encoding repeated on two lines', head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'), 'BAD_TE'],
    ['Transfer-Encoding: chunked, identity (chunked not final)', head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked, identity'), 'BAD_TE'],
    ['Transfer-Encoding in an HTTP/1.0 response', head('HTTP/1.0 200 OK', 'Transfer-Encoding: chunked'), 'TE_IN_HTTP10'],
    ['chunked response to an HTTP/1.0 request', head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'), 'CHUNKED_TO_HTTP10', Method.GET, ReqFlag.HTTP10],
    ['obs-fold', head('HTTP/1.1 200 OK', 'X-A: 1', ' more'), 'OBS_FOLD'],
    ['bare LF line end', Buffer.from('HTTP/1.1 200 OK\r\nX: 1\nY: 2\r\n\r\n'), 'BARE_LF'],
    ['bare LF ending the status line', Buffer.from('HTTP/1.1 200 OK\nX: 1\r\n\r\n'), 'BARE_LF'],
    ['bare CR in a value', Buffer.from('HTTP/1.1 200 OK\r\nX: 1\r2\r\n\r\n'), 'BARE_CR'],
    ['NUL in a value', head('HTTP/1.1 200 OK', 'X: a\x00b'), 'BAD_HEADER_VALUE'],
    ['space before colon', head('HTTP/1.1 200 OK', 'Content-Length : 5'), 'WS_BEFORE_COLON'],
    ['invalid name', head('HTTP/1.1 200 OK', 'X Y: 1'), 'WS_BEFORE_COLON'],
    ['Content_Length with an underscore', head('HTTP/1.1 200 OK', 'Content_Length: 5'), 'BAD_HEADER_NAME'],
    ['head over maxHeadBytes', head('HTTP/1.1 200 OK', `X-A: ${big}`, `X-B: ${big}`), 'HEAD_TOO_LARGE'],
    ['too many fields', head('HTTP/1.1 200 OK', 'A: 1', 'B: 2', 'C: 3'), 'TOO_MANY_HEADERS', Method.GET, 0, h1Limits({ maxHeaders: 2 })],
    ['two-digit status', head('HTTP/1.1 20 OK'), 'BAD_STATUS_CODE'],
    ['four-digit status', head('HTTP/1.1 2000 OK'), 'BAD_STATUS_CODE'],
    ['status 600', head('HTTP/1.1 600 Weird'), 'BAD_STATUS_CODE'],
    ['status 099', head('HTTP/1.1 099 Low'), 'BAD_STATUS_CODE'],
    ['non-digit status', head('HTTP/1.1 2x0 OK'), 'BAD_STATUS_CODE'],
    ['reason glued to the status', head('HTTP/1.1 200OK'), 'BAD_STATUS_LINE'],
    ['control byte in the reason', head('HTTP/1.1 200 O\x01K'), 'BAD_STATUS_LINE'],
    ['HTTP/2.0 status line', head('HTTP/2.0 200 OK'), 'VERSION_NOT_SUPPORTED'],
    ['version without a minor', head('HTTP/2 200 OK'), 'BAD_STATUS_LINE'],
    ['lower-case protocol', head('http/1.1 200 OK'), 'BAD_STATUS_LINE'],
    ['not HTTP at all', head('ICY 200 OK'), 'BAD_STATUS_LINE'],
    ['two spaces before the status', head('HTTP/1.1  200 OK'), 'BAD_STATUS_CODE'],
    ['101 nobody asked for', head('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: upgrade'), 'UNEXPECTED_101'],
    ['101 without an Upgrade header', head('HTTP/1.1 101 Switching Protocols', 'Connection: upgrade'), 'UNEXPECTED_101', Method.GET, ReqFlag.UPGRADE],
    ['Connection nominating Content-Length', head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Connection: Content-Length'), 'CONNECTION_PROTECTED'],
    ['Connection nominating Transfer-Encoding', head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Connection: transfer-encoding'), 'CONNECTION_PROTECTED'],
  ];
  for (const [name, input, code, method, flags, limits] of cases) {
    it(`${name} -> 502 ${code}`, () => {
      const r = parse(input, method ?? Method.GET, flags ?? 0, limits);
      assert.equal(h1ErrorName(r.code), code);
      assert.equal(h1ErrorStatus(r.code, true), 502);
    });
  }
});
