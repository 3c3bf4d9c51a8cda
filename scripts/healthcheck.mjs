#!/usr/bin/env node
// Container health checks for docker-compose.yml; the slim image has no curl or redis-cli.
// Exit status 0 when healthy, 1 when not (a reason on stderr), 2 on a usage error.
//
//   healthcheck.mjs admin [URL] [--token-file F]
//       GET URL/metrics (default http://127.0.0.1:9090) with the admin bearer token. It is
//       answered from the node's own view and its workers, not from Redis, so a node that
//       serves through a Redis outage (D-3) stays healthy.
//   healthcheck.mjs http URL…
//       Every URL answers 2xx (the demo backends).
//   healthcheck.mjs sentinel HOST:PORT,… NAME [--password-file F]
//       Some Sentinel names the current master of NAME: what a prober needs to work.
//   healthcheck.mjs redis URL [--user NAME] [--password-file F] [--ca-file F]
//       Redis at URL (rediss:// verifies it against the CA file) answers PING as that user.
// Passwords come from files, as Fulcrum reads them: never from argv.
import { readFileSync } from 'node:fs';
import { createConnection, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
// The node's own reader: its token file may list several tokens (rotation); send the first.
import { clientTokenFromFile } from '@fulcrum/control-api/admin-tokens';

const TIMEOUT_MS = 3_000;

function unhealthy(msg) {
  process.stderr.write(`unhealthy: ${msg}\n`);
  process.exit(1);
}

function usage(msg) {
  process.stderr.write(`healthcheck: ${msg}\nusage: healthcheck.mjs admin [URL] [--token-file F] | http URL… | ` +
    'sentinel HOST:PORT,… NAME [--password-file F] | redis URL [--user NAME] [--password-file F] [--ca-file F]\n');
  process.exit(2);
}

async function get(url, headers = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  await res.arrayBuffer();
  return res.status;
}

async function admin(args) {
  let base = 'http://127.0.0.1:9090';
  let tokenFile;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--token-file') tokenFile = args[++i];
    else if (args[i].startsWith('http')) base = args[i];
    else usage(`unexpected argument "${args[i]}"`);
  }
  const headers = {};
  if (tokenFile) headers.authorization = `Bearer ${clientTokenFromFile(tokenFile)}`;
  const status = await get(`${base.replace(/\/$/, '')}/metrics`, headers);
  if (status !== 200) unhealthy(`${base}/metrics answered ${status}`);
}

async function http(urls) {
  if (urls.length === 0) usage('http needs at least one URL');
  for (const u of urls) {
    const status = await get(u);
    if (status < 200 || status > 299) unhealthy(`${u} answered ${status}`);
  }
}

const resp = (words) => `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;

/** One line of a password file, as Fulcrum reads it (one trailing newline is not part of it). */
function secret(file) {
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

/**
 * One RESP command on a fresh connection, after AUTH when `auth` is given ([user, password]
 * or [password]); resolves with the raw reply to the command once it looks whole.
 */
function redisCommand(host, port, words, { auth, tls } = {}) {
  return new Promise((resolve, reject) => {
    const sock = tls ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tls }) : createConnection({ host, port });
    let got = '';
    sock.setTimeout(TIMEOUT_MS, () => sock.destroy(new Error(`${host}:${port} timed out`)));
    sock.on('error', reject);
    sock.on(tls ? 'secureConnect' : 'connect', () => sock.write(`${auth ? resp(['AUTH', ...auth]) : ''}${resp(words)}`));
    sock.on('data', (d) => {
      got += d.toString('utf8');
      if (auth) {
        const nl = got.indexOf('\r\n');
        if (nl < 0) return;
        if (!got.startsWith('+OK')) {
          sock.destroy();
          reject(new Error(`${host}:${port} refused the password: ${got.slice(0, nl)}`));
          return;
        }
        got = got.slice(nl + 2);
        auth = undefined;
        if (!got) return;
      }
      // A two-element array of bulk strings ends after five CRLF-terminated lines.
      if (/^\*-1\r\n/.test(got) || /^[-+]/.test(got) || got.split('\r\n').length > 5) {
        sock.destroy();
        resolve(got);
      }
    });
  });
}

/** `--name value` options after the positional arguments. */
function options(args, known) {
  const out = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i].replace(/^--/, '');
    if (!known.includes(name) || args[i + 1] === undefined) usage(`unexpected argument "${args[i]}"`);
    out[name] = args[i + 1];
  }
  return out;
}

async function sentinel([list, name, ...rest]) {
  if (!list || !name) usage('sentinel needs HOST:PORT,… and the master name');
  const o = options(rest, ['password-file']);
  const auth = o['password-file'] ? [secret(o['password-file'])] : undefined;
  const errors = [];
  for (const hp of list.split(',')) {
    const i = hp.lastIndexOf(':');
    try {
      const reply = await redisCommand(hp.slice(0, i), Number(hp.slice(i + 1)), ['SENTINEL', 'get-master-addr-by-name', name], { auth });
      if (reply.startsWith('*2\r\n')) return;
      errors.push(`${hp}: no master for ${name}`);
    } catch (e) {
      errors.push(`${hp}: ${e.message}`);
    }
  }
  unhealthy(errors.join('; '));
}

async function redis([url, ...rest]) {
  if (!url || !/^rediss?:\/\//.test(url)) usage('redis needs a redis:// or rediss:// URL');
  const o = options(rest, ['user', 'password-file', 'ca-file']);
  const u = new URL(url);
  const tls = u.protocol === 'rediss:' ? (o['ca-file'] ? { ca: readFileSync(o['ca-file']) } : {}) : undefined;
  const auth = o['password-file'] ? [...(o.user ? [o.user] : []), secret(o['password-file'])] : undefined;
  const reply = await redisCommand(u.hostname, Number(u.port || 6379), ['PING'], { auth, tls });
  if (!reply.startsWith('+PONG')) unhealthy(`${u.host} answered ${reply.split('\r\n')[0]}`);
}

const [mode, ...args] = process.argv.slice(2);
const checks = { admin, http, sentinel, redis };
if (!checks[mode]) usage(`unknown check "${mode ?? ''}"`);
checks[mode](args).then(() => process.exit(0), (e) => unhealthy(e.message));
