import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseStartArgs } from '@fulcrum/lb-node/cli';
import { parsePorts } from '@fulcrum/lb-node/demo-backends';
import { ConfigApplier, loadConfigFile } from '@fulcrum/lb-node/config';
import { SHUTDOWN_GRACE_MS, seedStore } from '@fulcrum/lb-node/node';
import { EmbeddedStore } from '@fulcrum/state';

/**
 * D-4 without a Docker engine: the Dockerfile, .dockerignore and docker-compose.yml are
 * parsed and held against the real code: every service command goes through the real
 * `fulcrum` argument parsers and `fulcrum --help`, the seed config through the real admin
 * actions, the Sentinel config script through sh.
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const FULCRUM = join(REPO, 'services/lb-node/bin/fulcrum.js');
const TOKEN_PATH = '/run/secrets/fulcrum_admin_token';

type Obj = Record<string, unknown>;
interface Service extends Obj {
  image?: string;
  build?: unknown;
  command?: unknown;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
  secrets?: string[];
  configs?: { source: string; target: string }[];
  environment?: Record<string, string>;
  networks?: unknown;
  profiles?: string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file?: string }>;
  configs: Record<string, { content?: string }>;
  networks: Record<string, { ipam?: { config?: { subnet: string }[] } }>;
}

// ---------------------------------------------------------------------------------------

interface Instruction { op: string; args: string; stage: number }

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!cur && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      cur += `${line.slice(0, -1)} `;
      continue;
    }
    cur += line;
    const m = /^([A-Za-z]+)\s+(.*)$/s.exec(cur);
    assert.ok(m, `Dockerfile line is an instruction: ${cur}`);
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2]!.trim(), stage });
    cur = '';
  }
  return out;
}

const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const steps = dockerInstructions(dockerfile);
const dockerignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const compose = parseYaml(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
const services = compose.services;
const rootPackage = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { workspaces: string[] };

/** `ARG NODE_IMAGE=…` defaults, to read `FROM ${NODE_IMAGE}`. */
function resolveArgs(s: string): string {
  const defaults = new Map(steps.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]));
  return s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a?: string, b?: string) => defaults.get((a ?? b)!) ?? '');
}

/** Would .dockerignore leave this context path out? (The patterns this repo uses.) */
function ignored(path: string): boolean {
  return dockerignore.some((p) => {
    const body = p.split('**/').map((part) => part.replace(/[.+^$()|[\]{}]/g, '\\$&').replace(/\*/g, '[^/]*')).join('(?:.*/)?');
    return new RegExp(`^${body}(?:/.*)?$`).test(path);
  });
}

function command(name: string): string[] {
  const c = services[name]!.command;
  assert.ok(Array.isArray(c) && c.every((x) => typeof x === 'string'), `${name}: command is an exec-form list of strings`);
  return c as string[];
}

/** `--flag value` pairs of an argument list (every flag this CLI has takes a value or is boolean). */
function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

const fulcrumServices = Object.keys(services).filter((n) => services[n]!.image === 'fulcrum:local');
const nodes = fulcrumServices.filter((n) => command(n)[0] === 'start');
const namedNodes = nodes.filter((n) => !services[n]!.profiles);
const probers = fulcrumServices.filter((n) => command(n)[0] === 'prober');
const redisServices = Object.keys(services).filter((n) => services[n]!.image?.startsWith('redis:'));
const sentinelServices = redisServices.filter((n) => JSON.stringify(services[n]!.command).includes('--sentinel'));
/** The default cluster: not the services of `--profile tls`, which have a Redis of their own. */
const inMainCluster = (n: string): boolean => !services[n]!.profiles?.includes('tls');

/** Files standing in for the compose secrets under /run/secrets, for the real parsers. */
async function fakeSecrets(dir: string): Promise<(a: string) => string> {
  const { makePki } = await import('./redis-tls-server.js');
  const pki = makePki(join(dir, 'pki'));
  const names = new Set(Object.values(services).flatMap((s) => s.secrets ?? []));
  for (const n of names) if (!n.startsWith('redis_tls_')) await writeFile(join(dir, n), n === 'fulcrum_admin_token' ? 'x'.repeat(64) : `${n}-pw\n`);
  const pem: Record<string, string> = { redis_tls_ca: pki.ca, redis_tls_cert: pki.serverCert, redis_tls_key: pki.serverKey };
  return (a) => (a.startsWith('/run/secrets/') ? pem[a.slice(13)] ?? join(dir, a.slice(13)) : a);
}

