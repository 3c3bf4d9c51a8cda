import assert from 'node:assert/strict';
import { cidrContains, parseCidr, parseIp } from '@fulcrum/model';
import { AclFilter, AddressSet } from '../src/acl.js';

/** AC-1: the compiled address set a listener's ACLs become, checked against a plain scan. */

/** A deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s;
  };
}

function randomBlocks(n: number, next: () => number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = next();
    if (i % 5 === 4) {
      const prefix = 16 + (r % 113);
      out.push(`2001:db8:${((r >>> 8) & 0xffff).toString(16)}:${(r & 0xffff).toString(16)}::/${prefix}`);
    } else {
      const prefix = 8 + (r % 25);
      const a = next();
      const base = [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
      const c = parseCidr(`${base}/${prefix}`)!;
      const v = Number(c.base);
      out.push(`${[v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.')}/${prefix}`);
    }
  }
  return out;
}

function scan(blocks: ReturnType<typeof parseCidr>[], ip: string): boolean {
  const a = parseIp(ip)!;
  return blocks.some((b) => cidrContains(b!, a));
}

describe('ACL address sets (AC-1)', () => {
  it('AC-1: matches exactly what a linear scan of 1,000 IPv4/IPv6 blocks matches, overlaps and edges included', () => {
    const next = rng(7);
    const blocks = randomBlocks(1000, next);
    blocks.push('10.0.0.0/8', '10.1.0.0/16', '11.0.0.0/8', '0.0.0.0/32', '255.255.255.255/32');
    const set = new AddressSet(blocks);
    const probes = ['10.0.0.0', '9.255.255.255', '11.255.255.255', '12.0.0.0', '0.0.0.0', '255.255.255.255', '2001:db8::1', '::1'];
    for (let i = 0; i < 5_000; i++) {
      const r = next();
      probes.push(i % 3 === 0 ? `2001:db8:${((r >>> 8) & 0xffff).toString(16)}:${(r & 0xffff).toString(16)}::${(next() & 0xffff).toString(16)}` : [r >>> 24, (r >>> 16) & 255, (r >>> 8) & 255, r & 255].join('.'));
    }
    let hits = 0;
    const parsed = blocks.map((b) => parseCidr(b));
    for (const ip of probes) {
      const want = scan(parsed, ip);
      assert.equal(set.has(ip), want, ip);
      if (want) hits++;
    }
    assert.ok(hits > 100 && hits < probes.length - 100, `a test that both hits and misses (${hits}/${probes.length})`);
  });

  it('AC-1: touching and nested blocks merge; malformed client text matches nothing', () => {
    const set = new AddressSet(['192.0.2.0/25', '192.0.2.128/25', '192.0.2.64/26', '2001:db8::/64', '2001:db8:0:1::/64']);
    assert.equal(set.size, 2, 'two IPv4 halves and two adjacent IPv6 /64s each become one range');
    for (const ip of ['192.0.2.0', '192.0.2.255', '2001:db8::ffff', '2001:db8:0:1:ffff:ffff:ffff:ffff']) assert.ok(set.has(ip), ip);
    for (const ip of ['192.0.3.0', '192.0.1.255', '2001:db8:0:2::', '', 'x', '1.2.3', '1.2.3.4.5', '256.1.1.1']) assert.ok(!set.has(ip), ip);
  });

  it('AC-1: White admits only listed clients, Black refuses only them', () => {
    const white = new AclFilter({ type: 'White', entries: ['127.0.0.2/32', '::1/128'] });
    const black = new AclFilter({ type: 'Black', entries: ['127.0.0.2/32', '::1/128'] });
    assert.deepEqual(['127.0.0.2', '::1', '127.0.0.1'].map((ip) => white.admits(ip)), [true, true, false]);
    assert.deepEqual(['127.0.0.2', '::1', '127.0.0.1'].map((ip) => black.admits(ip)), [false, false, true]);
  });

  it('AC-1: a lookup among 1,000 blocks costs about what one among 10 does (binary search, not a scan)', () => {
    const next = rng(11);
    const small = new AddressSet(randomBlocks(10, next));
    const large = new AddressSet(randomBlocks(1000, next).filter((b) => !b.includes(':')).map((b) => b.replace(/\/\d+$/, '/32')));
    assert.ok(large.size > 700);
    const ips = Array.from({ length: 4096 }, () => {
      const r = next();
      return [r >>> 24, (r >>> 16) & 255, (r >>> 8) & 255, r & 255].join('.');
    });
    let matched = 0;
    const time = (s: AddressSet): number => {
      let best = Infinity;
      for (let round = 0; round < 5; round++) {
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < 20; k++) for (const ip of ips) if (s.has(ip)) matched++;
        best = Math.min(best, Number(process.hrtime.bigint() - t0));
      }
      return best;
    };
    time(small);
    time(large);
    const ratio = time(large) / time(small);
    // A linear scan would be ~100x; log2(1000)/log2(10) is 3; parsing the address dominates both.
    assert.ok(ratio < 4, `1,000 blocks took ${ratio.toFixed(2)}x the time of 10`);
    assert.ok(matched >= 0);
  });
});
