import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import puppeteer, { type Browser } from 'puppeteer-core';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ok } from '../helpers/admin-client.js';
import { runFulcrum } from '../helpers/fulcrum-process.js';
import { exchange, type RawResponse } from '../integration/dp-helpers.js';

/**
 * Shared by the trust-boundary tests of the admin API (issue 13): exact requests over raw
 * sockets (the Host header included or left out), the VPCs a node holds, its audit lines,
 * and a real headless Chromium.
 */

export interface Answer {
  status: number;
  /** The ALB-style error code, when the reply is one. */
  code?: string;
  res: RawResponse;
}

/**
 * One request with exactly these field lines over a fresh connection: no Host unless
 * `fields` has one, and a Content-Length whenever there is a body or the method is POST.
 */
export async function rawRequest(port: number, method: string, path: string, fields: string[], body = '', version = 'HTTP/1.1'): Promise<Answer> {
  const length = body !== '' || method === 'POST' ? [`Content-Length: ${Buffer.byteLength(body)}`] : [];
  const head = [`${method} ${path} ${version}`, ...fields, ...length, 'Connection: close'].join('\r\n');
  const [res] = await exchange(port, `${head}\r\n\r\n${body}`, { timeoutMs: 10_000 });
  let code: string | undefined;
  try {
    const parsed = JSON.parse(res!.body.toString('utf8')) as { Code?: unknown };
    if (typeof parsed.Code === 'string') code = parsed.Code;
  } catch {
    // not JSON: the console page, /metrics
  }
  return { status: res!.status, code, res: res! };
}

/** A JSON `POST /api/<action>` with these extra field lines and Host `127.0.0.1:port` unless given. */
export function apiRequest(port: number, action: string, body: unknown, fields: string[] = []): Promise<Answer> {
  const host = fields.some((f) => /^host:/i.test(f)) ? [] : [`Host: 127.0.0.1:${port}`];
  const ct = fields.some((f) => /^content-type:/i.test(f)) ? [] : ['Content-Type: application/json'];
  return rawRequest(port, 'POST', `/api/${action}`, [...host, ...ct, ...fields], JSON.stringify(body));
}

export function assertRefused(a: Answer, status: number, code: string, what: string): void {
  assert.equal(a.status, status, `${what}: ${a.status} ${a.res.body.toString('utf8').slice(0, 300)}`);
  assert.equal(a.code, code, what);
}

export async function vpcNames(endpoint: string, opts: { token?: string } = {}): Promise<string[]> {
  const r = await ok(endpoint, 'ListVpcs', { MaxResults: 100 }, opts);
  return (r.Vpcs as { VpcName: string }[]).map((v) => v.VpcName).sort();
}

/** The JSON lines of a text (a node's stdout, an --audit-log file), skipping anything else. */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line still being written
    }
  }
  return out;
}

/** The audit lines among them: marked `"log":"audit"`. */
export function auditLines(text: string): Record<string, unknown>[] {
  return jsonLines(text).filter((l) => l.log === 'audit');
}

/** Debian's chromium (`.ci/run` installs it); puppeteer-core never downloads a browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(args: string[] = []): Promise<Browser> {
  // --no-sandbox: CI and the developer machines run as root, where Chromium's sandbox refuses to start.
  return puppeteer.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox', '--disable-gpu', ...args] });
}

/** The attacker's web server: one page on another port of 127.0.0.1 (another origin, same site). */
export class AttackerSite {
  private constructor(private readonly server: Server, readonly url: string) {}

  static async serve(page: () => string): Promise<AttackerSite> {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return new AttackerSite(server, `http://127.0.0.1:${(server.address() as { port: number }).port}/`);
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/**
 * `fulcrum start --<option> FILE` with each file text: a usage error (exit 2) whose message
 * matches and names the file, and never shows `secret`.
 */
export async function assertStartRefusesFile(dir: string, option: string, cases: [string, RegExp][], secret: string): Promise<void> {
  for (const [i, [text, why]] of cases.entries()) {
    const f = join(dir, `bad-${option}-${i}`);
    await writeFile(f, text);
    const r = await runFulcrum(['start', '--data-dir', join(dir, `d-${option}-${i}`), '--admin-port', '0', '--workers', '1', `--${option}`, f]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, why);
    assert.ok(r.stderr.includes(f), 'the message names the file');
    assert.ok(!r.stderr.includes(secret), 'the error names the line, not the secret');
  }
}
