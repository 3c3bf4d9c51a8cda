import assert from 'node:assert/strict';
import type { Rule } from '../src/index.js';
import { compileWildcard, matchWildcard, type CompiledWildcard } from '../src/index.js';
import { Lab, benchWithListener, fixedAction, forwardAction, fwd, group, loopbackServers, pathCondition, A_CERT, A_KEY } from './lr-helpers.js';

function rule(listenerId: string, o: Record<string, unknown> = {}): Record<string, unknown> {
  return { ListenerId: listenerId, RuleName: 'r-1', Priority: 10, RuleConditions: [pathCondition('/api/*')], RuleActions: [forwardAction(1, 'sg-web')], ...o };
}

describe('compileWildcard (LR-2 Host and Path patterns)', () => {
  const shapes: Array<[string, boolean, CompiledWildcard]> = [
    ['www.example.com', true, { kind: 'exact', value: 'www.example.com', caseInsensitive: true }],
    ['WWW.Example.COM', true, { kind: 'exact', value: 'www.example.com', caseInsensitive: true }],
    ['*.example.com', true, { kind: 'suffix', value: '.example.com', caseInsensitive: true }],
    ['/api/*', false, { kind: 'prefix', value: '/api/', caseInsensitive: false }],
    ['/api/**', false, { kind: 'prefix', value: '/api/', caseInsensitive: false }],
    ['*', false, { kind: 'prefix', value: '', caseInsensitive: false }],
    ['www.*.com', true, { kind: 'glob', pattern: 'www.*.com', caseInsensitive: true }],
    ['/v?/users', false, { kind: 'glob', pattern: '/v?/users', caseInsensitive: false }],
    ['*.example.*', true, { kind: 'glob', pattern: '*.example.*', caseInsensitive: true }],
  ];
  for (const [pattern, ci, expected] of shapes) {
    it(`LR-2: ${pattern} compiles to ${expected.kind}`, () => {
      assert.deepEqual(compileWildcard(pattern, { caseInsensitive: ci }), expected);
    });
  }

  const matches: Array<[string, boolean, string, boolean]> = [
    ['*.example.com', true, 'api.example.com', true],
    ['*.example.com', true, 'example.com', false],
    ['*.example.com', true, 'a.b.example.com', true],
    ['www.*.com', true, 'www.shop.com', true],
    ['www.*.com', true, 'www.com', false],
    ['/api/*', false, '/api/', true],
    ['/api/*', false, '/API/users', false],
    ['/Api', false, '/api', false],
    ['/v?/users', false, '/v2/users', true],
    ['/v?/users', false, '/v/users', false],
    ['/v?/users', false, '/v10/users', false],
    ['/a*b*c', false, '/axxbyyc', true],
    ['/a*b*c', false, '/axxbyy', false],
    ['*a*a*a*a*b', false, 'a'.repeat(5000), false],
    ['*', false, '', true],
  ];
  for (const [pattern, ci, input, want] of matches) {
    it(`LR-2: ${pattern} ${want ? 'matches' : 'does not match'} ${input.length > 40 ? `${input.length} characters` : JSON.stringify(input)}`, () => {
      assert.equal(matchWildcard(compileWildcard(pattern, { caseInsensitive: ci }), input), want);
    });
  }
});

