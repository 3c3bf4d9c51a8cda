import assert from 'node:assert/strict';
import { selfSigned } from '../integration/features-h2-client.js';
import { FulcrumNode, forward, freePort } from '../integration/dp-helpers.js';
import { RecordingBackend } from './conf-helpers.js';
import { FRAME_CASES } from './h2-frame-cases.js';
import { HEADER_CASES } from './h2-header-cases.js';
import { ABUSE_CASES } from './h2-abuse-cases.js';
import { POSITIVE_CASES } from './h2-positive-cases.js';
import { runH2Case, type Ctx, type H2Case } from './h2-runner.js';
import { HpackDecoder, huffmanDecode, huffmanEncode, rep } from './h2-hpack.js';

/**
 * The hostile HTTP/2 conformance suite (issue 12 item 4): raw frames over TLS (ALPN h2) through
 * one real `fulcrum start` node (one worker) to an HTTP/1.1 backend that records every byte.
 * Each case asserts the GOAWAY / RST_STREAM code or the status the client gets (the H2C rules
 * in docs/behaviour.md) and what the backend received.
 *
 * Playing a case: a fresh connection (preface, SETTINGS exchanged), the case's frames, the
 * outcome, then the backend check; after a stream error one more request on the same
 * connection must still get 200.
 *
 * On the node:http2 front end (main at e9f3bb5, before our own codec of issue 12 item 3),
 * measured 2026-12-06: of the 125 cases 94 pass and 31 fail (the suite's two self-checks pass).
 * The failures are where node:http2 (nghttp2) differs from the contract; the new codec must pass
 * them all:
 *  - H2C-1 wrong preface, and an HTTP/1.1 request on h2: GOAWAY INTERNAL_ERROR, not PROTOCOL_ERROR.
 *  - H2C-2 PRIORITY of 4 bytes: GOAWAY FRAME_SIZE_ERROR instead of RST_STREAM.
 *  - H2C-4 DATA on a half-closed stream: GOAWAY STREAM_CLOSED instead of RST_STREAM; DATA after
 *    the client's RST_STREAM or after the exchange ended: ignored; a lower or reused stream id:
 *    ignored (no GOAWAY); HEADERS depending on itself: GOAWAY instead of RST_STREAM; PRIORITY
 *    depending on itself and PRIORITY on stream 0: ignored.
 *  - H2C-5 values with NUL, CR LF, leading or trailing whitespace: the field is dropped and the
 *    rest forwarded with 200 (no injection reached the backend), not RST_STREAM; content-length
 *    below the DATA sum (in one DATA frame or at the second): GOAWAY INTERNAL_ERROR.
 *  - H2C-6 the server SETTINGS carry no MAX_CONCURRENT_STREAMS; an unsolicited PING ACK from the
 *    client gets GOAWAY INTERNAL_ERROR.
 *  - H2C-9 CONTINUATION flood: RST_STREAM ENHANCE_YOUR_CALM then GOAWAY INTERNAL_ERROR; the
 *    SETTINGS flood, the empty-DATA flood and 10,050 empty CONTINUATIONs: GOAWAY INTERNAL_ERROR;
 *    rapid reset (150 streams) and the PING flood (1100, all answered): no GOAWAY at all.
 *  - H2C-10 a 20 KB header list and the HPACK bomb are forwarded (node's limit is 64 KB); the
 *    101st concurrent stream is not refused (no limit announced).
 *  - H2C-11 stream WINDOW_UPDATE overflow and increment 0: GOAWAY instead of RST_STREAM; DATA
 *    beyond 65535 bytes: accepted (node grants a 1 MiB stream window, h2/windows.ts).
 * Everything else passes there too: frame-size GOAWAYs, idle-stream and stream-0 rules, every
 * HPACK decoding error, header-block framing, the other request-validity cases, SETTINGS values,
 * connection WINDOW_UPDATE overflow and 0, the zero-window stall, idle timeout, the positive cases.
 */

/** The short IdleTimeout of the second listener (ALB's default is 15 s). */
const IDLE_TIMEOUT_S = 1;

const TABLES: Array<[string, H2Case[]]> = [
  ['frames and stream states', FRAME_CASES],
  ['header blocks and request validity', HEADER_CASES],
  ['floods, limits and flow control', ABUSE_CASES],
  ['well-behaved clients and idle connections', POSITIVE_CASES],
];

describe('conformance: hostile HTTP/2 through a real node', function () {
  this.timeout(30_000);
  let node: FulcrumNode;
  let backend: RecordingBackend;
  const ctx = {} as Ctx;

  before(async function () {
    this.timeout(60_000);
    backend = await RecordingBackend.start();
    node = await FulcrumNode.start({ workers: 1 });
    const cert = selfSigned('example.test');
    const certId = String((await node.write('UploadServerCertificate', { CertificateName: 'h2c', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
    const g = await node.createGroup('h2-conformance', {}, false);
    await node.addServers(g, [{ port: backend.port }], false);
    const port = await freePort();
    await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: port, Http2Enabled: true,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(g)],
    });
    const idlePort = await freePort();
    await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: idlePort, Http2Enabled: true, IdleTimeout: IDLE_TIMEOUT_S,
      Certificates: [{ CertificateId: certId }], DefaultActions: [forward(g)],
    });
    Object.assign(ctx, { port, idlePort, backend });
  });

  after(async () => {
    await node?.stop();
    await backend?.close();
  });

  it('the tables hold at least 60 HTTP/2 cases with unique names', () => {
    const all = TABLES.flatMap(([, t]) => t);
    assert.ok(all.length >= 60, `${all.length} cases`);
    assert.equal(new Set(all.map((k) => k.name)).size, all.length, 'case names are unique');
  });

  it("the client's own HPACK reproduces RFC 7541 Appendix C (so a failing case is the proxy's, not the client's)", () => {
    // C.4.1: a request with Huffman-coded literals.
    const c41 = Buffer.concat([rep.indexed(2), rep.indexed(6), rep.indexed(4), rep.literal('', 'www.example.com', { indexing: 'incremental', nameIndex: 1, huffman: true })]);
    assert.equal(c41.toString('hex'), '828684418cf1e3c2e5f23a6ba0ab90f4ff');
    assert.equal(huffmanEncode('custom-value').toString('hex'), '25a849e95bb8e8b4bf');
    // C.6.1 and C.6.2: responses, the second one made of the first one's dynamic table entries.
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(Buffer.from('488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3', 'hex')), [
      [':status', '302'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com'],
    ]);
    assert.deepEqual(d.decode(Buffer.from('4883640effc1c0bf', 'hex')), [
      [':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com'],
    ]);
    assert.throws(() => huffmanDecode(Buffer.from([0x18])), /padding/, 'the decoder refuses what the cases send as bad padding');
  });

  for (const [title, table] of TABLES) {
    describe(title, () => {
      for (const k of table) {
        it(k.name, async function () {
          if (k.timeoutMs) this.timeout(k.timeoutMs);
          await runH2Case(k, ctx);
        });
      }
    });
  }
});