/** `fulcrum --help`: each command's flags and whether they take a value, from the usage lines. */
let helpCache: Map<string, Map<string, boolean>> | undefined;
function helpFlags(): Map<string, Map<string, boolean>> {
  if (helpCache) return helpCache;
  const help = execFileSync(process.execPath, [FULCRUM, '--help'], { encoding: 'utf8' });
  const out = new Map<string, Map<string, boolean>>();
  let usage: { cmd: string; text: string } | undefined;
  const flush = (): void => {
    if (!usage) return;
    // A command may have several usage lines (`fulcrum prober` has one per mode).
    const flags = out.get(usage.cmd) ?? new Map<string, boolean>();
    const tokens = usage.text.replace(/[[\]|]/g, ' ').split(/\s+/).filter(Boolean);
    tokens.forEach((t, i) => {
      if (t.startsWith('--')) flags.set(t.slice(2), tokens[i + 1] !== undefined && !tokens[i + 1]!.startsWith('--') && !tokens[i + 1]!.startsWith('<'));
    });
    out.set(usage.cmd, flags);
    usage = undefined;
  };
  for (const line of help.split('\n')) {
    const start = /^ {2}fulcrum ([a-z][a-z-]*)(.*)$/.exec(line);
    if (start) {
      flush();
      usage = { cmd: start[1]!, text: start[2]! };
    } else if (usage && /^\s{4,}\[/.test(line)) {
      usage.text += ` ${line}`;
    } else flush();
  }
  flush();
  helpCache = out;
  return out;
}

function checkFlags(where: string, args: string[], flags: Map<string, boolean>): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    assert.ok(a.startsWith('--'), `${where}: "${a}" is not a flag (no positionals)`);
    const name = a.slice(2);
    assert.ok(flags.has(name), `${where}: --${name} is not a flag of this command (known: ${[...flags.keys()].join(', ')})`);
    if (flags.get(name)) {
      const v = args[++i];
      assert.ok(v !== undefined && !v.startsWith('--'), `${where}: --${name} needs a value`);
    }
  }
}

interface Published { service: string; ip: string; hostPorts: number[]; containerPort: number }

function published(): Published[] {
  const out: Published[] = [];
  for (const [service, s] of Object.entries(services)) {
    for (const p of s.ports ?? []) {
      const parts = String(p).split(':');
      assert.ok(parts.length === 2 || parts.length === 3, `${service}: port "${p}" is HOST:CONTAINER or IP:HOST:CONTAINER`);
      const [ip, host, container] = parts.length === 3 ? parts : ['0.0.0.0', ...parts];
      const [lo, hi] = host!.split('-').map(Number);
      const hostPorts: number[] = [];
      for (let x = lo!; x <= (hi ?? lo!); x++) hostPorts.push(x);
      out.push({ service, ip: ip!, hostPorts, containerPort: Number(container) });
    }
  }
  return out;
}

function inCidr(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const b = new BlockList();
  b.addSubnet(net!, Number(bits), 'ipv4');
  return b.check(ip, 'ipv4');
}

const seedText = compose.configs?.fulcrum_seed?.content ?? '';

