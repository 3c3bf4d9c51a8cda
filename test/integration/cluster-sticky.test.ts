import assert from 'node:assert/strict';
import {
  Cluster, freePort, ipGroupBody, ipServer, listenerBody, waitUntil, type Backend, type ClusterNode, type HttpReply,
} from './cluster-helpers.js';

/** The value of cookie `name` in a reply's Set-Cookie headers. */
function setCookie(r: HttpReply, name: string): string | undefined {
  for (const h of r.headers['set-cookie'] ?? []) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(h);
    if (m) return m[1];
  }
  return undefined;
}

/** Flip one character of the MAC part (after the dot) of a SERVERID value. */
function tamper(value: string): string {
  const i = value.length - 3;
  const ch = value[i] === 'A' ? 'B' : 'A';
  return value.slice(0, i) + ch + value.slice(i + 1);
}

describe('cluster mode: session persistence across nodes (SP-2, SP-3)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let a: ClusterNode;
  let b: ClusterNode;
  let c: ClusterNode;
  let backends: Backend[];
  let sessionSeq = 0;

  before(async () => {
    cluster = await Cluster.start([
      { nodeId: 'a', zone: 'zone-a', listenHost: '127.0.0.2' },
      { nodeId: 'b', zone: 'zone-a', listenHost: '127.0.0.3' },
      { nodeId: 'c', zone: 'zone-b', listenHost: '127.0.0.4' },
    ]);
    [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    // /login: the backend starts a session of its own (SP-3's backend cookie).
    const login = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, name: string): boolean => {
      if (req.url !== '/login') return false;
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': `sid=${name}-${++sessionSeq}-${Date.now()}; Path=/`, 'content-length': Buffer.byteLength(name) });
      res.end(name);
      return true;
    };
    backends = [await cluster.backend('s1', '127.0.0.1', login), await cluster.backend('s2', '127.0.0.1', login), await cluster.backend('s3', '127.0.0.1', login)];
  });

  after(async () => {
    await cluster?.stop();
  });

  it('SP-3: a backend session cookie learned through node A sends that session to the same server through B and C', async () => {
    const g = await a.api('CreateServerGroup', ipGroupBody('sp3-shared', {
      StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Server', Cookie: 'sid' },
    }));
    const groupId = String(g.ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: backends.map((s) => ipServer(s.port)) });
    const port = await freePort();
    await a.write('CreateListener', listenerBody(port, groupId));

    const sessions: { sid: string; server: string }[] = [];
    for (let i = 0; i < 9; i++) {
      const r = await a.get(port, '/login');
      assert.equal(r.status, 200);
      const sid = setCookie(r, 'sid');
      assert.ok(sid, `no sid cookie passed through: ${JSON.stringify(r.headers)}`);
      sessions.push({ sid, server: r.body });
    }
    assert.deepEqual(new Set(sessions.map((s) => s.server)), new Set(['s1', 's2', 's3']), 'sessions on every server');

    const wrong = async (n: ClusterNode): Promise<string[]> => {
      const out: string[] = [];
      // Twice in a row each: plain Wrr over equal weights never repeats a server, so a
      // rotation that happens to line up with A's cannot pass for affinity.
      for (const s of sessions) {
        for (let k = 0; k < 2; k++) {
          const r = await n.get(port, '/', { headers: { cookie: `other=1; sid=${s.sid}` } });
          if (r.body !== s.server) out.push(`${n.nodeId}: ${s.sid} -> ${r.status} ${r.body}, want ${s.server}`);
        }
      }
      return out;
    };
    // The table is shared through the store; give it a moment to reach the other nodes.
    const learnedAt = Date.now();
    await waitUntil('B and C to know every session', async () => (await wrong(b)).length === 0 && (await wrong(c)).length === 0, 3000, 50)
      .catch(async () => assert.deepEqual([...(await wrong(b)), ...(await wrong(c))], []));
    const convergedMs = Date.now() - learnedAt;
    assert.ok(convergedMs < 2000, `took ${convergedMs} ms to reach B and C`);
    // And it holds: every node, several rounds.
    for (let round = 0; round < 3; round++) for (const n of [a, b, c]) assert.deepEqual(await wrong(n), []);
  });

  it('SP-2: a SERVERID cookie issued by node A is honoured by B and C; a tampered one is ignored there and re-issued', async () => {
    const g = await a.api('CreateServerGroup', ipGroupBody('sp2-insert', {
      StickySessionConfig: { StickySessionEnabled: true, StickySessionType: 'Insert', CookieTimeout: 600 },
    }));
    const groupId = String(g.ServerGroupId);
    await a.api('AddServersToServerGroup', { ServerGroupId: groupId, Servers: backends.map((s) => ipServer(s.port)) });
    const port = await freePort();
    await a.write('CreateListener', listenerBody(port, groupId));

    const issued: { cookie: string; server: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await a.get(port, '/');
      const cookie = setCookie(r, 'SERVERID');
      assert.ok(cookie, `no SERVERID cookie: ${JSON.stringify(r.headers)}`);
      issued.push({ cookie, server: r.body });
    }
    assert.deepEqual(new Set(issued.map((s) => s.server)), new Set(['s1', 's2', 's3']));

    for (const n of [b, c]) {
      for (const s of issued) {
        for (let k = 0; k < 4; k++) {
          const r = await n.get(port, '/', { headers: { cookie: `SERVERID=${s.cookie}` } });
          assert.equal(r.body, s.server, `node ${n.nodeId} with the cookie of ${s.server}`);
        }
      }
    }

    for (const n of [b, c]) {
      const bad = tamper(issued[0]!.cookie);
      assert.notEqual(bad, issued[0]!.cookie);
      const seen = new Set<string>();
      const reissued = new Set<string>();
      for (let k = 0; k < 12; k++) {
        const r = await n.get(port, '/', { headers: { cookie: `SERVERID=${bad}` } });
        assert.equal(r.status, 200);
        seen.add(r.body);
        const fresh = setCookie(r, 'SERVERID');
        assert.ok(fresh && fresh !== bad, `node ${n.nodeId}: the tampered cookie was not replaced: ${JSON.stringify(r.headers)}`);
        reissued.add(`${fresh}|${r.body}`);
      }
      // Ignored: scheduled normally (Wrr spreads it), not pinned to the server it names.
      assert.ok(seen.size >= 2, `node ${n.nodeId}: a tampered cookie pinned every request to ${[...seen].join(',')}`);
      // The re-issued cookies are genuine: the other node honours them.
      const other = n === b ? c : b;
      for (const entry of reissued) {
        const [cookie, server] = entry.split('|') as [string, string];
        const r = await other.get(port, '/', { headers: { cookie: `SERVERID=${cookie}` } });
        assert.equal(r.body, server);
      }
    }
  });
});
