import assert from 'node:assert/strict';
import {
  ApiError, applyOps, emptyCollections, initialOps, runAction, isoTime,
  type ActionEnv, type ActionResult, type Collections, type Server, type ServerGroup, type Settings,
} from '../src/index.js';
import '../src/actions/load-balancers.js';
import '../src/actions/listeners.js';
import '../src/actions/rules.js';
import '../src/actions/certificates.js';

/**
 * Test bench for the load balancer, listener, rule and certificate actions: a state seeded
 * as a fresh store, server groups inserted as records (independent of CreateServerGroup),
 * and helpers that run an action, check it left its input state untouched (actions are
 * pure), then commit its ops.
 */

export const START_MS = Date.parse('2027-01-01T00:00:00Z');

export class Lab {
  state: Collections;
  clockMs = START_MS + 1000;
  private seq = 0;

  constructor() {
    this.state = emptyCollections();
    applyOps(this.state, initialOps(isoTime(START_MS), 'ab'.repeat(32), 'cd'.repeat(32)));
  }

  env(): ActionEnv {
    return { nowMs: this.clockMs, newId: (prefix) => `${prefix}-${String(++this.seq).padStart(4, '0')}`, newSecretHex: (n) => (++this.seq).toString(16).padStart(2 * n, '0'), appliedVersion: 0 };
  }

  /** Run an action, assert it did not mutate the state it read, and commit its ops. */
  run(name: string, params: Record<string, unknown>): ActionResult {
    const before = structuredClone(this.state);
    const result = runAction(name, this.state, params, this.env());
    assert.deepEqual(this.state, before, `${name} mutated the state it read`);
    if (result.ops?.length) applyOps(this.state, structuredClone(result.ops));
    this.clockMs += 1000;
    return result;
  }

  ok(name: string, params: Record<string, unknown>): Record<string, unknown> {
    return this.run(name, params).reply;
  }

  /** Assert the action is refused with exactly `code` and changes nothing. */
  fails(name: string, params: Record<string, unknown>, code: string): ApiError {
    const before = structuredClone(this.state);
    let caught: unknown;
    try {
      runAction(name, this.state, params, this.env());
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ApiError, `${name} should have been refused with ${code}, got ${caught === undefined ? 'success' : String(caught)}`);
    assert.equal(caught.code, code, `${name}: ${caught.message}`);
    assert.ok(caught.httpStatus >= 400 && caught.httpStatus < 500);
    assert.deepEqual(this.state, before, `${name} changed the state while refusing`);
    return caught;
  }

  addGroup(g: ServerGroup): ServerGroup {
    this.state.serverGroups[g.ServerGroupId] = g;
    return g;
  }

  setQuota(key: string, value: number): void {
    const s = this.state.settings['settings'] as Settings;
    s.Quotas[key] = value;
  }

  createLb(params: Record<string, unknown> = {}): string {
    return this.ok('CreateLoadBalancer', { LoadBalancerName: 'lb-test', ZoneMappings: [{ ZoneId: 'zone-a' }], ...params }).LoadBalancerId as string;
  }

  createListener(params: Record<string, unknown>): string {
    return this.ok('CreateListener', { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ...params }).ListenerId as string;
  }

  uploadCert(cert = A_CERT, key = A_KEY, name = 'www'): string {
    return this.ok('UploadServerCertificate', { CertificateName: name, Certificate: cert, PrivateKey: key }).CertificateId as string;
  }
}

