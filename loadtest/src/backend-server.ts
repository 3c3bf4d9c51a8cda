/**
 * The bench backend, run as its own process so its CPU is never charged to a proxy:
 * answers every request head with the same small body, keep-alive, never closing.
 *
 *   node backend-server.js <port> <body bytes>
 *
 * It works on raw sockets instead of node:http because a backend that costs 20+ µs a
 * request would take CPU from the proxy under test on a small machine. It only serves
 * what the bench sends: GET without a body, so each blank line ending a head is one
 * request (pipelined heads in one read get their answers in one write).
 */
import { createServer } from 'node:net';

const CR = 13;
const LF = 10;

/** How many head terminators (CRLFCRLF) `chunk` completes, given the last bytes seen before it. */
function countHeads(chunk: Buffer, state: { tail: number }): number {
  // tail: how many bytes of "\r\n\r\n" the previous chunk ended with (0..3).
  let matched = state.tail;
  let n = 0;
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i];
    if (b === (matched % 2 === 0 ? CR : LF)) {
      matched++;
      if (matched === 4) {
        n++;
        matched = 0;
      }
    } else {
      matched = b === CR ? 1 : 0;
    }
  }
  state.tail = matched;
  return n;
}

function main(): void {
  const port = Number(process.argv[2] ?? 0);
  const bodyBytes = Math.max(1, Number(process.argv[3] ?? 100));
  const body = 'fulcrum-bench '.padEnd(bodyBytes - 1, '.').slice(0, bodyBytes - 1) + '\n';
  const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${bodyBytes}\r\n\r\n${body}`, 'latin1');
  // The gzip scenario (GZ-1) asks for /json: 10 KB of JSON, which proxies compress.
  const json = JSON.stringify(Array.from({ length: 110 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['alpha', 'beta'], price: i * 1.25, ok: i % 2 === 0 })));
  const JSON_RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`, 'utf8');
  const server = createServer({ noDelay: true }, (socket) => {
    const state = { tail: 0 };
    socket.on('data', (chunk: Buffer) => {
      const n = countHeads(chunk, state);
      // The bench never pipelines /json: one head in the read says which body it wants.
      const r = n === 1 && chunk.includes(' /json ') ? JSON_RESPONSE : RESPONSE;
      if (n === 1) socket.write(r);
      else if (n > 1) socket.write(Buffer.concat(new Array<Buffer>(n).fill(RESPONSE)));
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(port, '127.0.0.1');
  // The bench holds an IPC channel: when it dies, so does the backend.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

main();
