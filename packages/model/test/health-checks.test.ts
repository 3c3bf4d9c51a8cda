import assert from 'node:assert/strict';
import { World, VPC4 } from './helpers.js';
import { defaultHealthCheck } from '../src/defaults.js';
import type { HealthCheckConfig, HealthCheckTemplate } from '../src/types.js';

function setup(): { w: World; vpc: string } {
  const w = new World();
  return { w, vpc: w.vpc(VPC4) };
}

/** Create a group with this HealthCheckConfig and return what was stored. */
function hcOf(w: World, vpc: string, hc: Record<string, unknown>): HealthCheckConfig {
  return w.g(w.group({ VpcId: vpc, HealthCheckConfig: hc })).HealthCheckConfig;
}

function hcFails(hc: Record<string, unknown>, code: string): void {
  const { w, vpc } = setup();
  w.fails('CreateServerGroup', { ServerGroupName: 'g1', VpcId: vpc, HealthCheckConfig: hc }, code);
}

describe('health check config (HC-1)', () => {
  it('HC-1: the defaults are HTTP HEAD / http_2xx, 2 s interval, 5 s timeout, thresholds 3, HTTP1.1', () => {
    assert.deepEqual(defaultHealthCheck(), {
      HealthCheckEnabled: true, HealthCheckProtocol: 'HTTP', HealthCheckPath: '/', HealthCheckMethod: 'HEAD', HealthCheckHost: '',
      HealthCheckCodes: ['http_2xx'], HealthCheckInterval: 2, HealthCheckTimeout: 5, HealthyThreshold: 3, UnhealthyThreshold: 3,
      HealthCheckConnectPort: 0, HealthCheckHttpVersion: 'HTTP1.1',
    });
  });

  const ranges: [keyof HealthCheckConfig, number, number][] = [
    ['HealthCheckInterval', 1, 50],
    ['HealthCheckTimeout', 1, 300],
    ['HealthyThreshold', 2, 10],
    ['UnhealthyThreshold', 2, 10],
    ['HealthCheckConnectPort', 0, 65535],
  ];
  for (const [field, min, max] of ranges) {
    for (const v of [min, max]) {
      it(`HC-1: ${field} ${v} is accepted`, () => {
        const { w, vpc } = setup();
        assert.equal(hcOf(w, vpc, { [field]: v })[field], v);
      });
    }
    for (const v of [min - 1, max + 1]) {
      it(`HC-1: ${field} ${v} is refused`, () => hcFails({ [field]: v }, `InvalidParameter.${field}`));
    }
  }

  for (const path of ['/', '/health', '/a/b.c?x=1&y=2', `/${'p'.repeat(79)}`]) {
    it(`HC-1: path "${path.slice(0, 20)}" is accepted`, () => {
      const { w, vpc } = setup();
      assert.equal(hcOf(w, vpc, { HealthCheckPath: path }).HealthCheckPath, path);
    });
  }
  for (const path of ['health', '', '/a b', '/a"b', `/${'p'.repeat(80)}`]) {
    it(`HC-1: path ${JSON.stringify(path.slice(0, 20))} is refused`, () => hcFails({ HealthCheckPath: path }, 'InvalidParameter.HealthCheckPath'));
  }

  it('HC-1: gRPC checks default to POST and status 0', () => {
    const { w, vpc } = setup();
    const hc = hcOf(w, vpc, { HealthCheckProtocol: 'gRPC' });
    assert.equal(hc.HealthCheckMethod, 'POST');
    assert.deepEqual(hc.HealthCheckCodes, ['0']);
  });
  it('HC-1: gRPC checks accept GET and status ranges', () => {
    const { w, vpc } = setup();
    const hc = hcOf(w, vpc, { HealthCheckProtocol: 'gRPC', HealthCheckMethod: 'GET', HealthCheckCodes: ['0-2', '5', '0-99'] });
    assert.equal(hc.HealthCheckMethod, 'GET');
    assert.deepEqual(hc.HealthCheckCodes, ['0-2', '5', '0-99']);
  });
  it('HC-1: gRPC checks refuse HEAD', () => hcFails({ HealthCheckProtocol: 'gRPC', HealthCheckMethod: 'HEAD' }, 'InvalidParameter.HealthCheckMethod'));
  it('HC-1: method PUT is refused', () => hcFails({ HealthCheckMethod: 'PUT' }, 'InvalidParameter.HealthCheckMethod'));
  it('HC-1: several HTTP codes are accepted, also as a comma-separated string', () => {
    const { w, vpc } = setup();
    assert.deepEqual(hcOf(w, vpc, { HealthCheckCodes: ['http_2xx', 'http_3xx'] }).HealthCheckCodes, ['http_2xx', 'http_3xx']);
    assert.deepEqual(hcOf(w, vpc, { HealthCheckCodes: 'http_2xx,http_5xx' }).HealthCheckCodes, ['http_2xx', 'http_5xx']);
  });
  const badCodes: [string, Record<string, unknown>][] = [
    ['a gRPC status on an HTTP check', { HealthCheckCodes: ['0'] }],
    ['http_2xx on a gRPC check', { HealthCheckProtocol: 'gRPC', HealthCheckCodes: ['http_2xx'] }],
    ['gRPC status 100', { HealthCheckProtocol: 'gRPC', HealthCheckCodes: ['100'] }],
    ['a reversed gRPC range 5-2', { HealthCheckProtocol: 'gRPC', HealthCheckCodes: ['5-2'] }],
    ['http_6xx', { HealthCheckCodes: ['http_6xx'] }],
    ['a repeated code', { HealthCheckCodes: ['http_2xx', 'http_2xx'] }],
    ['an empty list', { HealthCheckCodes: [] }],
  ];
  for (const [what, hc] of badCodes) {
    it(`HC-1: ${what} is refused`, () => hcFails(hc, 'InvalidParameter.HealthCheckCodes'));
  }
  it('HC-1: TCP checks ignore path, method and codes (given values are kept, not refused)', () => {
    const { w, vpc } = setup();
    const hc = hcOf(w, vpc, { HealthCheckProtocol: 'TCP', HealthCheckCodes: ['http_3xx'], HealthCheckMethod: 'GET' });
    assert.equal(hc.HealthCheckProtocol, 'TCP');
    assert.deepEqual(hc.HealthCheckCodes, ['http_3xx']);
  });
  for (const host of ['example.com', 'a-b.example.org', '192.0.2.1', '']) {
    it(`HC-1: host "${host}" is accepted`, () => {
      const { w, vpc } = setup();
      assert.equal(hcOf(w, vpc, { HealthCheckHost: host }).HealthCheckHost, host);
    });
  }
  for (const host of ['bad host', '-a.com', 'a..com', 'h'.repeat(81)]) {
    it(`HC-1: host ${JSON.stringify(host.slice(0, 20))} is refused`, () => hcFails({ HealthCheckHost: host }, 'InvalidParameter.HealthCheckHost'));
  }
  it('HC-1: HealthCheckHttpVersion HTTP1.0 is accepted, HTTP2 refused', () => {
    const { w, vpc } = setup();
    assert.equal(hcOf(w, vpc, { HealthCheckHttpVersion: 'HTTP1.0' }).HealthCheckHttpVersion, 'HTTP1.0');
    hcFails({ HealthCheckHttpVersion: 'HTTP2' }, 'InvalidParameter.HealthCheckHttpVersion');
  });
  it('HC-1: protocol UDP is refused', () => hcFails({ HealthCheckProtocol: 'UDP' }, 'InvalidParameter.HealthCheckProtocol'));
  it('HC-1: an unknown field is refused', () => hcFails({ HealthCheckPort: 80 }, 'InvalidParameter.Unknown'));
  it('HC-1: switching an HTTP check to gRPC resets method and codes to the gRPC defaults', () => {
    const { w, vpc } = setup();
    const id = w.group({ VpcId: vpc, HealthCheckConfig: { HealthCheckCodes: ['http_2xx', 'http_3xx'], HealthCheckPath: '/hz' } });
    w.ok('UpdateServerGroupAttribute', { ServerGroupId: id, HealthCheckConfig: { HealthCheckProtocol: 'gRPC' } });
    const hc = w.g(id).HealthCheckConfig;
    assert.equal(hc.HealthCheckMethod, 'POST');
    assert.deepEqual(hc.HealthCheckCodes, ['0']);
    assert.equal(hc.HealthCheckPath, '/hz');
  });
  it('HC-1: HealthCheckEnabled false is stored; other fields keep their values', () => {
    const { w, vpc } = setup();
    const hc = hcOf(w, vpc, { HealthCheckEnabled: false, HealthCheckInterval: 7 });
    assert.equal(hc.HealthCheckEnabled, false);
    assert.equal(hc.HealthCheckInterval, 7);
  });
});

