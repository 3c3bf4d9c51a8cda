import assert from 'node:assert/strict';
import { HOST, LB_ID, LOOP, LOOP_FLIPPED, fwd, req, type ConfCase, type RecordingBackend } from './conf-helpers.js';

/**
 * Hostile (and a few tricky but valid) requests, sent raw through a real node. Each case
 * says what status the client gets and what the backend received: nothing, or exactly the
 * sanitized request (ARCHITECTURE.md "The hot path": at least as strict as HAProxy).
 */

const H = `Host: ${HOST}`;
const GET = 'GET / HTTP/1.1';
const POST = 'POST / HTTP/1.1';
const TE = 'Transfer-Encoding: chunked';
const CHUNKED_BODY = '5\r\nhello\r\n0\r\n\r\n';
/** A second request hidden in a body, for smuggling attempts. */
const SMUGGLED = `GET /smuggled HTTP/1.1\r\n${H}\r\n\r\n`;

/** A request the proxy must refuse with `status` before anything reaches a backend. */
function refused(name: string, status: number, send: string | Buffer): ConfCase {
  return { name: `${name} -> ${status}`, send, expectStatus: status, expectBackend: null };
}

/** A request forwarded as exactly `expect`, answered 200. */
function passes(name: string, send: string | Buffer | Array<string | Buffer>, expect: string, more: Partial<ConfCase> = {}): ConfCase {
  return { name: `${name} -> 200, forwarded sanitized`, send, expectStatus: 200, expectBackend: expect, ...more };
}

/** Exactly one request reached the backend, on one connection, and nothing else. */
function onlyRequests(...expected: string[]): (b: RecordingBackend) => void {
  return (b) => {
    assert.deepEqual(b.requests.map((r) => r.head.split('\r\n')[0]), expected, 'request lines the backend got');
  };
}

/** Loop markers of other hops: another load balancer, and another deployment using our id. */
const OTHER_LB = `alb-other.${'o'.repeat(22)}`;
const OTHER_DEPLOYMENT = `${LB_ID}.${'d'.repeat(21)}_`;

