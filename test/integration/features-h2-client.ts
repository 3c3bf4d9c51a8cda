import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A small HTTP/2 client for the features-* tests: the same routing features must hold for
 * h2 streams on an HTTPS listener as for HTTP/1.1 requests. Loopback only (T-1).
 */

export interface Cert {
  cert: string;
  key: string;
}

/** A self-signed P-256 certificate for `name` (openssl, in a temp dir removed at once). */
export function selfSigned(name: string): Cert {
  const dir = mkdtempSync(join(tmpdir(), `fulcrum-features-cert-${process.pid}-`));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders | undefined;
}

export function h2session(port: number, servername = 'example.test'): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One request on a session (GET unless a body is given); the whole reply, trailers included. */
export function h2request(s: ClientHttp2Session, path: string, headers: OutgoingHttpHeaders = {}, body?: Buffer | string, method?: string): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const req = s.request({ ':method': method ?? (body === undefined ? 'GET' : 'POST'), ':path': path, ':authority': 'example.test', ...headers }, { endStream: body === undefined });
    let status = 0;
    let rh: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      rh = h;
      status = Number(h[':status']);
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, headers: rh, body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

/** One GET stream on a session; the whole reply. */
export function h2get(s: ClientHttp2Session, path: string, headers: OutgoingHttpHeaders = {}): Promise<H2Reply> {
  return h2request(s, path, headers);
}