describe('CreateRule conditions (LR-2)', () => {
  it('LR-2: a rule with every condition type is stored normalized', () => {
    const { lab, listenerId } = benchWithListener();
    const r = lab.run('CreateRule', rule(listenerId, {
      RuleConditions: [
        { Type: 'Host', HostConfig: { Values: ['WWW.Example.com', '*.example.org'] } },
        { Type: 'Path', PathConfig: { Values: ['/api/*', "/~user/$x@y:z+'&"] } },
        { Type: 'Header', HeaderConfig: { Key: 'X-Env', Values: ['prod', '*beta*'] } },
        { Type: 'QueryString', QueryStringConfig: { Values: [{ Key: 'v', Value: '2*' }] } },
        { Type: 'Method', MethodConfig: { Values: ['GET', 'HEAD'] } },
        { Type: 'Cookie', CookieConfig: { Values: [{ Key: 'session', Value: 'abc' }] } },
        { Type: 'SourceIp', SourceIpConfig: { Values: ['127.0.0.1', '::1', '10.1.2.3/8'] } },
      ],
    }));
    const id = r.reply.RuleId as string;
    assert.match(id, /^rule-/);
    assert.equal(r.resourceType, 'Rule');
    const stored = lab.state.rules[id]!;
    assert.equal(stored.LoadBalancerId, 'alb-default');
    assert.equal(stored.RuleStatus, 'Available');
    assert.deepEqual(stored.RuleConditions[0]!.HostConfig!.Values, ['www.example.com', '*.example.org']);
    assert.deepEqual(stored.RuleConditions[6]!.SourceIpConfig!.Values, ['127.0.0.1/32', '::1/128', '10.0.0.0/8']);
  });

  const accepted: Array<[string, Record<string, unknown>]> = [
    ['Host www.*.com', { Type: 'Host', HostConfig: { Values: ['www.*.com'] } }],
    ['Host a?c.example.com', { Type: 'Host', HostConfig: { Values: ['a?c.example.com'] } }],
    ['Host localhost', { Type: 'Host', HostConfig: { Values: ['localhost'] } }],
    ['Path /a?c with percent-encoding %20', { Type: 'Path', PathConfig: { Values: ['/a?c', '/x%20y'] } }],
    ['Header with a 40-character key', { Type: 'Header', HeaderConfig: { Key: 'X'.repeat(40), Values: ['v'] } }],
    ['Method with all seven methods', { Type: 'Method', MethodConfig: { Values: ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'] } }],
    ['SourceIp with 5 blocks', { Type: 'SourceIp', SourceIpConfig: { Values: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '::1'] } }],
  ];
  for (const [what, cond] of accepted) {
    it(`LR-2: condition ${what} is accepted`, () => {
      const { lab, listenerId } = benchWithListener();
      lab.ok('CreateRule', rule(listenerId, { RuleConditions: [cond] }));
    });
  }

  const refused: Array<[string, unknown[], string]> = [
    ['a Host with a space', [{ Type: 'Host', HostConfig: { Values: ['exa mple.com'] } }], 'InvalidParameter.Values'],
    ['a Host starting with a period', [{ Type: 'Host', HostConfig: { Values: ['.example.com'] } }], 'InvalidParameter.Values'],
    ['a 129-character Host', [{ Type: 'Host', HostConfig: { Values: [`${'a'.repeat(125)}.com`] } }], 'InvalidParameter.Values'],
    ['a Host with an underscore', [{ Type: 'Host', HostConfig: { Values: ['my_host.example.com'] } }], 'InvalidParameter.Values'],
    ['a Path without a leading /', [pathCondition('api/*')], 'InvalidParameter.Values'],
    ['a Path with a space', [pathCondition('/a b')], 'InvalidParameter.Values'],
    ['a Path with a bad percent escape', [pathCondition('/a%zz')], 'InvalidParameter.Values'],
    ['a 129-character Path', [pathCondition(`/${'a'.repeat(128)}`)], 'InvalidParameter.Values'],
    ['a Header key with a space', [{ Type: 'Header', HeaderConfig: { Key: 'X Bad', Values: ['v'] } }], 'InvalidParameter.Key'],
    ['a Header key of 41 characters', [{ Type: 'Header', HeaderConfig: { Key: 'X'.repeat(41), Values: ['v'] } }], 'InvalidParameter.Key'],
    ['a Header condition on Host', [{ Type: 'Header', HeaderConfig: { Key: 'Host', Values: ['v'] } }], 'InvalidParameter.Key'],
    ['a Header value with a leading space', [{ Type: 'Header', HeaderConfig: { Key: 'X-A', Values: [' v'] } }], 'InvalidParameter.Values'],
    ['a Header value with a control character', [{ Type: 'Header', HeaderConfig: { Key: 'X-A', Values: ['a\tb'] } }], 'InvalidParameter.Values'],
    ['a QueryString key with #', [{ Type: 'QueryString', QueryStringConfig: { Values: [{ Key: 'a#', Value: '1' }] } }], 'InvalidParameter.Key'],
    ['a QueryString value with a space', [{ Type: 'QueryString', QueryStringConfig: { Values: [{ Key: 'a', Value: '1 2' }] } }], 'InvalidParameter.Value'],
    ['a QueryString pair without a value', [{ Type: 'QueryString', QueryStringConfig: { Values: [{ Key: 'a' }] } }], 'MissingParameter.Value'],
    ['a lowercase Method', [{ Type: 'Method', MethodConfig: { Values: ['get'] } }], 'InvalidParameter.Values'],
    ['Method CONNECT', [{ Type: 'Method', MethodConfig: { Values: ['CONNECT'] } }], 'InvalidParameter.Values'],
    ['a Cookie key with ;', [{ Type: 'Cookie', CookieConfig: { Values: [{ Key: 'a;b', Value: '1' }] } }], 'InvalidParameter.Key'],
    ['a SourceIp that is not an address', [{ Type: 'SourceIp', SourceIpConfig: { Values: ['localhost'] } }], 'InvalidParameter.Values'],
    ['a SourceIp prefix /33', [{ Type: 'SourceIp', SourceIpConfig: { Values: ['127.0.0.1/33'] } }], 'InvalidParameter.Values'],
    ['six SourceIp blocks', [{ Type: 'SourceIp', SourceIpConfig: { Values: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'] } }], 'InvalidParameter.Values'],
    ['two Host conditions', [{ Type: 'Host', HostConfig: { Values: ['a.com'] } }, { Type: 'Host', HostConfig: { Values: ['b.com'] } }], 'DuplicatedParam.ConditionType'],
    ['the same value twice', [pathCondition('/a', '/a')], 'DuplicatedParam.Value'],
    ['eleven conditions', Array.from({ length: 11 }, (_, i) => ({ Type: 'Header', HeaderConfig: { Key: `X-${i}`, Values: ['v'] } })), 'InvalidParameter.RuleConditions'],
    ['no conditions', [], 'MissingParameter.RuleConditions'],
    ['an unknown condition type', [{ Type: 'Regex', RegexConfig: { Values: ['.*'] } }], 'InvalidParameter.Type'],
    ['a Host condition without HostConfig', [{ Type: 'Host', PathConfig: { Values: ['/a'] } }], 'MissingParameter.HostConfig'],
    ['a config that does not fit the type', [{ Type: 'Path', PathConfig: { Values: ['/a'] }, HostConfig: { Values: ['a.com'] } }], 'InvalidParameter.Unknown'],
  ];
  for (const [what, conditions, code] of refused) {
    it(`LR-2: ${what} is refused (${code})`, () => {
      const { lab, listenerId } = benchWithListener();
      lab.fails('CreateRule', rule(listenerId, { RuleConditions: conditions }), code);
    });
  }

  it('LR-2: RuleConditions may repeat Header conditions with different keys (AND)', () => {
    const { lab, listenerId } = benchWithListener();
    lab.ok('CreateRule', rule(listenerId, {
      RuleConditions: [
        { Type: 'Header', HeaderConfig: { Key: 'X-A', Values: ['1'] } },
        { Type: 'Header', HeaderConfig: { Key: 'X-B', Values: ['2'] } },
      ],
    }));
  });
});

describe('CreateRule actions (LR-2)', () => {
  it('LR-2: actions are stored sorted by Order with ALB defaults filled in', () => {
    const { lab, listenerId } = benchWithListener();
    lab.addGroup(group('sg-b'));
    const id = lab.ok('CreateRule', rule(listenerId, {
      RuleActions: [
        { Order: 30, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: 'sg-web' }, { ServerGroupId: 'sg-b', Weight: 0 }], ServerGroupStickySession: { Enabled: true } } },
        { Order: 10, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Client', Value: 'ClientSrcIp', ValueType: 'SystemDefined' } },
        { Order: 20, Type: 'Rewrite', RewriteConfig: { Path: '/v2${path}' } },
      ],
    })).RuleId as string;
    const actions = lab.state.rules[id]!.RuleActions;
    assert.deepEqual(actions.map((a) => a.Type), ['InsertHeader', 'Rewrite', 'ForwardGroup']);
    assert.deepEqual(actions[1]!.RewriteConfig, { Host: '${host}', Path: '/v2${path}', Query: '${query}' });
    assert.deepEqual(actions[2]!.ForwardGroupConfig, {
      ServerGroupTuples: [{ ServerGroupId: 'sg-web', Weight: 100 }, { ServerGroupId: 'sg-b', Weight: 0 }],
      ServerGroupStickySession: { Enabled: true, Timeout: 1000 },
    });
  });

  it('LR-2: a Redirect to HTTPS keeps the other parts as variables and defaults to 302', () => {
    const { lab, listenerId } = benchWithListener();
    const id = lab.ok('CreateRule', rule(listenerId, { RuleActions: [{ Order: 1, Type: 'Redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443' } }] })).RuleId as string;
    assert.deepEqual(lab.state.rules[id]!.RuleActions[0]!.RedirectConfig, {
      Host: '${host}', HttpCode: '302', Path: '${path}', Port: '443', Protocol: 'HTTPS', Query: '${query}',
    });
  });

  const accepted: Array<[string, unknown[]]> = [
    ['a FixedResponse 503 with JSON', [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '503', Content: '{"down":true}', ContentType: 'application/json' } }]],
    ['a FixedResponse of exactly 1 KiB', [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', Content: 'x'.repeat(1024) } }]],
    ['a Redirect 308 to another host', [{ Order: 1, Type: 'Redirect', RedirectConfig: { HttpCode: '308', Host: 'new.example.com' } }]],
    ['a ForwardGroup to five groups', [forwardAction(1, 'sg-web', 'sg-2', 'sg-3', 'sg-4', ['sg-5', 7])]],
    ['InsertHeader ReferenceHeader with RemoveHeader', [
      { Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Orig-Agent', Value: 'User-Agent', ValueType: 'ReferenceHeader' } },
      { Order: 2, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-Debug' } },
      forwardAction(3, 'sg-web'),
    ]],
  ];
  for (const [what, actions] of accepted) {
    it(`LR-2: ${what} is accepted`, () => {
      const { lab, listenerId } = benchWithListener();
      for (const g of ['sg-2', 'sg-3', 'sg-4', 'sg-5']) lab.addGroup(group(g));
      lab.ok('CreateRule', rule(listenerId, { RuleActions: actions }));
    });
  }

  const refused: Array<[string, unknown[], string]> = [
    ['no final action', [{ Order: 1, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-A' } }], 'InvalidParameter.RuleActions'],
    ['two final actions', [forwardAction(1, 'sg-web'), fixedAction(2)], 'InvalidParameter.RuleActions'],
    ['a final action that is not last', [forwardAction(1, 'sg-web'), { Order: 2, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-A' } }], 'InvalidParameter.RuleActions'],
    ['the same Order twice', [{ Order: 1, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'X-A' } }, forwardAction(1, 'sg-web')], 'DuplicatedParam.Order'],
    ['Order 0', [forwardAction(0, 'sg-web')], 'InvalidParameter.Order'],
    ['Order 50001', [forwardAction(50001, 'sg-web')], 'InvalidParameter.Order'],
    ['six actions', [1, 2, 3, 4, 5].map((o) => ({ Order: o, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: `X-${o}` } })).concat([forwardAction(6, 'sg-web') as never]), 'InvalidParameter.RuleActions'],
    ['a Rewrite before a FixedResponse', [{ Order: 1, Type: 'Rewrite', RewriteConfig: { Path: '/x' } }, fixedAction(2)], 'InvalidParameter.RuleActions'],
    ['an InsertHeader before a Redirect', [{ Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-A', Value: 'a' } }, { Order: 2, Type: 'Redirect', RedirectConfig: { Protocol: 'HTTPS' } }], 'InvalidParameter.RuleActions'],
    ['two Rewrites', [{ Order: 1, Type: 'Rewrite', RewriteConfig: { Path: '/x' } }, { Order: 2, Type: 'Rewrite', RewriteConfig: { Query: 'a=1' } }, forwardAction(3, 'sg-web')], 'InvalidParameter.RuleActions'],
    ['a Rewrite that changes nothing', [{ Order: 1, Type: 'Rewrite', RewriteConfig: { Host: '${host}' } }, forwardAction(2, 'sg-web')], 'InvalidParameter.RewriteConfig'],
    ['an InsertHeader of X-Forwarded-For', [{ Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-Forwarded-For', Value: '1.2.3.4' } }, forwardAction(2, 'sg-web')], 'InvalidParameter.Key'],
    ['an InsertHeader of Host', [{ Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'host', Value: 'a' } }, forwardAction(2, 'sg-web')], 'InvalidParameter.Key'],
    ['a RemoveHeader of Connection', [{ Order: 1, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'Connection' } }, forwardAction(2, 'sg-web')], 'InvalidParameter.Key'],
    ['an unknown SystemDefined value', [{ Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-A', Value: 'ClientMac', ValueType: 'SystemDefined' } }, forwardAction(2, 'sg-web')], 'InvalidParameter.Value'],
    ['a UserDefined value with a control character', [{ Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-A', Value: 'a\nb' } }, forwardAction(2, 'sg-web')], 'InvalidParameter.Value'],
    ['the same header inserted and removed', [
      { Order: 1, Type: 'InsertHeader', InsertHeaderConfig: { Key: 'X-A', Value: 'a' } },
      { Order: 2, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: 'x-a' } },
      forwardAction(3, 'sg-web'),
    ], 'DuplicatedParam.HeaderKey'],
    ['a Redirect that changes nothing', [{ Order: 1, Type: 'Redirect', RedirectConfig: { HttpCode: '301' } }], 'InvalidParameter.RedirectConfig'],
    ['a Redirect with HttpCode 304', [{ Order: 1, Type: 'Redirect', RedirectConfig: { HttpCode: '304', Protocol: 'HTTPS' } }], 'InvalidParameter.HttpCode'],
    ['a Redirect to port 70000', [{ Order: 1, Type: 'Redirect', RedirectConfig: { Port: '70000' } }], 'InvalidParameter.Port'],
    ['a Redirect to protocol FTP', [{ Order: 1, Type: 'Redirect', RedirectConfig: { Protocol: 'FTP' } }], 'InvalidParameter.Protocol'],
    ['a Redirect to a wildcard host', [{ Order: 1, Type: 'Redirect', RedirectConfig: { Host: '*.example.com' } }], 'InvalidParameter.Host'],
    ['a FixedResponse with HttpCode 302', [fixedAction(1, '302')], 'InvalidParameter.HttpCode'],
    ['a FixedResponse over 1 KiB', [fixedAction(1, '200', 'x'.repeat(1025))], 'InvalidParameter.Content'],
    ['a FixedResponse with non-ASCII content', [fixedAction(1, '200', 'caf\u00e9')], 'InvalidParameter.Content'],
    ['a FixedResponse of type text/xml', [{ Order: 1, Type: 'FixedResponse', FixedResponseConfig: { HttpCode: '200', ContentType: 'text/xml' } }], 'InvalidParameter.ContentType'],
    ['a ForwardGroup to six groups', [forwardAction(1, 'sg-web', 'sg-2', 'sg-3', 'sg-4', 'sg-5', 'sg-6')], 'InvalidParameter.ServerGroupTuples'],
    ['a ForwardGroup naming a group twice', [forwardAction(1, 'sg-web', 'sg-web')], 'DuplicatedParam.ServerGroupId'],
    ['a ForwardGroup weight of -1', [forwardAction(1, ['sg-web', -1])], 'InvalidParameter.Weight'],
    ['a ForwardGroup to a missing group', [forwardAction(1, 'sg-missing')], 'ResourceNotFound.ServerGroup'],
    ['a group stickiness timeout of 86401', [{ Order: 1, Type: 'ForwardGroup', ForwardGroupConfig: { ServerGroupTuples: [{ ServerGroupId: 'sg-web' }], ServerGroupStickySession: { Enabled: true, Timeout: 86401 } } }], 'InvalidParameter.Timeout'],
    ['an action type that is not ALB\'s', [{ Order: 1, Type: 'Waf', WafConfig: {} }, forwardAction(2, 'sg-web')], 'InvalidParameter.Type'],
    ['a TrafficMirror without its target (TC-2)', [{ Order: 1, Type: 'TrafficMirror', TrafficMirrorConfig: {} }, forwardAction(2, 'sg-web')], 'MissingParameter.TargetType'],
    ['a TrafficMirror to a missing group (TC-2)', [{ Order: 1, Type: 'TrafficMirror', TrafficMirrorConfig: { TargetType: 'ForwardGroupMirror', MirrorGroupConfig: { ServerGroupTuples: [{ ServerGroupId: 'sg-missing' }] } } }, forwardAction(2, 'sg-web')], 'ResourceNotFound.ServerGroup'],
  ];
  for (const [what, actions, code] of refused) {
    it(`LR-2: ${what} is refused (${code})`, () => {
      const { lab, listenerId } = benchWithListener();
      for (const g of ['sg-2', 'sg-3', 'sg-4', 'sg-5', 'sg-6']) lab.addGroup(group(g));
      lab.fails('CreateRule', rule(listenerId, { RuleActions: actions }), code);
    });
  }
});

describe('rule priorities, names and batches (LR-2)', () => {
  it('LR-2: Priority 1 and 10000 are accepted; 0 and 10001 are refused', () => {
    const { lab, listenerId } = benchWithListener();
    lab.ok('CreateRule', rule(listenerId, { Priority: 1 }));
    lab.ok('CreateRule', rule(listenerId, { Priority: 10000 }));
    lab.fails('CreateRule', rule(listenerId, { Priority: 0 }), 'InvalidParameter.Priority');
    lab.fails('CreateRule', rule(listenerId, { Priority: 10001 }), 'InvalidParameter.Priority');
  });

  it('LR-2: a duplicate Priority on the same listener is refused (ResourceAlreadyExist.Priority)', () => {
    const { lab, listenerId } = benchWithListener();
    lab.ok('CreateRule', rule(listenerId, { Priority: 5 }));
    lab.fails('CreateRule', rule(listenerId, { Priority: 5 }), 'ResourceAlreadyExist.Priority');
  });

  it('LR-2: the same Priority on another listener is fine', () => {
    const { lab, listenerId } = benchWithListener();
    const other = lab.createListener({ ListenerPort: 8081, DefaultActions: fwd('sg-web') });
    lab.ok('CreateRule', rule(listenerId, { Priority: 5 }));
    lab.ok('CreateRule', rule(other, { Priority: 5 }));
  });

  it('LR-2: RuleName follows the name rule (2-128, starting with a letter) and is required', () => {
    const { lab, listenerId } = benchWithListener();
    lab.fails('CreateRule', rule(listenerId, { RuleName: 'x' }), 'InvalidParameter.RuleName');
    lab.fails('CreateRule', rule(listenerId, { RuleName: '-rule' }), 'InvalidParameter.RuleName');
    lab.fails('CreateRule', rule(listenerId, { RuleName: undefined }), 'MissingParameter.RuleName');
    lab.fails('CreateRule', rule('lsn-nope'), 'ResourceNotFound.Listener');
  });

  it('LR-2: CreateRules creates a batch and answers RuleIds with their priorities', () => {
    const { lab, listenerId } = benchWithListener();
    const reply = lab.ok('CreateRules', {
      ListenerId: listenerId,
      Rules: [
        { RuleName: 'a1', Priority: 2, RuleConditions: [pathCondition('/a')], RuleActions: [forwardAction(1, 'sg-web')] },
        { RuleName: 'b1', Priority: 1, RuleConditions: [pathCondition('/b')], RuleActions: [fixedAction()] },
      ],
    });
    const ids = reply.RuleIds as Array<{ Priority: number; RuleId: string }>;
    assert.deepEqual(ids.map((x) => x.Priority), [2, 1]);
    assert.equal(Object.keys(lab.state.rules).length, 2);
  });

  it('LR-2: CreateRules refuses two rules with one Priority (DuplicatedParam.Priority) and writes none', () => {
    const { lab, listenerId } = benchWithListener();
    const r = { RuleName: 'a1', Priority: 3, RuleConditions: [pathCondition('/a')], RuleActions: [forwardAction(1, 'sg-web')] };
    lab.fails('CreateRules', { ListenerId: listenerId, Rules: [r, { ...r, RuleName: 'a2' }] }, 'DuplicatedParam.Priority');
  });

  it('LR-2: CreateRules takes at most 10 rules a call', () => {
    const { lab, listenerId } = benchWithListener();
    const rules = Array.from({ length: 11 }, (_, i) => ({ RuleName: `r${i}`, Priority: i + 1, RuleConditions: [pathCondition('/a')], RuleActions: [fixedAction()] }));
    lab.fails('CreateRules', { ListenerId: listenerId, Rules: rules }, 'InvalidParameter.Rules');
  });

  it('LR-2: UpdateRuleAttribute renames, re-prioritizes and refuses a taken Priority', () => {
    const { lab, listenerId } = benchWithListener();
    const a = lab.ok('CreateRule', rule(listenerId, { Priority: 1 })).RuleId as string;
    lab.ok('CreateRule', rule(listenerId, { Priority: 2 }));
    lab.ok('UpdateRuleAttribute', { RuleId: a, RuleName: 'renamed', Priority: 3 });
    assert.deepEqual([lab.state.rules[a]!.RuleName, lab.state.rules[a]!.Priority], ['renamed', 3]);
    lab.fails('UpdateRuleAttribute', { RuleId: a, Priority: 2 }, 'ResourceAlreadyExist.Priority');
    lab.fails('UpdateRuleAttribute', { RuleId: 'rule-nope', RuleName: 'x1' }, 'ResourceNotFound.Rule');
  });

  it('LR-2: UpdateRuleAttribute replaces conditions and actions after checking them', () => {
    const { lab, listenerId } = benchWithListener();
    const a = lab.ok('CreateRule', rule(listenerId)).RuleId as string;
    lab.fails('UpdateRuleAttribute', { RuleId: a, RuleActions: [forwardAction(1, 'sg-missing')] }, 'ResourceNotFound.ServerGroup');
    lab.ok('UpdateRuleAttribute', { RuleId: a, RuleConditions: [{ Type: 'Method', MethodConfig: { Values: ['POST'] } }], RuleActions: [fixedAction(1, '405', 'no')] });
    assert.equal(lab.state.rules[a]!.RuleConditions[0]!.Type, 'Method');
    assert.equal(lab.state.rules[a]!.RuleActions[0]!.Type, 'FixedResponse');
  });

  it('LR-2: UpdateRulesAttribute may swap two priorities in one call', () => {
    const { lab, listenerId } = benchWithListener();
    const a = lab.ok('CreateRule', rule(listenerId, { Priority: 1 })).RuleId as string;
    const b = lab.ok('CreateRule', rule(listenerId, { Priority: 2 })).RuleId as string;
    lab.ok('UpdateRulesAttribute', { Rules: [{ RuleId: a, Priority: 2 }, { RuleId: b, Priority: 1 }] });
    assert.deepEqual([lab.state.rules[a]!.Priority, lab.state.rules[b]!.Priority], [2, 1]);
  });

  it('LR-2: UpdateRulesAttribute refuses one rule twice and one Priority for two rules', () => {
    const { lab, listenerId } = benchWithListener();
    const a = lab.ok('CreateRule', rule(listenerId, { Priority: 1 })).RuleId as string;
    const b = lab.ok('CreateRule', rule(listenerId, { Priority: 2 })).RuleId as string;
    lab.fails('UpdateRulesAttribute', { Rules: [{ RuleId: a, Priority: 5 }, { RuleId: a, RuleName: 'x1' }] }, 'DuplicatedParam.RuleId');
    lab.fails('UpdateRulesAttribute', { Rules: [{ RuleId: a, Priority: 7 }, { RuleId: b, Priority: 7 }] }, 'DuplicatedParam.Priority');
  });

  it('LR-2: DeleteRule and DeleteRules remove rules; an unknown id refuses the whole batch', () => {
    const { lab, listenerId } = benchWithListener();
    const ids = [1, 2, 3].map((p) => lab.ok('CreateRule', rule(listenerId, { Priority: p })).RuleId as string);
    lab.ok('DeleteRule', { RuleId: ids[0] });
    lab.fails('DeleteRules', { RuleIds: [ids[1], 'rule-nope'] }, 'ResourceNotFound.Rule');
    lab.fails('DeleteRules', { RuleIds: [ids[1], ids[1]] }, 'DuplicatedParam.RuleId');
    lab.ok('DeleteRules', { RuleIds: [ids[1], ids[2]] });
    assert.deepEqual(lab.state.rules, {});
    lab.fails('DeleteRule', { RuleId: ids[0] }, 'ResourceNotFound.Rule');
  });

  it('LR-2: ListRules sorts by listener then Priority and filters by listener, load balancer and id', () => {
    const { lab, listenerId } = benchWithListener();
    const other = lab.createLb();
    const second = lab.createListener({ LoadBalancerId: other, ListenerPort: 8081, DefaultActions: fwd('sg-web') });
    const c = lab.ok('CreateRule', rule(second, { Priority: 1 })).RuleId as string;
    const b = lab.ok('CreateRule', rule(listenerId, { Priority: 20 })).RuleId as string;
    const a = lab.ok('CreateRule', rule(listenerId, { Priority: 5 })).RuleId as string;
    const ids = (p: Record<string, unknown>) => (lab.ok('ListRules', p).Rules as Rule[]).map((r) => r.RuleId);
    assert.deepEqual(ids({}), [a, b, c]);
    assert.deepEqual(ids({ ListenerIds: [second] }), [c]);
    assert.deepEqual(ids({ LoadBalancerIds: ['alb-default'] }), [a, b]);
    assert.deepEqual(ids({ RuleIds: [c, a] }), [a, c]);
    const page = lab.ok('ListRules', { MaxResults: 2 });
    assert.equal(page.TotalCount, 3);
    assert.deepEqual(ids({ MaxResults: 2, NextToken: page.NextToken }), [c]);
  });
});

describe('rules and the groups they attach (SG-6, V6-1, SG-10, SG-11)', () => {
  it('SG-6: a rule of an HTTP listener refuses a gRPC group', () => {
    const { lab, listenerId } = benchWithListener();
    lab.addGroup(group('sg-grpc', { Protocol: 'gRPC' }));
    lab.fails('CreateRule', rule(listenerId, { RuleActions: [forwardAction(1, 'sg-grpc')] }), 'OperationDenied.ServerGroupProtocolIncompatible');
  });

  it('SG-6: a rule of an HTTPS listener with HTTP/2 takes a gRPC group; without HTTP/2 it refuses it', () => {
    const lab = new Lab();
    const cert = lab.uploadCert(A_CERT, A_KEY);
    lab.addGroup(group('sg-web'));
    lab.addGroup(group('sg-grpc', { Protocol: 'gRPC' }));
    const h2 = lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 443, Certificates: [{ CertificateId: cert }], DefaultActions: fwd('sg-web') });
    const h1 = lab.createListener({ ListenerProtocol: 'HTTPS', ListenerPort: 8443, Http2Enabled: false, Certificates: [{ CertificateId: cert }], DefaultActions: fwd('sg-web') });
    lab.ok('CreateRule', rule(h2, { RuleActions: [forwardAction(1, 'sg-grpc')] }));
    lab.fails('CreateRule', rule(h1, { RuleActions: [forwardAction(1, 'sg-grpc')] }), 'OperationDenied.ServerGroupProtocolIncompatible');
  });

  it('SG-6: an Fc group attaches to a rule of any listener', () => {
    const { lab, listenerId } = benchWithListener();
    lab.addGroup(group('sg-fc', { ServerGroupType: 'Fc', VpcId: undefined }));
    lab.ok('CreateRule', rule(listenerId, { RuleActions: [forwardAction(1, 'sg-fc')] }));
  });

  it('V6-1: a rule refuses an Ipv6Enabled group on an Ipv4 instance', () => {
    const { lab, listenerId } = benchWithListener();
    lab.addGroup(group('sg-v6', { Ipv6Enabled: true }));
    lab.fails('CreateRule', rule(listenerId, { RuleActions: [forwardAction(1, 'sg-v6')] }), 'OperationDenied.Ipv6ServerGroupNeedsDualStack');
  });

  it('SG-11: a rule of a Basic instance refuses a group with connection draining', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-web'));
    lab.addGroup(group('sg-drain', { ConnectionDrainConfig: { ConnectionDrainEnabled: true, ConnectionDrainTimeout: 30 } }));
    const basic = lab.createLb({ LoadBalancerEdition: 'Basic' });
    const lsn = lab.createListener({ LoadBalancerId: basic, ListenerPort: 8080, DefaultActions: fwd('sg-web') });
    lab.fails('CreateRule', rule(lsn, { RuleActions: [forwardAction(1, 'sg-drain')] }), 'OperationDenied.BasicEdition');
  });

  it('LR-2: a Basic instance allows 5 conditions and 3 actions a rule; Standard 10 and 5', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-web'));
    const basic = lab.createLb({ LoadBalancerEdition: 'Basic' });
    const lb = lab.createListener({ LoadBalancerId: basic, ListenerPort: 8080, DefaultActions: fwd('sg-web') });
    const ls = lab.createListener({ ListenerPort: 8081, DefaultActions: fwd('sg-web') });
    const six = Array.from({ length: 6 }, (_, i) => ({ Type: 'Header', HeaderConfig: { Key: `X-${i}`, Values: ['v'] } }));
    const four = [1, 2, 3].map((o) => ({ Order: o, Type: 'RemoveHeader', RemoveHeaderConfig: { Key: `X-${o}` } })).concat([forwardAction(4, 'sg-web') as never]);
    lab.fails('CreateRule', rule(lb, { RuleConditions: six }), 'InvalidParameter.RuleConditions');
    lab.fails('CreateRule', rule(lb, { RuleActions: four }), 'InvalidParameter.RuleActions');
    lab.ok('CreateRule', rule(lb, { RuleConditions: six.slice(0, 5), RuleActions: four.slice(1) }));
    lab.ok('CreateRule', rule(ls, { RuleConditions: six, RuleActions: four }));
  });

  it('SG-10: a rule weight above the RuleServerGroupWeight quota is QuotaExceeded.RuleServerGroupWeight', () => {
    const { lab, listenerId } = benchWithListener();
    lab.fails('CreateRule', rule(listenerId, { RuleActions: [forwardAction(1, ['sg-web', 101])] }), 'QuotaExceeded.RuleServerGroupWeight');
    lab.ok('CreateRule', rule(listenerId, { RuleActions: [forwardAction(1, ['sg-web', 100])] }));
  });

  it('SG-10: a lowered RuleServerGroupWeight quota also lowers the default tuple weight', () => {
    const { lab, listenerId } = benchWithListener();
    lab.setQuota('RuleServerGroupWeight', 10);
    const id = lab.ok('CreateRule', rule(listenerId)).RuleId as string;
    assert.equal(lab.state.rules[id]!.RuleActions[0]!.ForwardGroupConfig!.ServerGroupTuples[0]!.Weight, 10);
  });

  it('SG-10: rules per group stop at ServerGroupRulesNum (set to 2 here)', () => {
    const { lab, listenerId } = benchWithListener();
    lab.setQuota('ServerGroupRulesNum', 2);
    lab.ok('CreateRule', rule(listenerId, { Priority: 1 }));
    lab.ok('CreateRule', rule(listenerId, { Priority: 2 }));
    lab.fails('CreateRule', rule(listenerId, { Priority: 3 }), 'QuotaExceeded.ServerGroupRulesNum');
    // The listener's default action is not a forwarding rule and does not count.
    lab.ok('CreateRule', rule(listenerId, { Priority: 3, RuleActions: [fixedAction()] }));
  });

  it('SG-10: the default ServerGroupRulesNum quota is 50', () => {
    const { lab, listenerId } = benchWithListener();
    const batch = (from: number) => Array.from({ length: 10 }, (_, i) => ({ RuleName: `r${from + i}`, Priority: from + i, RuleConditions: [pathCondition('/a')], RuleActions: [forwardAction(1, 'sg-web')] }));
    for (let from = 1; from <= 41; from += 10) lab.ok('CreateRules', { ListenerId: listenerId, Rules: batch(from) });
    assert.equal(Object.keys(lab.state.rules).length, 50);
    lab.fails('CreateRule', rule(listenerId, { Priority: 51 }), 'QuotaExceeded.ServerGroupRulesNum');
  });

  it('SG-10: a rule that would push a Basic instance past 200 servers is refused', () => {
    const lab = new Lab();
    lab.addGroup(group('sg-web', { Servers: loopbackServers(190) }));
    lab.addGroup(group('sg-more', { Servers: loopbackServers(11) }));
    const basic = lab.createLb({ LoadBalancerEdition: 'Basic' });
    const lsn = lab.createListener({ LoadBalancerId: basic, ListenerPort: 8080, DefaultActions: fwd('sg-web') });
    lab.fails('CreateRule', rule(lsn, { RuleActions: [forwardAction(1, 'sg-more')] }), 'QuotaExceeded.LoadBalancerServersNum');
  });

  it('SG-9: a rule forwarding to a group makes it referenced; deleting the rule releases it', async () => {
    const { referencesToGroup } = await import('../src/index.js');
    const { lab, listenerId } = benchWithListener();
    lab.addGroup(group('sg-b'));
    const id = lab.ok('CreateRule', rule(listenerId, { RuleActions: [forwardAction(1, 'sg-b')] })).RuleId as string;
    assert.deepEqual(referencesToGroup(lab.state, 'sg-b').map((r) => r.id), [id]);
    lab.ok('DeleteRule', { RuleId: id });
    assert.deepEqual(referencesToGroup(lab.state, 'sg-b'), []);
  });
});