const many = (n: number, prefix = 'X-F'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}: v`);

export const REQUEST_CASES: ConfCase[] = [
  // ------------------------------------------------ baseline: what a sanitized request looks like
  passes('LR-3: plain GET gets X-Forwarded-For/Proto/Port, the loop marker and Connection', req(GET), fwd(GET)),
  passes(
    'LR-3: hop-by-hop fields (Keep-Alive, Proxy-Connection, TE, Proxy-Authorization, Connection) are cut',
    req(GET, [H, 'Connection: keep-alive', 'Keep-Alive: timeout=5', 'Proxy-Connection: keep-alive', 'TE: trailers', 'Proxy-Authorization: Basic eDp5', 'Accept: */*']),
    fwd(GET, [H, 'Accept: */*']),
  ),
  passes('LR-3: a field the Connection header nominates is cut', req(GET, [H, 'Connection: x-secret', 'X-Secret: 1', 'X-Kept: 2']), fwd(GET, [H, 'X-Kept: 2'])),
  passes(
    "LR-3: the client's X-Forwarded-For is appended to, its X-Forwarded-Proto/Port replaced",
    req(GET, [H, 'X-Forwarded-For: 203.0.113.7', 'X-Forwarded-Proto: https', 'X-Forwarded-Port: 1']),
    fwd(GET, [H], '', { xff: '203.0.113.7, 127.0.0.1' }),
  ),
  passes('LR-3: two X-Forwarded-For lines are merged into one', req(GET, [H, 'X-Forwarded-For: 10.0.0.1', 'X-Forwarded-For: 10.0.0.2']), fwd(GET, [H], '', { xff: '10.0.0.1, 10.0.0.2, 127.0.0.1' })),
  passes(
    'TB-2: X-Real-IP, Forwarded, X-Forwarded-Host, X-Forwarded-Client-srcport and SLB-ID from an untrusted hop are cut',
    req(GET, [H, 'X-Real-IP: 203.0.113.1', 'Forwarded: for=203.0.113.1;proto=https', 'X-Forwarded-Host: evil.test', 'X-Forwarded-Client-srcport: 1', 'SLB-ID: alb-forged', 'Accept: */*']),
    fwd(GET, [H, 'Accept: */*']),
  ),
  passes('TB-2: those names are cut in any case and when repeated', req(GET, [H, 'x-REAL-ip: 1.2.3.4', 'FORWARDED: for=a', 'forwarded: for=b', 'X-Kept: 1']), fwd(GET, [H, 'X-Kept: 1'])),
  passes('TB-2: a longer name that starts like one (X-Real-IPs, Forwarded-By) is an ordinary field', req(GET, [H, 'X-Real-IPs: 1', 'Forwarded-By: 2']), fwd(GET, [H, 'X-Real-IPs: 1', 'Forwarded-By: 2'])),
  passes('BS-8: the marker of another load balancer is kept and ours appended', req(GET, [H, `X-Fulcrum-Loop: ${OTHER_LB}`]), fwd(GET, [H], '', { loop: `${OTHER_LB}, ${LOOP}` })),
  passes(
    'TB-3: the marker of another deployment with our id (another secret) is kept and ours appended',
    req(GET, [H, `X-Fulcrum-Loop: ${OTHER_DEPLOYMENT}`]),
    fwd(GET, [H], '', { loop: `${OTHER_DEPLOYMENT}, ${LOOP}` }),
  ),
  refused('BS-8: our verified marker in the list (a forwarding loop)', 508, req(GET, [H, `X-Fulcrum-Loop: ${OTHER_LB}, ${LOOP}`])),
  refused('BS-8: our verified marker on a second X-Fulcrum-Loop line', 508, req(POST, [H, `X-Fulcrum-Loop: ${OTHER_LB}`, 'Content-Length: 5', `x-fulcrum-loop: ,${LOOP} `], 'hello')),
  passes(`TB-3: a forged bare id (X-Fulcrum-Loop: ${LB_ID}) is removed, not a loop`, req(GET, [H, `X-Fulcrum-Loop: ${LB_ID}`]), fwd(GET)),
  passes(
    'TB-3: forged elements (short mac, our marker lengthened, noise) are removed; marker-shaped ones kept across lines',
    req(GET, [H, `X-Fulcrum-Loop: ${LB_ID}.AAAA, ${LOOP}A`, 'Accept: */*', `X-Fulcrum-Loop: junk,, ${OTHER_LB}`]),
    fwd(GET, [H, 'Accept: */*'], '', { loop: `${OTHER_LB}, ${LOOP}` }),
  ),
  passes(
    'TB-3: our id with a mac that does not verify is no loop (it could be another deployment\'s): kept, ours appended',
    req(GET, [H, `X-Fulcrum-Loop: ${LOOP_FLIPPED}`]),
    fwd(GET, [H], '', { loop: `${LOOP_FLIPPED}, ${LOOP}` }),
  ),
  passes('TB-3: an empty X-Fulcrum-Loop gives way to our marker', req(GET, [H, 'X-Fulcrum-Loop: ']), fwd(GET)),
  passes('Content-Length body', req(POST, [H, 'Content-Length: 5'], 'hello'), fwd(POST, [H, 'Content-Length: 5'], 'hello')),
  passes('chunked body (with an extension and a trailer) passes as it is', req(POST, [H, TE], '5;ext="a;b"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n'), fwd(POST, [H, TE], '5;ext="a;b"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n')),
  passes('Transfer-Encoding in another case is re-emitted canonically', req(POST, ['Transfer-Encoding: ChUnKeD', H], CHUNKED_BODY), fwd(POST, [H, TE], CHUNKED_BODY)),
  passes('Transfer-Encoding with tab and space OWS is re-emitted canonically', req(POST, [H, 'Transfer-Encoding:\t chunked \t'], CHUNKED_BODY), fwd(POST, [H, TE], CHUNKED_BODY)),
  passes('Content-Length with leading zeros is re-emitted canonically', req(POST, [H, 'Content-Length: 005'], 'hello'), fwd(POST, [H, 'Content-Length: 5'], 'hello')),
  passes('Content-Length without a space after the colon is re-emitted canonically', req(POST, ['Content-Length:5', H], 'hello'), fwd(POST, [H, 'Content-Length: 5'], 'hello')),
  passes('absolute-form target agreeing with Host goes upstream in origin-form', req('GET http://h.test/p?q=1 HTTP/1.1', [H]), fwd('GET /p?q=1 HTTP/1.1')),
  passes('absolute-form with the default port and upper-case host agrees with Host', req('GET http://H.TEST:80/x HTTP/1.1', [H]), fwd('GET /x HTTP/1.1')),
  passes('absolute-form with a query but no path goes upstream as /?query', req('GET http://h.test?a=b HTTP/1.1', [H]), fwd('GET /?a=b HTTP/1.1')),
  passes(
    'HTTP/1.0 absolute-form without Host: Host is added from the target',
    req('GET http://h.test/old HTTP/1.0', ['User-Agent: t']),
    fwd('GET /old HTTP/1.0', ['User-Agent: t', H]),
    { closes: true },
  ),
  passes(
    'Upgrade: h2c is stripped with HTTP2-Settings; served as HTTP/1.1',
    req(GET, [H, 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAAQAAP__']),
    fwd(GET),
  ),
  passes('Upgrade: websocket on a POST is not a handshake: stripped', req(POST, [H, 'Connection: upgrade', 'Upgrade: websocket', 'Content-Length: 2'], 'hi'), fwd(POST, [H, 'Content-Length: 2'], 'hi')),
  passes('two Upgrade lines are not a handshake: stripped', req(GET, [H, 'Connection: upgrade', 'Upgrade: websocket', 'Upgrade: h2c', 'Sec-WebSocket-Version: 13']), fwd(GET, [H, 'Sec-WebSocket-Version: 13'])),
  passes('OPTIONS * is forwarded', req('OPTIONS * HTTP/1.1', [H]), fwd('OPTIONS * HTTP/1.1')),
  passes('empty lines before the request line are skipped', `\r\n\r\n${req(GET)}`, fwd(GET)),
  passes('an empty Host is allowed (RFC 9110 §7.2)', req(GET, ['Host:']), fwd(GET, ['Host:'])),
  passes('an IPv6-literal Host with a port', req(GET, ['Host: [::1]:8080']), fwd(GET, ['Host: [::1]:8080'])),
  passes('an unknown field with an underscore is forwarded', req(GET, [H, 'X_Custom: 1']), fwd(GET, [H, 'X_Custom: 1'])),
  passes('Connection: close from the client: upstream stays keep-alive, the client connection closes', req(GET, [H, 'Connection: close']), fwd(GET), { closes: true }),
  passes('100 field lines (the limit) pass', req(GET, [H, ...many(99)]), fwd(GET, [H, ...many(99)])),
  passes(
    'a head split across many writes is forwarded whole',
    ['GET /sp', 'lit HTTP/1.1\r', '\nHost: h.', 'test\r\nX-A: 1\r\n', '\r\n'],
    fwd('GET /split HTTP/1.1', [H, 'X-A: 1']),
    { gapMs: 15 },
  ),

  // ------------------------------------------------ CL + TE, and Transfer-Encoding obfuscations
  refused('Content-Length and Transfer-Encoding', 400, req(POST, [H, 'Content-Length: 5', TE], CHUNKED_BODY)),
  refused('Transfer-Encoding then Content-Length', 400, req(POST, [H, TE, 'Content-Length: 5'], CHUNKED_BODY)),
  refused('Content-Length: 0 with Transfer-Encoding', 400, req(POST, [H, 'Content-Length: 0', TE], CHUNKED_BODY)),
  refused('Transfer-Encoding: xchunked', 501, req(POST, [H, 'Transfer-Encoding: xchunked'], CHUNKED_BODY)),
  refused('Transfer-Encoding: chunk', 501, req(POST, [H, 'Transfer-Encoding: chunk'], CHUNKED_BODY)),
  refused('Transfer-Encoding: gzip, chunked', 501, req(POST, [H, 'Transfer-Encoding: gzip, chunked'], CHUNKED_BODY)),
  refused('Transfer-Encoding: identity, chunked', 501, req(POST, [H, 'Transfer-Encoding: identity, chunked'], CHUNKED_BODY)),
  refused('Transfer-Encoding: identity', 501, req(POST, [H, 'Transfer-Encoding: identity', 'Content-Length: 5'], 'hello')),
  refused('Transfer-Encoding: chunked, identity (chunked not last)', 400, req(POST, [H, 'Transfer-Encoding: chunked, identity'], CHUNKED_BODY)),
  refused('Transfer-Encoding: chunked, chunked', 400, req(POST, [H, 'Transfer-Encoding: chunked, chunked'], CHUNKED_BODY)),
  refused('Transfer-Encoding on two lines', 400, req(POST, [H, TE, TE], CHUNKED_BODY)),
  refused('Transfer-Encoding on two lines, gzip then chunked', 501, req(POST, [H, 'Transfer-Encoding: gzip', TE], CHUNKED_BODY)),
  refused('Transfer-Encoding with a parameter (chunked;q=1)', 400, req(POST, [H, 'Transfer-Encoding: chunked;q=1'], CHUNKED_BODY)),
  refused('Transfer-Encoding quoted ("chunked")', 400, req(POST, [H, 'Transfer-Encoding: "chunked"'], CHUNKED_BODY)),
  refused('Transfer-Encoding with a trailing comma', 400, req(POST, [H, 'Transfer-Encoding: chunked,'], CHUNKED_BODY)),
  refused('Transfer-Encoding with a leading comma', 400, req(POST, [H, 'Transfer-Encoding: ,chunked'], CHUNKED_BODY)),
  refused('empty Transfer-Encoding', 400, req(POST, [H, 'Transfer-Encoding:'], CHUNKED_BODY)),
  refused('Transfer-Encoding with a vertical tab before chunked', 400, req(POST, [H, 'Transfer-Encoding: \x0bchunked'], CHUNKED_BODY)),
  refused('Transfer-Encoding with a form feed after chunked', 400, req(POST, [H, 'Transfer-Encoding: chunked\x0c'], CHUNKED_BODY)),
  refused('Transfer-Encoding with an obs-text byte', 400, req(POST, [H, 'Transfer-Encoding: \xffchunked'], CHUNKED_BODY)),
  refused('space between Transfer-Encoding and the colon', 400, req(POST, [H, 'Transfer-Encoding : chunked'], CHUNKED_BODY)),
  refused('Transfer_Encoding with an underscore (CGI folds it into Transfer-Encoding)', 400, req(POST, [H, 'Transfer_Encoding: chunked', 'Content-Length: 5'], 'hello')),
  refused('Transfer-Encoding folded onto the next line (obs-fold)', 400, req(POST, [H, 'Transfer-Encoding:', ' chunked'], CHUNKED_BODY)),
  refused('Transfer-Encoding in an HTTP/1.0 request', 400, req('POST / HTTP/1.0', [H, TE], CHUNKED_BODY)),

  // ------------------------------------------------ Content-Length
  refused('Content-Length repeated with the same value', 400, req(POST, [H, 'Content-Length: 5', 'Content-Length: 5'], 'hello')),
  refused('Content-Length repeated with different values', 400, req(POST, [H, 'Content-Length: 5', 'Content-Length: 6'], 'hello!')),
  refused('Content-Length as a list (5, 5)', 400, req(POST, [H, 'Content-Length: 5, 5'], 'hello')),
  refused('signed Content-Length (+5)', 400, req(POST, [H, 'Content-Length: +5'], 'hello')),
  refused('negative Content-Length', 400, req(POST, [H, 'Content-Length: -1'], 'hello')),
  refused('hex Content-Length (0x5)', 400, req(POST, [H, 'Content-Length: 0x5'], 'hello')),
  refused('Content-Length with a trailing letter', 400, req(POST, [H, 'Content-Length: 5a'], 'hello')),
  refused('Content-Length with a decimal point', 400, req(POST, [H, 'Content-Length: 5.0'], 'hello')),
  refused('Content-Length with an inner space', 400, req(POST, [H, 'Content-Length: 1 0'], 'hello')),
  refused('empty Content-Length', 400, req(POST, [H, 'Content-Length:'], 'hello')),
  refused('Content-Length of 2^53 (over the safe integer range)', 400, req(POST, [H, 'Content-Length: 9007199254740992'], 'hello')),
  refused('Content-Length of 20 digits', 400, req(POST, [H, 'Content-Length: 18446744073709551621'], 'hello')),
  refused('X_Real_IP with underscores (CGI folds it into X-Real-IP)', 400, req(GET, [H, 'X_Real_IP: 203.0.113.1'])),
  refused('X_Forwarded_Host with underscores', 400, req(GET, [H, 'X_Forwarded_Host: evil.test'])),
  refused('SLB_ID with an underscore', 400, req(GET, [H, 'SLB_ID: alb-forged'])),
  refused('Content_Length with an underscore', 400, req(POST, [H, 'Content_Length: 5'], 'hello')),

  // ------------------------------------------------ line structure, bare CR / LF, NUL and control bytes
  refused('obs-fold (space)', 400, req(GET, [H, 'X-A: a', ' b'])),
  refused('obs-fold (tab)', 400, req(GET, [H, 'X-A: a', '\tb'])),
  refused('whitespace before the first field line', 400, req(GET, [' X-A: a', H])),
  refused('bare LF ending a field line', 400, `${GET}\r\n${H}\nX-A: 1\r\n\r\n`),
  refused('bare LF ending the request line', 400, `${GET}\n${H}\r\n\r\n`),
  refused('LF-only line ends throughout', 400, `${GET}\n${H}\n\n`),
  refused('bare CR inside a field value', 400, req(GET, [H, 'X-A: a\rb'])),
  refused('bare CR ending the request line', 400, `${GET}\r${H}\r\n\r\n`),
  refused('CR CR LF ending a field line', 400, `${GET}\r\n${H}\r\r\n\r\n`),
  refused('NUL in a field value', 400, req(GET, [H, 'X-A: a\x00b'])),
  refused('NUL in a field name', 400, req(GET, [H, 'X-\x00A: b'])),
  refused('NUL in the target', 400, req('GET /a\x00b HTTP/1.1', [H])),
  refused('NUL in the method', 400, req('G\x00T / HTTP/1.1', [H])),
  refused('control byte 0x01 in a field value', 400, req(GET, [H, 'X-A: a\x01b'])),
  refused('ESC in a field value', 400, req(GET, [H, 'X-A: \x1b[31m'])),
  refused('DEL in a field value', 400, req(GET, [H, 'X-A: a\x7fb'])),
  refused('field line without a colon', 400, req(GET, [H, 'X-A-no-colon'])),
  refused('empty field name', 400, req(GET, [H, ': value'])),
  refused('space inside a field name', 400, req(GET, [H, 'X A: b'])),
  refused('non-token byte in a field name', 400, req(GET, [H, 'X(A): b'])),
  refused('obs-text byte in a field name', 400, req(GET, [H, 'X-\xe9: b'])),

  // ------------------------------------------------ limits
  refused('101 field lines (one over the limit)', 431, req(GET, [H, ...many(100)])),
  refused('one field value of 17 KiB (head over 16 KiB)', 431, req(GET, [H, `X-Big: ${'a'.repeat(17 * 1024)}`])),
  {
    name: 'head over 16 KiB sent in many writes -> 431',
    send: [`${GET}\r\n${H}\r\n`, ...Array.from({ length: 5 }, (_, i) => `X-Part${i}: ${'b'.repeat(4000)}\r\n`), '\r\n'],
    gapMs: 10,
    expectStatus: 431,
    expectBackend: null,
  },
  refused('request line over 8 KiB', 414, req(`GET /${'p'.repeat(9000)} HTTP/1.1`, [H])),

  // ------------------------------------------------ methods and versions
  refused('CONNECT (we are not a forward proxy)', 501, req('CONNECT h.test:443 HTTP/1.1', [H])),
  refused('method with a non-token byte', 400, req('G@T / HTTP/1.1', [H])),
  refused('method followed by a tab', 400, req('GET\t/ HTTP/1.1', [H])),
  refused('two spaces between method and target', 400, req('GET  / HTTP/1.1', [H])),
  refused('request line starting with a space', 400, req(' GET / HTTP/1.1', [H])),
  refused('extra word after the version', 400, req('GET / HTTP/1.1 extra', [H])),
  refused('HTTP/0.9 request line (no version)', 400, 'GET /\r\n\r\n'),
  refused('lower-case version (http/1.1)', 400, req('GET / http/1.1', [H])),
  refused('version HTTP/1.10', 400, req('GET / HTTP/1.10', [H])),
  refused('HTTP/2.0 request line', 505, req('GET / HTTP/2.0', [H])),
  refused('HTTP/1.2', 505, req('GET / HTTP/1.2', [H])),
  refused('HTTP/2 connection preface (PRI * HTTP/2.0)', 505, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  refused('Expect other than 100-continue', 417, req(GET, [H, 'Expect: 200-ok'])),

  // ------------------------------------------------ targets and Host
  refused('fragment in the target', 400, req('GET /a#frag HTTP/1.1', [H])),
  refused('space in the target', 400, req('GET /a b HTTP/1.1', [H])),
  refused('relative target without a leading slash', 400, req('GET a/b HTTP/1.1', [H])),
  refused('asterisk target with GET', 400, req('GET * HTTP/1.1', [H])),
  refused('raw UTF-8 bytes in the target', 400, req('GET /caf\xc3\xa9 HTTP/1.1', [H])),
  refused('DEL in the target', 400, req('GET /a\x7f HTTP/1.1', [H])),
  refused('absolute-form whose host disagrees with Host', 400, req('GET http://evil.test/ HTTP/1.1', [H])),
  refused('absolute-form whose port disagrees with Host', 400, req('GET http://h.test:8080/ HTTP/1.1', [H])),
  refused('https absolute-form (port 443) against Host h.test:80', 400, req('GET https://h.test/ HTTP/1.1', ['Host: h.test:80'])),
  refused('absolute-form with userinfo', 400, req('GET http://user@h.test/ HTTP/1.1', [H])),
  refused('absolute-form hiding another host after @', 400, req('GET http://h.test@evil.test/ HTTP/1.1', [H])),
  refused('absolute-form with an empty authority', 400, req('GET http:///x HTTP/1.1', [H])),
  refused('absolute-form ftp:// target', 400, req('GET ftp://h.test/ HTTP/1.1', [H])),
  refused('absolute-form with port 99999', 400, req('GET http://h.test:99999/ HTTP/1.1', [H])),
  refused('duplicate Host', 400, req(GET, [H, 'Host: evil.test'])),
  refused('duplicate Host with the same value', 400, req(GET, [H, H])),
  refused('duplicate Host in another case', 400, req(GET, [H, 'hOsT: h.test'])),
  refused('missing Host in HTTP/1.1', 400, req(GET, ['Accept: */*'])),
  refused('Host as a list', 400, req(GET, ['Host: h.test, evil.test'])),
  refused('Host with userinfo', 400, req(GET, ['Host: user@h.test'])),
  refused('Host with a path', 400, req(GET, ['Host: h.test/evil'])),
  refused('Host with a non-numeric port', 400, req(GET, ['Host: h.test:abc'])),
  refused('Host with a space inside', 400, req(GET, ['Host: h test'])),
  refused('space between Host and the colon', 400, req(GET, ['Host : h.test'])),

  // ------------------------------------------------ Connection nominating protected fields
  refused('Connection naming X-Forwarded-For', 400, req(GET, [H, 'Connection: X-Forwarded-For', 'X-Forwarded-For: 1.1.1.1'])),
  refused('Connection naming Host', 400, req(GET, [H, 'Connection: close, Host'])),
  refused('Connection naming Content-Length', 400, req(POST, [H, 'Connection: Content-Length', 'Content-Length: 5'], 'hello')),
  refused('Connection naming Transfer-Encoding', 400, req(POST, [H, 'Connection: transfer-encoding', TE], CHUNKED_BODY)),
  refused('Connection naming X-Forwarded-Proto', 400, req(GET, [H, 'Connection: keep-alive, x-forwarded-proto'])),
  refused('Connection naming X-Real-IP', 400, req(GET, [H, 'Connection: X-Real-IP'])),
  refused('Connection naming Forwarded', 400, req(GET, [H, 'Connection: Forwarded'])),
  refused('Connection naming X-Forwarded-Host', 400, req(GET, [H, 'Connection: X-Forwarded-Host'])),
  refused('Connection naming X-Forwarded-Client-srcport', 400, req(GET, [H, 'Connection: x-forwarded-client-srcport'])),
  refused('Connection naming SLB-ID', 400, req(GET, [H, 'Connection: SLB-ID'])),
  refused('Connection naming X-Fulcrum-Loop', 400, req(GET, [H, 'Connection: x-fulcrum-loop'])),
  refused('Connection with a quoted member', 400, req(GET, [H, 'Connection: "close"'])),

  // ------------------------------------------------ chunk framing
  refused('chunk size with trailing junk (5x)', 400, req(POST, [H, TE], '5x\r\nhello\r\n0\r\n\r\n')),
  refused('negative chunk size', 400, req(POST, [H, TE], '-5\r\nhello\r\n0\r\n\r\n')),
  refused('chunk size with a 0x prefix', 400, req(POST, [H, TE], '0x5\r\nhello\r\n0\r\n\r\n')),
  refused('chunk size with a plus sign', 400, req(POST, [H, TE], '+5\r\nhello\r\n0\r\n\r\n')),
  refused('chunk size with a leading space', 400, req(POST, [H, TE], ' 5\r\nhello\r\n0\r\n\r\n')),
  refused('chunk size with trailing whitespace and no extension', 400, req(POST, [H, TE], '5 \r\nhello\r\n0\r\n\r\n')),
  refused('empty chunk-size line', 400, req(POST, [H, TE], '\r\nhello\r\n0\r\n\r\n')),
  refused('chunk size of 17 hex digits', 400, req(POST, [H, TE], '00000000000000005\r\nhello\r\n0\r\n\r\n')),
  refused('chunk size over 2^53', 400, req(POST, [H, TE], '20000000000000\r\nhello\r\n0\r\n\r\n')),
  refused('chunk size overflowing 64 bits to 5', 400, req(POST, [H, TE], '10000000000000005\r\nhello\r\n0\r\n\r\n')),
  refused('chunk-size line ended by a bare LF', 400, req(POST, [H, TE], '5\nhello\r\n0\r\n\r\n')),
  refused('chunk data not followed by CRLF', 400, req(POST, [H, TE], '5\r\nhelloXX0\r\n\r\n')),
  refused('chunk data longer than its size', 400, req(POST, [H, TE], '3\r\nhello\r\n0\r\n\r\n')),
  refused('chunk extension with a control byte', 400, req(POST, [H, TE], '5;a\x01\r\nhello\r\n0\r\n\r\n')),
  refused('chunk extension with junk after its value', 400, req(POST, [H, TE], '5;a=b c\r\nhello\r\n0\r\n\r\n')),
  refused('chunk extension with a bare LF inside', 400, req(POST, [H, TE], '5;a\nb\r\nhello\r\n0\r\n\r\n')),
  refused('one chunk extension of 5000 bytes', 400, req(POST, [H, TE], `5;a=${'x'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`)),
  refused('many small chunk extensions over 4 KiB', 400, req(POST, [H, TE], `5${';e=1'.repeat(1100)}\r\nhello\r\n0\r\n\r\n`)),
  refused('Content-Length in the trailer section', 400, req(POST, [H, TE], '5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n')),
  refused('Host in the trailer section', 400, req(POST, [H, TE], '5\r\nhello\r\n0\r\nHost: evil.test\r\n\r\n')),
  refused('obs-fold in the trailer section', 400, req(POST, [H, TE], '5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n')),
  {
    name: 'junk chunk size after the head went upstream -> 400, the backend never gets a whole request',
    send: [req(POST, [H, TE], '5\r\nhello\r\n'), 'zz\r\n0\r\n\r\n'],
    gapMs: 50,
    expectStatus: 400,
    expectBackend: (b) => {
      assert.equal(b.requests.length, 0, 'no complete request reached the backend');
      assert.ok(b.text.startsWith('POST / HTTP/1.1\r\n'), 'the head had gone upstream');
      assert.ok(!b.text.includes('zz'), 'the junk never went upstream');
      assert.ok(b.closedByPeer.has(1), 'the upstream connection was closed');
    },
  },

  // ------------------------------------------------ request smuggling end to end
  refused('CL.TE: Content-Length covers a chunked body hiding a second request', 400, req(POST, [H, `Content-Length: ${5 + SMUGGLED.length}`, TE], `0\r\n\r\n${SMUGGLED}`)),
  refused('TE.CL: chunked body hiding a second request behind a short Content-Length', 400, req(POST, [H, 'Content-Length: 4', TE], `${(SMUGGLED.length).toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`)),
  refused('TE.TE: a second, garbled Transfer-Encoding line', 400, req(POST, [H, TE, 'Transfer-encoding: x'], `0\r\n\r\n${SMUGGLED}`)),
  refused('TE.TE: Transfer-Encoding with a trailing tab-and-junk', 400, req(POST, [H, 'Content-Length: 4', 'Transfer-Encoding: chunked\t,x'], `0\r\n\r\n${SMUGGLED}`)),
  refused('CL.CL: two Content-Lengths disagreeing about where the body ends', 400, req(POST, [H, 'Content-Length: 0', `Content-Length: ${SMUGGLED.length}`], SMUGGLED)),
  refused('a terminating 0-chunk followed by a request in place of the trailer', 400, req(POST, [H, TE], `0\r\n${SMUGGLED}`)),
  {
    name: 'a request inside a well-framed chunked body stays body: the backend gets one request -> 200',
    send: req(POST, [H, TE], `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    expectStatus: 200,
    expectBackend: fwd(POST, [H, TE], `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    check: (_rs, b) => onlyRequests('POST / HTTP/1.1')(b),
  },
  {
    name: 'pipelined: good, bad (duplicate Host), good -> 200 then 400; the third is never processed',
    send: req('GET /one HTTP/1.1') + req('GET /two HTTP/1.1', [H, 'Host: evil.test']) + req('GET /three HTTP/1.1'),
    expectStatus: [200, 400],
    expectBackend: fwd('GET /one HTTP/1.1'),
  },
  {
    name: 'pipelined: bad (CL.TE) then good -> 400 only; nothing reaches the backend',
    send: req(POST, [H, 'Content-Length: 5', TE], CHUNKED_BODY) + req('GET /next HTTP/1.1'),
    expectStatus: 400,
    expectBackend: null,
  },
  {
    name: 'pipelined: a Content-Length body then a second request -> 200, 200 (both well framed)',
    send: req(POST, [H, 'Content-Length: 5'], 'hello') + req('GET /second HTTP/1.1'),
    expectStatus: [200, 200],
    expectBackend: fwd(POST, [H, 'Content-Length: 5'], 'hello') + fwd('GET /second HTTP/1.1'),
  },
];
