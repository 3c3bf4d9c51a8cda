import assert from 'node:assert/strict';
import { defaultListenHosts, hostHasIpv6, hostsFor, parseListenHosts } from '../src/listen-hosts.js';

/** Issue 19: `--listen-host` lists and which of them a listener binds. */
describe('listen hosts (issue 19)', () => {
  it('CLI-1: a comma-separated list of IPv4 and IPv6 addresses, brackets and spaces allowed', () => {
    assert.deepEqual(parseListenHosts('127.0.0.2, [::1]'), ['127.0.0.2', '::1']);
    assert.deepEqual(parseListenHosts('0.0.0.0,::'), ['0.0.0.0', '::']);
    // A link-local address names its interface.
    assert.deepEqual(parseListenHosts('127.0.0.1,fe80::1%lo'), ['127.0.0.1', 'fe80::1%lo']);
  });

  const bad: Array<[string, RegExp]> = [
    ['', /empty entry/],
    ['127.0.0.1,', /empty entry/],
    ['localhost', /takes IP addresses/],
    ['127.0.0.1:8080', /takes IP addresses/],
    ['::1', /at least one IPv4 address/],
    ['::1,::1,127.0.0.1', /lists ::1 twice/],
  ];
  for (const [text, msg] of bad) {
    it(`CLI-1: ${JSON.stringify(text)} is refused`, () => assert.throws(() => parseListenHosts(text), msg));
  }

  it('an Ipv4 instance binds the IPv4 hosts, a DualStack instance all of them', () => {
    const hosts = ['127.0.0.2', '::1', '127.0.0.3'];
    assert.deepEqual(hostsFor('Ipv4', hosts), ['127.0.0.2', '127.0.0.3']);
    assert.deepEqual(hostsFor('DualStack', hosts), hosts);
  });

  it('the default is every IPv4 address, plus every IPv6 address where the host has IPv6', () => {
    assert.equal(defaultListenHosts(), hostHasIpv6() ? '0.0.0.0,::' : '0.0.0.0');
    assert.deepEqual(parseListenHosts(defaultListenHosts())[0], '0.0.0.0');
  });
});