/** A server group record with ALB's defaults; health checks off (T-1: no traffic anywhere). */
export function group(id: string, o: Partial<ServerGroup> = {}): ServerGroup {
  return {
    ServerGroupId: id,
    ServerGroupName: id,
    ServerGroupType: 'Ip',
    VpcId: 'vpc-local',
    Protocol: 'HTTP',
    Scheduler: 'Wrr',
    ResourceGroupId: 'rg-default',
    Tags: [],
    HealthCheckConfig: {
      HealthCheckEnabled: false, HealthCheckProtocol: 'HTTP', HealthCheckPath: '/', HealthCheckMethod: 'HEAD',
      HealthCheckHost: '', HealthCheckCodes: ['http_2xx'], HealthCheckInterval: 2, HealthCheckTimeout: 5,
      HealthyThreshold: 3, UnhealthyThreshold: 3, HealthCheckConnectPort: 0, HealthCheckHttpVersion: 'HTTP1.1',
    },
    StickySessionConfig: { StickySessionEnabled: false },
    SlowStartConfig: { SlowStartEnabled: false, SlowStartDuration: 30 },
    ConnectionDrainConfig: { ConnectionDrainEnabled: false, ConnectionDrainTimeout: 300 },
    CrossZoneEnabled: true,
    Ipv6Enabled: false,
    UpstreamKeepaliveEnabled: true,
    ServerGroupStatus: 'Available',
    Servers: [],
    CreateTime: isoTime(START_MS),
    ...o,
  };
}

/** `n` Ip servers on loopback addresses (never contacted: these tests send no traffic). */
export function loopbackServers(n: number): Server[] {
  return Array.from({ length: n }, (_, i) => ({
    ServerId: `127.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    ServerIp: `127.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    ServerType: 'Ip' as const,
    Port: 8080,
    Weight: 100,
    RemoteIpEnabled: false,
    Status: 'Available' as const,
  }));
}

/** `DefaultActions` forwarding to the groups given as ids or [id, weight]. */
export function fwd(...groups: Array<string | [string, number]>): Array<Record<string, unknown>> {
  return [{ Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: tuples(groups) } }];
}

export function tuples(groups: Array<string | [string, number]>): Array<Record<string, unknown>> {
  return groups.map((g) => (typeof g === 'string' ? { ServerGroupId: g } : { ServerGroupId: g[0], Weight: g[1] }));
}

/** A rule action forwarding to groups, at `order`. */
export function forwardAction(order: number, ...groups: Array<string | [string, number]>): Record<string, unknown> {
  return { Order: order, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: tuples(groups) } };
}

export function fixedAction(order = 1, code = '200', content = 'ok'): Record<string, unknown> {
  return { Order: order, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: code, Content: content, ContentType: 'text/plain' } };
}

export function pathCondition(...values: string[]): Record<string, unknown> {
  return { Type: 'Path', PathConfig: { Values: values } };
}

/** A bench with an HTTP listener on port 8080 of alb-default forwarding to group sg-web. */
export function benchWithListener(): { lab: Lab; listenerId: string } {
  const lab = new Lab();
  lab.addGroup(group('sg-web'));
  const listenerId = lab.createListener({ ListenerPort: 8080, DefaultActions: fwd('sg-web') });
  return { lab, listenerId };
}

