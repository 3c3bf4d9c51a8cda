import assert from 'node:assert/strict';
import { buildRoutingSnapshot, SYSTEM_TLS_POLICIES } from '../src/index.js';
import '../src/actions/security-policies.js';
import { Lab, fwd, group } from './lr-helpers.js';

/** TP-1: TLS security policies, system and custom, and their use by HTTPS listeners. */

function https(lab: Lab, port: number, extra: Record<string, unknown> = {}): string {
  return lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: port, Certificates: [{ CertificateId: lab.uploadCert() }], DefaultActions: fwd('sgp-a'), ...extra });
}

const custom = { SecurityPolicyName: 'modern', TLSVersions: ['TLSv1.2', 'TLSv1.3'], Ciphers: ['ECDHE-RSA-AES256-GCM-SHA384', 'TLS_AES_256_GCM_SHA384'] };

describe('TLS security policies (TP-1)', () => {
  it('TP-1: ALB\'s five system policies are listed, tls_cipher_policy_1_2_strict_with_1_3 the default', () => {
    const lab = new Lab();
    const list = lab.ok('ListSystemSecurityPolicies', {}).SecurityPolicies as Array<Record<string, unknown>>;
    assert.deepEqual(list.map((s) => s.SecurityPolicyId), [
      'tls_cipher_policy_1_0', 'tls_cipher_policy_1_1', 'tls_cipher_policy_1_2', 'tls_cipher_policy_1_2_strict', 'tls_cipher_policy_1_2_strict_with_1_3',
    ]);
    assert.deepEqual(list.filter((s) => s.IsDefault).map((s) => s.SecurityPolicyId), ['tls_cipher_policy_1_2_strict_with_1_3']);
    assert.deepEqual(SYSTEM_TLS_POLICIES.tls_cipher_policy_1_2_strict!.Ciphers.filter((c) => !c.startsWith('ECDHE')), [], 'strict: forward secrecy only');
  });

  it('TP-1: an HTTPS listener takes the default policy, a system policy or a custom one; the snapshot carries it', () => {
    const lab = new Lab();
    lab.addGroup(group('sgp-a'));
    const a = https(lab, 443);
    assert.equal(lab.ok('GetListenerAttribute', { ListenerId: a }).SecurityPolicyId, 'tls_cipher_policy_1_2_strict_with_1_3');
    const b = https(lab, 444, { SecurityPolicyId: 'tls_cipher_policy_1_2' });
    const id = lab.ok('CreateSecurityPolicy', custom).SecurityPolicyId as string;
    assert.match(id, /^tls-/);
    lab.ok('UpdateListenerAttribute', { ListenerId: a, SecurityPolicyId: id });
    const snap = buildRoutingSnapshot(lab.state, 1, 0);
    assert.deepEqual(snap.listeners.find((l) => l.id === a)!.tls, { versions: ['TLSv1.2', 'TLSv1.3'], ciphers: custom.Ciphers });
    assert.deepEqual(snap.listeners.find((l) => l.id === b)!.tls!.versions, ['TLSv1.2']);
    lab.fails('DeleteSecurityPolicy', { SecurityPolicyId: id }, 'ResourceInUse.SecurityPolicy');
    lab.fails('CreateListener', { LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTP', ListenerPort: 80, DefaultActions: fwd('sgp-a'), SecurityPolicyId: 'tls_cipher_policy_1_2' }, 'InvalidParameter.SecurityPolicyId');
    lab.fails('UpdateListenerAttribute', { ListenerId: b, SecurityPolicyId: 'tls-nope' }, 'ResourceNotFound.SecurityPolicy');
    lab.ok('UpdateListenerAttribute', { ListenerId: a, SecurityPolicyId: 'tls_cipher_policy_1_2_strict' });
    lab.ok('DeleteSecurityPolicy', { SecurityPolicyId: id });
  });

  it('TP-1: a custom policy\'s versions and suites are checked against each other', () => {
    const lab = new Lab();
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ ...custom, TLSVersions: ['TLSv1.4'] }, 'InvalidParameter.TLSVersions', /TLSv1\.0, TLSv1\.1/],
      [{ ...custom, Ciphers: ['RC4-MD5'] }, 'InvalidParameter.Ciphers', /not a cipher suite/],
      [{ ...custom, TLSVersions: ['TLSv1.2'], Ciphers: ['TLS_AES_256_GCM_SHA384'] }, 'InvalidParameter.Ciphers', /needs TLSv1\.3/],
      [{ ...custom, TLSVersions: ['TLSv1.0'], Ciphers: ['ECDHE-RSA-AES256-GCM-SHA384'] }, 'InvalidParameter.Ciphers', /needs TLSv1\.2/],
      [{ ...custom, Ciphers: ['ECDHE-RSA-AES256-GCM-SHA384'] }, 'InvalidParameter.Ciphers', /no suite TLSv1\.3 can use/],
      [{ ...custom, Ciphers: ['AES128-SHA', 'AES128-SHA', 'TLS_AES_256_GCM_SHA384'] }, 'InvalidParameter.Ciphers', /given twice/],
      [{ ...custom, TLSVersions: [] }, 'MissingParameter.TLSVersions', /TLSVersions/],
      [{ ...custom, SecurityPolicyName: 'x' }, 'InvalidParameter.SecurityPolicyName', /2 to 128/],
    ];
    for (const [params, code, message] of cases) assert.match(lab.fails('CreateSecurityPolicy', params, code).message, message, code);
    lab.ok('CreateSecurityPolicy', custom);
    lab.fails('CreateSecurityPolicy', custom, 'ResourceAlreadyExist.SecurityPolicyName');
  });

  it('TP-1: UpdateSecurityPolicyAttribute changes versions and suites together; ListSecurityPolicies filters', () => {
    const lab = new Lab();
    const id = lab.ok('CreateSecurityPolicy', custom).SecurityPolicyId as string;
    lab.fails('UpdateSecurityPolicyAttribute', { SecurityPolicyId: id, TLSVersions: ['TLSv1.2'] }, 'InvalidParameter.Ciphers');
    lab.ok('UpdateSecurityPolicyAttribute', { SecurityPolicyId: id, TLSVersions: ['TLSv1.2'], Ciphers: ['ECDHE-RSA-AES128-GCM-SHA256'] });
    const [sp] = lab.ok('ListSecurityPolicies', { SecurityPolicyNames: ['modern'] }).SecurityPolicies as Array<Record<string, unknown>>;
    assert.deepEqual([sp!.TLSVersions, sp!.Ciphers], [['TLSv1.2'], ['ECDHE-RSA-AES128-GCM-SHA256']]);
    assert.equal(lab.ok('ListSecurityPolicies', { SecurityPolicyIds: ['tls-other'] }).TotalCount, 0);
  });
});