describe('deployment files (D-4)', function () {
  describe('Dockerfile', function () {
    it('D-4: the Dockerfile builds with tsc -b in a build stage and runs on a slim Node 24 LTS image (the runtime package.json pins)', function () {
      const froms = steps.filter((i) => i.op === 'FROM').map((i) => resolveArgs(i.args));
      assert.ok(froms.length >= 2, 'multi-stage');
      // The image's Node is the one the repository pins for development and CI (the npm
      // registry's `node` package in the root devDependencies).
      const pinned = /^\^?(\d+)\./.exec(String(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).devDependencies.node))![1];
      assert.equal(pinned, '24');
      assert.match(froms[0]!, new RegExp(`^node:${pinned}[\\w.-]*\\s+AS\\s+build$`, 'i'), `the first stage is the Node ${pinned} build stage`);
      assert.match(froms.at(-1)!, new RegExp(`^node:${pinned}[\\w.-]*-slim\\b`, 'i'), `the runtime is a slim Node ${pinned} image`);
      const runs = steps.filter((i) => i.op === 'RUN' && i.stage === 0).map((i) => i.args);
      assert.ok(runs.some((r) => /\bnpm ci\b/.test(r)), 'the build stage installs from the lockfile');
      const tsc = runs.find((r) => /\btsc -b\b/.test(r));
      assert.ok(tsc, 'the build stage compiles with tsc -b');
      for (const svc of ['services/lb-node', 'services/health-prober']) assert.ok(tsc.includes(svc), `tsc -b builds ${svc}`);
      const last = froms.length - 1;
      assert.ok(steps.some((i) => i.stage === last && i.op === 'COPY' && /--from=build\b/.test(i.args)), 'the runtime takes the compiled output from the build stage');
      assert.ok(!steps.some((i) => i.stage === last && i.op === 'RUN' && /\btsc\b|npm (ci|install)\b/.test(i.args)), 'the runtime neither compiles nor installs');
      assert.ok(steps.some((i) => i.op === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args)), 'runtime dependencies come without dev dependencies');
    });

    it('D-4: the image runs as a non-root user, with the fulcrum command as its entrypoint', function () {
      const last = steps.filter((i) => i.op === 'FROM').length - 1;
      const users = steps.filter((i) => i.stage === last && i.op === 'USER');
      assert.equal(users.length, 1, 'one USER in the runtime stage');
      assert.ok(!/^(root|0)(:|$)/.test(users[0]!.args), `runs as ${users[0]!.args}, not root`);
      const lastStep = steps.filter((i) => i.stage === last).map((i) => i.op);
      assert.ok(lastStep.indexOf('USER') > lastStep.lastIndexOf('RUN'), 'nothing runs as root after USER');
      const entry = JSON.parse(steps.find((i) => i.stage === last && i.op === 'ENTRYPOINT')!.args) as string[];
      assert.equal(entry[0], 'node');
      const inImage = entry[1]!;
      const workdirs = steps.filter((i) => i.stage === last && i.op === 'WORKDIR').map((i) => i.args);
      const appDir = workdirs[0]!;
      assert.ok(inImage.startsWith(`${appDir}/`), `the entrypoint ${inImage} lies in the app dir ${appDir}`);
      assert.ok(existsSync(join(REPO, inImage.slice(appDir.length + 1))), `${inImage} is services/lb-node/bin/fulcrum.js of this repo`);
      // The data dir `fulcrum start` defaults to (./.fulcrum) sits in the last WORKDIR, which the user owns.
      assert.ok(steps.some((i) => i.stage === last && i.op === 'RUN' && i.args.includes(`chown ${users[0]!.args}`) && i.args.includes(workdirs.at(-1)!)));
    });

    it('D-4: the build context has every file the Dockerfile copies, and .dockerignore keeps host builds and secrets out', function () {
      for (const p of ['node_modules', 'packages/model/node_modules', 'packages/model/dist', 'services/lb-node/tsconfig.tsbuildinfo', '.git', 'secrets', 'secrets/fulcrum_admin_token', '.fulcrum']) {
        assert.ok(ignored(p), `.dockerignore leaves ${p} out`);
      }
      const sources = steps.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
      assert.ok(sources.length > 5);
      for (const s of sources) {
        assert.ok(existsSync(join(REPO, s)), `COPY ${s}: exists in the repository`);
        assert.ok(!ignored(s), `COPY ${s}: not left out by .dockerignore`);
      }
      // npm ci fails unless every workspace the root lists has its manifest in place.
      for (const ws of rootPackage.workspaces) assert.ok(sources.includes(`${ws}/package.json`), `the build stage copies ${ws}/package.json before npm ci`);
      for (const dir of ['packages', 'services']) assert.ok(sources.includes(dir), `the build stage copies ${dir}/`);
      // The health checks in docker-compose.yml run a script that must be in the image.
      assert.ok(sources.includes('scripts/healthcheck.mjs') && statSync(join(REPO, 'scripts/healthcheck.mjs')).isFile());
    });
  });

  describe('docker-compose.yml', function () {
    it('D-4: Redis primary + replica + three Sentinels with quorum 2, on named volumes', function () {
      const primary = command('redis-primary');
      assert.equal(flagValue(primary, '--appendonly'), 'yes', 'the primary persists (append-only file)');
      const replica = command('redis-replica');
      const at = replica.indexOf('--replicaof');
      assert.deepEqual(replica.slice(at + 1, at + 3), ['redis-primary', '6379'], 'the replica follows the primary');
      for (const name of ['redis-primary', 'redis-replica']) {
        assert.equal(flagValue(command(name), '--replica-announce-ip'), name, `${name} announces its service name to the Sentinels, as they announce theirs`);
      }
      assert.equal(sentinelServices.length, 3, 'three Sentinels');
      for (const name of ['redis-primary', 'redis-replica', ...sentinelServices]) {
        const vols = services[name]!.volumes ?? [];
        const data = vols.find((v) => v.endsWith(':/data'));
        assert.ok(data, `${name} keeps /data on a volume`);
        const vol = data.split(':')[0]!;
        assert.ok(vol in compose.volumes, `${name}: ${vol} is a named volume declared at the top level`);
      }
      const vols = [...redisServices].map((n) => services[n]!.volumes!.find((v) => v.endsWith(':/data'))!.split(':')[0]);
      assert.equal(new Set(vols).size, vols.length, 'no two Redis processes share a data volume');
    });

    it('D-4: the Sentinel start script writes its config once, monitoring redis-primary with quorum 2, and keeps it across restarts', async function () {
      const dir = await mkdtemp(join(tmpdir(), 'fulcrum-sentinel-conf-'));
      try {
        for (const name of sentinelServices) {
          const c = command(name);
          assert.deepEqual(c.slice(0, 2), ['sh', '-c']);
          // Compose interpolates first: `$$` is a literal `$`, and a lone `$` would be a variable.
          assert.doesNotMatch(c[2]!.replaceAll('$$', ''), /\$/, `${name}: every $ in the script is escaped for compose`);
          const hostname = services[name]!.hostname as string;
          assert.equal(hostname, name, `${name}: its hostname is its service name, which the others resolve`);
          await writeFile(join(dir, 'sentinel_password'), 'sentinel-pw\n');
          await writeFile(join(dir, 'redis_sentinel_password'), 'redis-sentinel-pw\n');
          const script = c[2]!.replaceAll('$$', '$').replaceAll('$(hostname)', hostname).replaceAll('/data', dir).replaceAll('/run/secrets', dir)
            .replace(/exec redis-server (\S+) --sentinel/, 'echo "would run $1"');
          const run = (): string => execFileSync('sh', ['-c', script], { encoding: 'utf8' });
          run();
          const conf = readFileSync(join(dir, 'sentinel.conf'), 'utf8').split('\n');
          assert.ok(conf.includes('port 26379'));
          assert.ok(conf.includes(`sentinel announce-ip ${name}`), conf.join('\n'));
          assert.ok(conf.includes('sentinel monitor fulcrum redis-primary 6379 2'), conf.join('\n'));
          assert.ok(conf.indexOf('sentinel resolve-hostnames yes') < conf.indexOf('sentinel monitor fulcrum redis-primary 6379 2'), 'hostnames resolve before the monitor line needs them');
          // Issue 18: the Sentinel asks a password of clients and peers, and logs in to Redis.
          for (const l of ['requirepass sentinel-pw', 'sentinel sentinel-pass sentinel-pw', 'sentinel auth-user fulcrum fulcrum-sentinel', 'sentinel auth-pass fulcrum redis-sentinel-pw']) {
            assert.ok(conf.includes(l), `${name}: "${l}" in\n${conf.join('\n')}`);
          }
          assert.ok(conf.indexOf('sentinel monitor fulcrum redis-primary 6379 2') < conf.indexOf('sentinel auth-pass fulcrum redis-sentinel-pw'), 'auth-pass names a master already monitored');
          assert.equal(statSync(join(dir, 'sentinel.conf')).mode & 0o077, 0, 'the config holding passwords is readable by its owner only');
          // A restart must keep what Sentinel learned (it rewrites its own config).
          await writeFile(join(dir, 'sentinel.conf'), 'learned state\n');
          run();
          assert.equal(readFileSync(join(dir, 'sentinel.conf'), 'utf8'), 'learned state\n');
          await rm(join(dir, 'sentinel.conf'));
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('CLI-1: every LB node command parses with the real `fulcrum start` parser: three named nodes, zone-a ×2 and zone-b ×1', async function () {
      const dir = await mkdtemp(join(tmpdir(), 'fulcrum-token-'));
      try {
        // parseStartArgs reads --token-file; the secret is mounted only in the container.
        const secret = await fakeSecrets(dir);
        const zones: string[] = [];
        const ids: string[] = [];
        for (const n of nodes) {
          const args = command(n).slice(1);
          assert.equal(flagValue(args, '--token-file'), TOKEN_PATH, `${n}: the admin token comes from the secret`);
          const opts = parseStartArgs(args.map(secret), {});
          assert.deepEqual(opts.tokens?.map((t) => t.secret), ['x'.repeat(64)]);
          // Other containers call the admin API by service name: the node must answer to it.
          assert.ok(opts.adminAllowedHosts?.includes(n), `${n}: --admin-allowed-host ${n}`);
          if (services[n]!.profiles) continue;
          zones.push(opts.zone);
          ids.push(opts.nodeId!);
        }
        assert.equal(namedNodes.length, 3, 'three named LB nodes');
        assert.deepEqual(zones.sort(), ['zone-a', 'zone-a', 'zone-b']);
        assert.ok(ids.every(Boolean) && new Set(ids).size === 3, `each named node has its own --node-id: ${ids.join(', ')}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('CLI-1, CLI-4: every fulcrum service runs a command `fulcrum --help` lists, with its flags', function () {
      const flags = helpFlags();
      assert.ok(flags.get('start')?.has('sentinels'), 'the help parser reads `fulcrum start`');
      for (const name of fulcrumServices) {
        const [cmd, ...args] = command(name);
        assert.ok(flags.has(cmd!), `${name}: "${cmd}" is a fulcrum command`);
        checkFlags(name, args, flags.get(cmd!)!);
      }
      const demo = command('demo-backends');
      assert.equal(demo[0], 'demo-backends');
      assert.deepEqual(parsePorts(flagValue(demo, '--ports')!), [9001, 9002]);
      assert.equal(flagValue(demo, '--host'), '0.0.0.0', 'reachable from the other containers');
    });

    it('CLI-2: the probers run `fulcrum prober` in cluster mode through the Sentinels', function () {
      assert.equal(probers.filter(inMainCluster).length, 2, 'two probers (one holds the lease)');
      const listed = helpFlags().get('prober');
      assert.ok(listed, '`fulcrum --help` lists `fulcrum prober`');
      assert.ok(listed.has('sentinels') && listed.has('sentinel-name'), '`fulcrum --help` lists the prober cluster flags');
      for (const name of probers) {
        const args = command(name).slice(1);
        checkFlags(name, args, listed);
        assert.ok(!args.includes('--endpoint'), 'cluster mode, not one embedded node');
      }
      // Identical command lines need one run of the real parser each.
      for (const line of new Set(probers.map((n) => JSON.stringify(command(n))))) {
        const [, ...args] = JSON.parse(line) as string[];
        const name = probers.find((n) => JSON.stringify(command(n)) === line)!;
        // Parsed by the real command: `--help` after valid flags prints the usage and exits 0
        // (an unknown flag or a missing value exits 2 first).
        const r = spawnSync(process.execPath, [FULCRUM, 'prober', ...args, '--help'], { encoding: 'utf8', timeout: 10_000 });
        assert.equal(r.status, 0, `${name}: fulcrum prober ${args.join(' ')} --help: ${r.stderr}`);
        const bad = spawnSync(process.execPath, [FULCRUM, 'prober', ...args, '--bogus', '--help'], { encoding: 'utf8', timeout: 10_000 });
        assert.equal(bad.status, 2, 'the same check refuses an unknown flag');
      }
    });

    it('D-2: every node and prober finds Redis through all three Sentinels, by the name they monitor', function () {
      const expected = sentinelServices.map((s) => `${s}:26379`).sort();
      assert.ok([...nodes, ...probers].length >= 5);
      for (const name of [...nodes, ...probers].filter(inMainCluster)) {
        const args = command(name);
        assert.ok(!args.includes('--redis'), `${name}: no direct --redis (it would not follow a failover)`);
        assert.deepEqual(flagValue(args, '--sentinels')?.split(',').sort(), expected, `${name}: --sentinels`);
        assert.equal(flagValue(args, '--sentinel-name'), 'fulcrum', `${name}: --sentinel-name is the monitored master`);
      }
    });

    it('API-5: admin APIs bound to 0.0.0.0 in a container carry the token from the secret, and are published on host loopback only', function () {
      const secret = compose.secrets.fulcrum_admin_token;
      assert.ok(secret?.file, 'the token is a file-based secret');
      for (const n of nodes) {
        const args = command(n);
        assert.equal(flagValue(args, '--admin-host'), '0.0.0.0');
        assert.equal(flagValue(args, '--token-file'), TOKEN_PATH, `${n}: --token-file is the mounted secret (API-5 refuses to start without it)`);
        assert.ok(services[n]!.secrets?.includes('fulcrum_admin_token'), `${n}: the secret is mounted`);
        const admin = Number(flagValue(args, '--admin-port'));
        for (const p of published().filter((x) => x.service === n && x.containerPort === admin)) {
          assert.equal(p.ip, '127.0.0.1', `${n}: the admin port is published on host loopback only`);
        }
      }
      assert.ok(ignored(secret.file.replace(/^\.\//, '')), 'the secret never enters the image');
    });

    it('D-4: published ports do not clash, and each maps to a port the service listens on', function () {
      const seen = new Map<string, string>();
      const listener = (parseYaml(seedText) as { listeners: { ListenerPort: number }[] }).listeners[0]!.ListenerPort;
      for (const p of published()) {
        for (const h of p.hostPorts) {
          const key = String(h);
          assert.ok(!seen.has(key), `host port ${h} of ${p.service} is also published by ${seen.get(key)}`);
          seen.set(key, p.service);
        }
        // Prometheus and Grafana publish their own ports (observability-deploy.test.ts).
        if (services[p.service]?.profiles?.includes('observability')) continue;
        const args = command(p.service);
        const admin = Number(flagValue(args, '--admin-port'));
        assert.ok([listener, admin].includes(p.containerPort), `${p.service}: container port ${p.containerPort} is the listener (${listener}) or the admin port (${admin})`);
      }
      assert.equal(published().filter((p) => p.containerPort === listener && namedNodes.includes(p.service)).length, 3, 'each named node publishes the listener');
      assert.ok(published().every((p) => !redisServices.includes(p.service)), 'Redis stays inside the network');
    });

    it('D-4: every service has a health check and a restart policy', function () {
      for (const [name, s] of Object.entries(services)) {
        assert.ok(Array.isArray(s.healthcheck?.test) && s.healthcheck.test[0] === 'CMD', `${name}: a health check`);
        assert.ok(['always', 'unless-stopped', 'on-failure'].includes(s.restart ?? ''), `${name}: restart policy (got ${s.restart})`);
        const test = s.healthcheck.test;
        if (test.includes('/opt/fulcrum/scripts/healthcheck.mjs')) {
          assert.equal(s.image, 'fulcrum:local', `${name}: the script is in the fulcrum image`);
          assert.ok(['admin', 'http', 'sentinel', 'redis'].includes(test[test.indexOf('/opt/fulcrum/scripts/healthcheck.mjs') + 1]!));
        }
      }
      for (const n of nodes) assert.ok(services[n]!.healthcheck!.test.includes(TOKEN_PATH), `${n}: the health check authenticates (API-5)`);
    });

    it('D-4: healthcheck.mjs http answers 0 for a 2xx backend and 1 for a failing one', async function () {
      const servers: Server[] = [];
      const listen = (status: number): Promise<number> => new Promise((resolve) => {
        const s = createServer((_q, r) => r.writeHead(status).end());
        servers.push(s);
        s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port));
      });
      try {
        const ok = await listen(200);
        const bad = await listen(503);
        const run = (...urls: string[]): Promise<number | null> => new Promise((resolve) => {
          spawn(process.execPath, [join(REPO, 'scripts/healthcheck.mjs'), 'http', ...urls], { stdio: 'ignore' }).once('exit', (code) => resolve(code));
        });
        assert.equal(await run(`http://127.0.0.1:${ok}/`), 0);
        assert.equal(await run(`http://127.0.0.1:${ok}/`, `http://127.0.0.1:${bad}/`), 1);
      } finally {
        for (const s of servers) s.close();
      }
    });

    it('D-4: depends_on starts Redis, then the Sentinels, then the nodes, and the probers after the seeding node', function () {
      for (const [name, s] of Object.entries(services)) {
        for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
          assert.ok(services[dep], `${name} depends on a service that exists: ${dep}`);
          if (condition === 'service_healthy') assert.ok(services[dep]!.healthcheck, `${name} waits for ${dep} to be healthy, which it can report`);
        }
      }
      const waitsHealthy = (a: string, b: string): boolean => services[a]!.depends_on?.[b]?.condition === 'service_healthy';
      assert.ok(waitsHealthy('redis-replica', 'redis-primary'));
      for (const s of sentinelServices) assert.ok(waitsHealthy(s, 'redis-primary'), `${s} waits for the primary it monitors`);
      for (const n of [...nodes, ...probers].filter(inMainCluster)) for (const s of sentinelServices) assert.ok(waitsHealthy(n, s), `${n} waits for ${s}`);
      for (const inMain of [true, false]) {
        const seeder = nodes.filter((n) => inMainCluster(n) === inMain).find((n) => command(n).includes('--config'))!;
        for (const p of probers.filter((n) => inMainCluster(n) === inMain)) assert.ok(waitsHealthy(p, seeder), `${p} starts after ${seeder} seeded the groups it probes`);
      }
      const seeder = nodes.find((n) => command(n).includes('--config'))!;
      // No cycles: a topological order exists.
      const order: string[] = [];
      const visiting = new Set<string>();
      const visit = (n: string): void => {
        if (order.includes(n)) return;
        assert.ok(!visiting.has(n), `depends_on cycle through ${n}`);
        visiting.add(n);
        for (const d of Object.keys(services[n]!.depends_on ?? {})) visit(d);
        visiting.delete(n);
        order.push(n);
      };
      for (const n of Object.keys(services)) visit(n);
      assert.ok(order.indexOf('redis-primary') < order.indexOf(seeder));
    });

    it('API-7: exactly one node seeds the demo config, which applies through the real admin actions and names the demo backends by their address', async function () {
      const seeders = nodes.filter((n) => command(n).includes('--config') && inMainCluster(n));
      assert.equal(seeders.length, 1, 'one node seeds (and one seeds the TLS variant\'s own Redis)');
      const target = flagValue(command(seeders[0]!), '--config');
      assert.deepEqual(services[seeders[0]!]!.configs, [{ source: 'fulcrum_seed', target }], 'the seed config is mounted where --config reads it');

      const subnet = compose.networks.data!.ipam!.config![0]!.subnet;
      const demoNet = services['demo-backends']!.networks as Record<string, { ipv4_address: string }>;
      const demoIp = demoNet.data!.ipv4_address;
      assert.ok(inCidr(demoIp, subnet), `${demoIp} lies in ${subnet}`);
      const seed = parseYaml(seedText) as { vpcs: Obj[]; serverGroups: { HealthCheckConfig: Obj; Servers: Obj[] }[] };
      assert.equal(seed.vpcs[0]!.CidrBlock, subnet, 'the VPC covers the compose network (SG-3)');
      const ports = parsePorts(flagValue(command('demo-backends'), '--ports')!);
      assert.deepEqual(seed.serverGroups[0]!.Servers.map((s) => [s.ServerIp, s.Port]), ports.map((p) => [demoIp, p]));
      const quickstart = parseYaml(readFileSync(join(REPO, 'examples/quickstart.yaml'), 'utf8')) as typeof seed;
      assert.deepEqual(seed.serverGroups[0]!.HealthCheckConfig, quickstart.serverGroups[0]!.HealthCheckConfig, 'the quickstart health check');

      // T-1: these addresses are not loopback, so the applied copy has health checks off.
      const dir = await mkdtemp(join(tmpdir(), 'fulcrum-seed-'));
      const store = new EmbeddedStore({ dataDir: join(dir, 'data') });
      try {
        const file = join(dir, 'cluster.yaml');
        await writeFile(file, seedText.replace('HealthCheckEnabled: true', 'HealthCheckEnabled: false'));
        await store.open();
        await seedStore(store);
        const report = await new ConfigApplier(store).apply(loadConfigFile(file));
        assert.equal(report.created.length, 3, `a VPC, a group and a listener: ${report.created.join(', ')}`);
        const data = (await store.snapshot()).data;
        const group = Object.values(data.serverGroups)[0]!;
        assert.equal(Object.values(data.listeners)[0]!.ListenerPort, 8080);
        assert.equal(group.VpcId, Object.values(data.vpcs).find((v) => v.VpcName === 'compose')!.VpcId);
      } finally {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('D-4: the documented rolling upgrade replaces every named node, each waited for by its health check, with time for its requests to finish', function () {
      const composeText = readFileSync(join(REPO, 'docker-compose.yml'), 'utf8');
      const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
      const section = readme.slice(readme.indexOf('### Upgrading the cluster'), readme.indexOf('### The same cluster without Docker'));
      assert.ok(section.length > 0, 'README has "Upgrading the cluster"');
      for (const [where, text] of [['docker-compose.yml', composeText], ['README', section]] as const) {
        const loop = /for n in ([a-z0-9 -]+); do\s+docker compose up -d --no-deps --wait "\$n"/.exec(text);
        assert.ok(loop, `${where}: the one-node-at-a-time loop`);
        assert.deepEqual(loop[1]!.trim().split(/\s+/).sort(), [...namedNodes].sort(), `${where}: the loop names every named node`);
      }
      assert.match(section, /fulcrum start --upgrade/, 'nodes on hosts upgrade in place');
      for (const n of nodes) {
        assert.ok(services[n]!.healthcheck, `${n}: --wait waits for its health check`);
        const grace = /^(\d+)s$/.exec(String(services[n]!.stop_grace_period ?? ''));
        assert.ok(grace && Number(grace[1]) * 1000 > SHUTDOWN_GRACE_MS, `${n}: stop_grace_period ${String(services[n]!.stop_grace_period)} outlasts the node's ${SHUTDOWN_GRACE_MS} ms shutdown grace`);
      }
    });

    it('D-4: lb-extra scales with --scale: no fixed node id, a host port range, behind a profile', function () {
      const s = services['lb-extra']!;
      assert.deepEqual(s.profiles, ['scale'], 'not started by a plain `docker compose up`');
      assert.equal(flagValue(command('lb-extra'), '--node-id'), undefined, 'replicas name themselves after their container');
      const p = published().filter((x) => x.service === 'lb-extra');
      assert.equal(p.length, 1);
      assert.ok(p[0]!.hostPorts.length >= 3, 'a host port range, one port per replica');
      for (const pr of probers) {
        assert.equal(services[pr]!.environment?.FULCRUM_ALLOW_NON_LOOPBACK_PROBES, '1', `${pr}: the operator allows probing the compose network (T-1 is for tests)`);
      }
    });
  });
});
