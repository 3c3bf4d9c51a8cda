import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { HealthCheckConfig } from '@fulcrum/model';
import type { ProbeOptions, ProbeResult, ProbeTarget } from './probe-result.js';
import { ProbeAttempt, planProbe, refusedResult } from './probe-attempt.js';
import { httpStatusMatches } from './codes.js';

/** A status line longer than this, or interim responses adding up past it, is not HTTP we accept. */
const MAX_HEAD_BYTES = 16 * 1024;
const USER_AGENT = 'fulcrum-health-check';
const UNSAFE = /[\s\x00-\x1f\x7f]/;

/**
 * HC-1 HTTP and HTTPS checks. Each probe opens its own socket and closes it after the
 * status line (HC-3: no agent, no reuse), writes the request itself so HTTP/1.0 is really
 * 1.0, and judges only the final status line against HealthCheckCodes. HTTPS does not
 * verify the backend's certificate (backends use self-signed ones, as with ALB) and sends
 * SNI when the host is a name.
 *
 *   connect ──(HTTPS: TLS handshake)──> write request ──> status line ──> verdict
 *   timeout:  CONNECT_TIMEOUT          TLS_HANDSHAKE_FAILED            RECV_RESPONSE_TIMEOUT
 */
export function httpProbe(target: ProbeTarget, cfg: HealthCheckConfig, opts?: ProbeOptions): Promise<ProbeResult> {
  const refused = refusedResult(target.ip);
  if (refused) return Promise.resolve(refused);
  const plan = planProbe(target, cfg, opts);
  if (UNSAFE.test(plan.host) || UNSAFE.test(cfg.HealthCheckPath) || !cfg.HealthCheckPath.startsWith('/')) {
    return Promise.resolve({ ok: false, reason: 'PROBE_ERROR', detail: 'health check host or path holds characters a request line cannot carry', latencyMs: 0 });
  }
  const tls = cfg.HealthCheckProtocol === 'HTTPS';
  const where = `${plan.ip}:${plan.port}`;
  let phase: 'connect' | 'tls' | 'response' = 'connect';
  const attempt = new ProbeAttempt(plan.timeoutMs, opts?.signal, () => {
    if (phase === 'connect') return ['CONNECT_TIMEOUT', `no connection to ${where} within ${plan.timeoutMs} ms`];
    if (phase === 'tls') return ['TLS_HANDSHAKE_FAILED', `TLS handshake with ${where} did not finish within ${plan.timeoutMs} ms`];
    return ['RECV_RESPONSE_TIMEOUT', `no response from ${where} within ${plan.timeoutMs} ms`];
  });

  let raw: Socket;
  try {
    raw = connect({ host: plan.ip, port: plan.port });
  } catch (e) {
    attempt.fail('PROBE_ERROR', `cannot connect to ${where}: ${(e as Error).message}`);
    return attempt.result;
  }
  attempt.onCleanup(() => raw.destroy());
  raw.on('error', (e: NodeJS.ErrnoException) => {
    if (phase === 'connect') attempt.fail('CONNECT_FAILED', `connect ${where}: ${e.code ?? e.message}`);
  });
  raw.once('connect', () => {
    if (attempt.settled) return;
    if (!tls) {
      phase = 'response';
      exchange(raw);
      return;
    }
    phase = 'tls';
    const secure = tlsConnect({
      socket: raw,
      // Backends present self-signed certificates (as ALB tolerates): the check is liveness, not identity.
      rejectUnauthorized: false,
      servername: isIP(plan.host) === 0 ? plan.host : undefined,
      ALPNProtocols: ['http/1.1'],
    });
    attempt.onCleanup(() => secure.destroy());
    secure.on('error', (e: NodeJS.ErrnoException) => {
      if (phase === 'tls') attempt.fail('TLS_HANDSHAKE_FAILED', `TLS with ${where}: ${e.code ?? e.message}`);
    });
    secure.once('secureConnect', () => {
      phase = 'response';
      exchange(secure);
    });
  });

  function exchange(sock: Socket): void {
    let head: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      if (attempt.settled) return;
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const r = readFinalStatus(head);
      if (r === 'more') {
        if (head.length > MAX_HEAD_BYTES) attempt.fail('RESPONSE_FORMAT_ERROR', `no status line in the first ${MAX_HEAD_BYTES} bytes from ${where}`);
        return;
      }
      if (typeof r === 'string') {
        attempt.fail('RESPONSE_FORMAT_ERROR', `${where} answered ${r}`);
        return;
      }
      if (httpStatusMatches(r, cfg.HealthCheckCodes)) attempt.ok(`${where} answered ${r}`);
      else attempt.fail('RESPONSE_MISMATCH', `${where} answered ${r}, expected ${cfg.HealthCheckCodes.join(' or ')}`);
    });
    const closedEarly = (why: string) => () => {
      if (!attempt.settled) attempt.fail('RESPONSE_FORMAT_ERROR', `${where} ${why} before a complete status line (${head.length} bytes)`);
    };
    sock.once('end', closedEarly('closed the connection'));
    sock.once('close', closedEarly('closed the connection'));
    sock.on('error', (e: NodeJS.ErrnoException) => closedEarly(`failed (${e.code ?? e.message})`)());
    sock.write(requestHead(cfg, plan.host));
  }

  return attempt.result;
}

export function requestHead(cfg: HealthCheckConfig, host: string): string {
  const version = cfg.HealthCheckHttpVersion === 'HTTP1.0' ? '1.0' : '1.1';
  const hostHeader = isIP(host) === 6 ? `[${host}]` : host;
  return `${cfg.HealthCheckMethod} ${cfg.HealthCheckPath} HTTP/${version}\r\n` +
    `Host: ${hostHeader}\r\n` +
    `User-Agent: ${USER_AGENT}\r\n` +
    'Accept: */*\r\n' +
    'Connection: close\r\n' +
    (cfg.HealthCheckMethod === 'POST' ? 'Content-Length: 0\r\n' : '') +
    '\r\n';
}

const STATUS_LINE = /^HTTP\/1\.[01] ([1-9][0-9]{2})(?: [^\r\n]*)?$/;

/**
 * The status of the final response in `buf`, skipping interim 1xx responses (except 101,
 * which is final). 'more': not enough bytes yet. A string: what was wrong with the line.
 */
export function readFinalStatus(buf: Buffer): number | 'more' | string {
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\n', at);
    if (eol === -1) {
      return looksLikeHttpPrefix(buf.subarray(at)) ? 'more' : `something that is not HTTP (${quote(buf.subarray(at))})`;
    }
    const line = buf.toString('latin1', at, eol > at && buf[eol - 1] === 0x0d ? eol - 1 : eol);
    const m = STATUS_LINE.exec(line);
    if (!m) return `a malformed status line (${quote(Buffer.from(line, 'latin1'))})`;
    const status = Number(m[1]);
    if (status >= 200 || status === 101) return status;
    const end = buf.indexOf('\r\n\r\n', at);
    if (end === -1) return 'more';
    at = end + 4;
    if (at >= buf.length) return 'more';
  }
}

function looksLikeHttpPrefix(b: Buffer): boolean {
  const want = 'HTTP/1.';
  const n = Math.min(b.length, want.length);
  return b.toString('latin1', 0, n) === want.slice(0, n);
}

function quote(b: Buffer): string {
  return JSON.stringify(b.toString('latin1', 0, Math.min(b.length, 40)));
}
