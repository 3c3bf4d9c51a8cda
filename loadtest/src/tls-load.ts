/**
 * A load generator for new TLS connections: each of C loops opens a TLS connection, sends
 * one `GET / HTTP/1.1` with `Connection: close`, reads the answer to its end and starts
 * over, for D seconds. With `resume`, every connection offers the session (TLS 1.3 ticket)
 * its loop got last, so the server can skip the certificate and its signature; without,
 * every handshake is a full one. wrk cannot tell us which of the two it does (it keeps
 * its SSL object across reconnects), hence this one.
 *
 * Runs as a child of the bench (its CPU lands in the bench's cutime, like wrk's) and
 * prints one JSON line: requests answered 2xx, errors, elapsed seconds, p50/p99 in ms,
 * and how many handshakes were resumptions.
 *
 *   node tls-load.js <port> <connections> <seconds> <resume|new> [groups]
 *
 * groups: the key exchange groups offered (OpenSSL list; 'default' or absent: the client's own).
 */
import { connect, type TLSSocket } from 'node:tls';
import * as hdr from 'hdr-histogram-js';

const [portArg, connArg, secondsArg, mode, groupsArg] = process.argv.slice(2);
const groups = groupsArg && groupsArg !== 'default' ? { ecdhCurve: groupsArg } : {};
const port = Number(portArg);
const connections = Number(connArg);
const durationMs = Number(secondsArg) * 1000;
const resume = mode === 'resume';
if (!port || !connections || !durationMs || (mode !== 'resume' && mode !== 'new')) {
  process.stderr.write('usage: tls-load.js <port> <connections> <seconds> <resume|new> [groups]\n');
  process.exit(2);
}

const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n');
const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
let ok = 0;
let non2xx = 0;
let errors = 0;
let resumed = 0;
/** The key exchange group of the first full handshake (what the server chose). */
let group = '';
const started = Date.now();
const until = started + durationMs;

function one(session: Buffer | undefined): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let head = '';
    let next = session;
    const s: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'bench.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], session: resume ? session : undefined, ...groups });
    s.on('session', (sess: Buffer) => { next = sess; });
    s.once('secureConnect', () => {
      if (s.isSessionReused()) resumed++;
      else if (group === '') group = (s.getEphemeralKeyInfo() as { name?: string } | null)?.name ?? '';
      s.write(REQUEST);
    });
    s.on('data', (c: Buffer) => {
      if (head.length < 16) head += c.toString('latin1', 0, Math.min(c.length, 16));
    });
    let done = false;
    const finish = (failed: boolean) => {
      if (done) return;
      done = true;
      if (failed) errors++;
      else if (/^HTTP\/1\.1 2\d\d/.test(head)) {
        ok++;
        hist.recordValue(Math.max(1, Number((process.hrtime.bigint() - t0) / 1000n)));
      } else non2xx++;
      resolve(next);
    };
    s.once('end', () => finish(false));
    s.once('error', () => {
      s.destroy();
      finish(true);
    });
  });
}

async function loop(): Promise<void> {
  let session: Buffer | undefined;
  while (Date.now() < until) session = await one(session);
}

await Promise.all(Array.from({ length: connections }, loop));
const elapsedS = (Date.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({
  ok, non2xx, errors, resumed, group, elapsedS, p50Ms: hist.getValueAtPercentile(50) / 1000, p99Ms: hist.getValueAtPercentile(99) / 1000,
})}\n`);
process.exit(0);