describe('health check templates (HC-2)', () => {
  it('HC-2: CreateHealthCheckTemplate stores every HC-1 field with defaults', () => {
    const w = new World();
    const id = w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: 'web-check', HealthCheckPath: '/ready', HealthCheckInterval: 10 }).HealthCheckTemplateId as string;
    assert.match(id, /^hct-/);
    const t = w.ok('GetHealthCheckTemplateAttribute', { HealthCheckTemplateId: id }) as unknown as HealthCheckTemplate;
    assert.equal(t.HealthCheckTemplateName, 'web-check');
    assert.equal(t.HealthCheckPath, '/ready');
    assert.equal(t.HealthCheckInterval, 10);
    assert.equal(t.HealthCheckTimeout, 5);
    assert.deepEqual(t.HealthCheckCodes, ['http_2xx']);
  });
  const refused: [string, Record<string, unknown>, string][] = [
    ['no name', {}, 'MissingParameter.HealthCheckTemplateName'],
    ['a name starting with a digit', { HealthCheckTemplateName: '9x' }, 'InvalidParameter.HealthCheckTemplateName'],
    ['an interval of 51 s', { HealthCheckTemplateName: 'tpl', HealthCheckInterval: 51 }, 'InvalidParameter.HealthCheckInterval'],
    ['gRPC with http codes', { HealthCheckTemplateName: 'tpl', HealthCheckProtocol: 'gRPC', HealthCheckCodes: ['http_2xx'] }, 'InvalidParameter.HealthCheckCodes'],
    ['HealthCheckEnabled (not a template field)', { HealthCheckTemplateName: 'tpl', HealthCheckEnabled: true }, 'InvalidParameter.Unknown'],
  ];
  for (const [what, params, code] of refused) {
    it(`HC-2: CreateHealthCheckTemplate refuses ${what} with ${code}`, () => new World().fails('CreateHealthCheckTemplate', params, code));
  }
  it('HC-2 / SG-10: the 51st template is QuotaExceeded.HealthCheckTemplatesNum', () => {
    const w = new World();
    for (let i = 0; i < 50; i++) w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: `t${i}` });
    w.fails('CreateHealthCheckTemplate', { HealthCheckTemplateName: 'one-more' }, 'QuotaExceeded.HealthCheckTemplatesNum');
  });
  it('HC-2: UpdateHealthCheckTemplateAttribute merges the given fields', () => {
    const w = new World();
    const id = w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: 'tpl', HealthCheckPath: '/a' }).HealthCheckTemplateId as string;
    w.ok('UpdateHealthCheckTemplateAttribute', { HealthCheckTemplateId: id, HealthCheckTemplateName: 'tpl2', HealthyThreshold: 5 });
    const t = w.state.healthCheckTemplates[id]!;
    assert.equal(t.HealthCheckTemplateName, 'tpl2');
    assert.equal(t.HealthyThreshold, 5);
    assert.equal(t.HealthCheckPath, '/a');
    w.fails('UpdateHealthCheckTemplateAttribute', { HealthCheckTemplateId: id, HealthyThreshold: 11 }, 'InvalidParameter.HealthyThreshold');
    w.fails('UpdateHealthCheckTemplateAttribute', { HealthCheckTemplateId: 'hct-nope' }, 'ResourceNotFound.HealthCheckTemplate');
  });
  it('HC-2: ListHealthCheckTemplates filters by ids and names and pages', () => {
    const w = new World();
    const ids = ['a1', 'b2', 'c3'].map((n) => w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: n }).HealthCheckTemplateId as string);
    const list = (params: Record<string, unknown>) => (w.ok('ListHealthCheckTemplates', params).HealthCheckTemplates as HealthCheckTemplate[]).map((t) => t.HealthCheckTemplateId);
    assert.deepEqual(list({}), ids);
    assert.deepEqual(list({ HealthCheckTemplateIds: [ids[2]] }), [ids[2]]);
    assert.deepEqual(list({ HealthCheckTemplateNames: ['b2', 'a1'] }), [ids[0], ids[1]]);
    const p1 = w.ok('ListHealthCheckTemplates', { MaxResults: 1 });
    assert.equal(p1.TotalCount, 3);
    assert.deepEqual(list({ MaxResults: 1, NextToken: p1.NextToken }), [ids[1]]);
  });
  it('HC-2: DeleteHealthCheckTemplates deletes several; an unknown id refuses the whole call', () => {
    const w = new World();
    const a = w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: 'a1' }).HealthCheckTemplateId as string;
    const b = w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: 'b1' }).HealthCheckTemplateId as string;
    w.fails('DeleteHealthCheckTemplates', { HealthCheckTemplateIds: [a, 'hct-nope'] }, 'ResourceNotFound.HealthCheckTemplate');
    w.ok('DeleteHealthCheckTemplates', { HealthCheckTemplateIds: [a, b] });
    assert.deepEqual(w.state.healthCheckTemplates, {});
    w.fails('DeleteHealthCheckTemplates', { HealthCheckTemplateIds: Array.from({ length: 11 }, (_, i) => `hct-${i}`) }, 'InvalidParameter.HealthCheckTemplateIds');
    w.fails('DeleteHealthCheckTemplates', {}, 'MissingParameter.HealthCheckTemplateIds');
  });
  it('HC-2: ApplyHealthCheckTemplateToServerGroup copies the settings with checks on', () => {
    const { w, vpc } = setup();
    const tid = w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: 'tpl', HealthCheckProtocol: 'TCP', HealthCheckInterval: 9, HealthCheckConnectPort: 8081 }).HealthCheckTemplateId as string;
    const gid = w.group({ VpcId: vpc, HealthCheckConfig: { HealthCheckEnabled: false } });
    w.ok('ApplyHealthCheckTemplateToServerGroup', { ServerGroupId: gid, HealthCheckTemplateId: tid });
    const hc = w.g(gid).HealthCheckConfig as HealthCheckConfig & { HealthCheckTemplateId?: string };
    assert.equal(hc.HealthCheckEnabled, true);
    assert.equal(hc.HealthCheckProtocol, 'TCP');
    assert.equal(hc.HealthCheckInterval, 9);
    assert.equal(hc.HealthCheckConnectPort, 8081);
    assert.equal(hc.HealthCheckTemplateId, undefined, 'only HC-1 fields are copied');
    // A copy: changing the template later does not change the group.
    w.ok('UpdateHealthCheckTemplateAttribute', { HealthCheckTemplateId: tid, HealthCheckInterval: 20 });
    assert.equal(w.g(gid).HealthCheckConfig.HealthCheckInterval, 9);
  });
  it('HC-2 / SG-4: a template may be applied to an Fc group', () => {
    const w = new World();
    const tid = w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: 'tpl' }).HealthCheckTemplateId as string;
    const gid = w.group({ ServerGroupType: 'Fc' });
    w.ok('ApplyHealthCheckTemplateToServerGroup', { ServerGroupId: gid, HealthCheckTemplateId: tid });
    assert.equal(w.g(gid).HealthCheckConfig.HealthCheckEnabled, true);
  });
  it('HC-2 / SG-11: an HTTPS template cannot be applied to a group on a Basic instance', () => {
    const { w, vpc } = setup();
    const tid = w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: 'tpl', HealthCheckProtocol: 'HTTPS' }).HealthCheckTemplateId as string;
    const gid = w.group({ VpcId: vpc });
    w.attach([gid], { edition: 'Basic' });
    w.fails('ApplyHealthCheckTemplateToServerGroup', { ServerGroupId: gid, HealthCheckTemplateId: tid }, 'OperationDenied.BasicEdition');
  });
  it('HC-2: applying to an unknown group or template is ResourceNotFound', () => {
    const { w, vpc } = setup();
    const tid = w.ok('CreateHealthCheckTemplate', { HealthCheckTemplateName: 'tpl' }).HealthCheckTemplateId as string;
    const gid = w.group({ VpcId: vpc });
    w.fails('ApplyHealthCheckTemplateToServerGroup', { ServerGroupId: 'sgp-nope', HealthCheckTemplateId: tid }, 'ResourceNotFound.ServerGroup');
    w.fails('ApplyHealthCheckTemplateToServerGroup', { ServerGroupId: gid, HealthCheckTemplateId: 'hct-nope' }, 'ResourceNotFound.HealthCheckTemplate');
  });
});