// Test certificates made with openssl for these tests (EC P-256, valid until 2126); the keys
// protect nothing.
export const A_CERT = `-----BEGIN CERTIFICATE-----
MIIB7TCCAZKgAwIBAgIUea/A0FqC1ceCwny4VnS/9m/jUH8wCgYIKoZIzj0EAwIw
MTEYMBYGA1UEAwwPd3d3LmV4YW1wbGUuY29tMRUwEwYDVQQKDAxGdWxjcnVtIFRl
c3QwIBcNMjYxMTI0MTYyMTU1WhgPMjEyNjEwMzExNjIxNTVaMDExGDAWBgNVBAMM
D3d3dy5leGFtcGxlLmNvbTEVMBMGA1UECgwMRnVsY3J1bSBUZXN0MFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEOkEbiW0XevtGttkvvTWH95TU0VNxgQ+a9TQ/Yfyw
aSA4Zkudmoeh8+gU1Vg6C4E745QFLUb+jgj5FcepdFJ3QqOBhTCBgjAdBgNVHQ4E
FgQUXwrl9uUV/VLOWeFsNc5oPa52VsowHwYDVR0jBBgwFoAUXwrl9uUV/VLOWeFs
Nc5oPa52VsowDwYDVR0TAQH/BAUwAwEB/zAvBgNVHREEKDAmgg93d3cuZXhhbXBs
ZS5jb22CDSouZXhhbXBsZS5jb22HBH8AAAEwCgYIKoZIzj0EAwIDSQAwRgIhAPQL
i+cCCxrAG0105LUNUDepNzHf3z0iKpVfgeGT0Ys4AiEA6BCoj1Gm/HVZ78DRBsbp
AhWzvUg2Y9J0Ytkjdd6Oei8=
-----END CERTIFICATE-----
`;
export const A_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQggAkzD9I5JArYifXs
mXm+444gb+/A7BzRps1YVnH7ErahRANCAAQ6QRuJbRd6+0a22S+9NYf3lNTRU3GB
D5r1ND9h/LBpIDhmS52ah6Hz6BTVWDoLgTvjlAUtRv6OCPkVx6l0UndC
-----END PRIVATE KEY-----
`;
export const B_CERT = `-----BEGIN CERTIFICATE-----
MIIBizCCATGgAwIBAgIUcF5BiZJTTSjChuPzfqB5enyxRBMwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPYXBpLmV4YW1wbGUub3JnMCAXDTI2MTEyNDE2MjE1NVoYDzIx
MjYxMDMxMTYyMTU1WjAaMRgwFgYDVQQDDA9hcGkuZXhhbXBsZS5vcmcwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAATIR8rXU24y38YuT1KkTQml62RRMUFo4duSP6sU
FJl9NDvQPlY2R7GTDwwntt3ufHD8ZkTQEsD4u04zK5dGBrFHo1MwUTAdBgNVHQ4E
FgQUjukMD3zZr2RwyUDVO22yqFPFMNEwHwYDVR0jBBgwFoAUjukMD3zZr2RwyUDV
O22yqFPFMNEwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAxWb8
KMb+qEYlAWbOQjC+iTXc88CRz4Czs/bWToG519ACIGXp54er5WlbzbiURaTc4rNF
Iy+HK324/EtizGvRJPrZ
-----END CERTIFICATE-----
`;
export const B_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgtj7sySFi15PV3Ayj
y40YkB1Ehq/4qpzhN1Mhg4YnPOShRANCAATIR8rXU24y38YuT1KkTQml62RRMUFo
4duSP6sUFJl9NDvQPlY2R7GTDwwntt3ufHD8ZkTQEsD4u04zK5dGBrFH
-----END PRIVATE KEY-----
`;
export const CA_CERT = `-----BEGIN CERTIFICATE-----
MIIBizCCATGgAwIBAgIUQR0Y4eegwIvHhykuaF9+Y4X0jeYwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPRnVsY3J1bSBUZXN0IENBMCAXDTI2MTEyNDE2Mjk0MFoYDzIx
MjYxMDMxMTYyOTQwWjAaMRgwFgYDVQQDDA9GdWxjcnVtIFRlc3QgQ0EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAATFLR/paLzTxeIM6fE1fKJXWWxQK9kg/0LXADpK
4vJJcspFqNhwooBsIKjCvMcJ2cpBogCsNzg1zbpaDqcJ9NObo1MwUTAdBgNVHQ4E
FgQUpipKpXFUncSffMz8fnqo6naQab4wHwYDVR0jBBgwFoAUpipKpXFUncSffMz8
fnqo6naQab4wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAjiNW
hrAjWIrSrEkaY6ouIlD2bDRwff+jEylVAi4o9TECIGL/CcR0inj1DdtrQzGJFdRV
Ia1m1qHY3Peuqmkm1aj6
-----END CERTIFICATE-----
`;
export const CHAIN_LEAF_CERT = `-----BEGIN CERTIFICATE-----
MIIBmTCCAUCgAwIBAgIUBGwfJ5ArEDNgniUIUR8rS5l86mAwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPRnVsY3J1bSBUZXN0IENBMCAXDTI2MTEyNDE2Mjk0MFoYDzIx
MjYxMDMxMTYyOTQwWjAcMRowGAYDVQQDDBFjaGFpbi5leGFtcGxlLm5ldDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABIFdLZ7+w3adV2s7LXRTllH06AftUrij3jdS
6meRmTrzmbpV3WWKO2sTvBtvfjO6ob0qVdPWwrzWZUbmP83uOLajYDBeMBwGA1Ud
EQQVMBOCEWNoYWluLmV4YW1wbGUubmV0MB0GA1UdDgQWBBROXYC1N181qxSrTeJF
CYEwm2zJ5TAfBgNVHSMEGDAWgBSmKkqlcVSdxJ98zPx+eqjqdpBpvjAKBggqhkjO
PQQDAgNHADBEAiAFz2sP1siU7rYP9EYU+iy7Mh+Fg/97RiQvmyTVclmm4QIgak21
I8aVT2X8liMqBX4leBq1zSXLUX1xqKfTBuCXmSA=
-----END CERTIFICATE-----
`;
export const CHAIN_LEAF_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzRhxI9gHty32DEY2
PgjrOhW+VzOzL7RPxcnFoZqVlByhRANCAASBXS2e/sN2nVdrOy10U5ZR9OgH7VK4
o943UupnkZk685m6Vd1lijtrE7wbb34zuqG9KlXT1sK81mVG5j/N7ji2
-----END PRIVATE KEY-----
`;
export const D_CERT = `-----BEGIN CERTIFICATE-----
MIIBkTCCATegAwIBAgIUY/xD9dO+uY/w1faEZN5wQ77h8FIwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSbGVnYWN5LmV4YW1wbGUuY29tMCAXDTI2MTEyNDE2Mjk0MFoY
DzIxMjYxMDMxMTYyOTQwWjAdMRswGQYDVQQDDBJsZWdhY3kuZXhhbXBsZS5jb20w
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATzlSqC4F0gQIkDEoX8aeu6ZdDURxnb
5fEg6Cb/ErlyQe4b/QH19+Jg+HJzDxe/YJHS9EQDQFRYNe6WJSP2V+4so1MwUTAd
BgNVHQ4EFgQUjWyK6YXn3hZaGHXqpFDW2kkH6wYwHwYDVR0jBBgwFoAUjWyK6YXn
3hZaGHXqpFDW2kkH6wYwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
AiBDGpQAIadsbJuwWaODUzIjUr03ajrMyFP8CoClVVN6JQIhANWvHe+yCVEARh18
DSWVKw6ZwrCEGEkw1Vq95/adXhOk
-----END CERTIFICATE-----
`;
export const D_KEY_WITH_PARAMS = `-----BEGIN EC PARAMETERS-----
BggqhkjOPQMBBw==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIA8xM6hqIWMg0+B9eMr0n9mIjUtWohEDC5UrtoHx2mJEoAoGCCqGSM49
AwEHoUQDQgAE85UqguBdIECJAxKF/GnrumXQ1EcZ2+XxIOgm/xK5ckHuG/0B9ffi
YPhycw8Xv2CR0vREA0BUWDXuliUj9lfuLA==
-----END EC PRIVATE KEY-----
`;
export const A_KEY_ENCRYPTED = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhomTceeswJjgICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEKdhe+FM2yFiHrBFNMg/czYEgZCS
TS5dm/Bh2L+NsjD7UtjNqjEwo2PFov+07pP8rvTvL/DBfq3kW8YsG23BZ539smDo
4qetRRIQpSB/cBbwUZKQ6fhDuA9KLIg0nRXmWpf043rFF1IgQzAw9ZUY8/1R5vji
ESSLHN4A9ZdexyH35PscYd/s5244awajvt4xWsNw+Raq9IKQG+nLdnMg0U7uh7w=
-----END ENCRYPTED PRIVATE KEY-----
`;
