import assert from 'node:assert/strict';
import { World } from './helpers.js';
import { resolveFunctionTarget } from '../src/validate/functions.js';
import type { FunctionDef } from '../src/types.js';

function withFn(): World {
  const w = new World();
  w.ok('RegisterFunction', { FunctionName: 'hello', Module: '/srv/fns/hello.js', Description: 'says hello' });
  return w;
}

describe('functions (SG-4)', () => {
  it('SG-4: RegisterFunction stores the module with export "handler" by default', () => {
    const w = withFn();
    const f = w.state.functions['hello']!;
    assert.deepEqual([f.Module, f.Export, f.Description, f.Versions, f.Aliases], ['/srv/fns/hello.js', 'handler', 'says hello', [], {}]);
  });
  for (const [name, exp] of [['_private-fn', 'default'], ['a', 'run$2'], ['F'.repeat(64), 'handler']] as const) {
    it(`SG-4: function "${name.slice(0, 12)}" with export ${exp} is accepted`, () => {
      const w = new World();
      w.ok('RegisterFunction', { FunctionName: name, Module: 'fns/x.mjs', Export: exp });
      assert.equal(w.state.functions[name]!.Export, exp);
    });
  }
  const refused: [string, Record<string, unknown>, string][] = [
    ['a name starting with a digit', { FunctionName: '1fn', Module: 'x.js' }, 'InvalidParameter.FunctionName'],
    ['a name with ":"', { FunctionName: 'a:b', Module: 'x.js' }, 'InvalidParameter.FunctionName'],
    ['a name of 65 characters', { FunctionName: 'f'.repeat(65), Module: 'x.js' }, 'InvalidParameter.FunctionName'],
    ['no Module', { FunctionName: 'fn' }, 'MissingParameter.Module'],
    ['an empty Module', { FunctionName: 'fn', Module: '' }, 'InvalidParameter.Module'],
    ['a Module with NUL', { FunctionName: 'fn', Module: 'a\u0000b.js' }, 'InvalidParameter.Module'],
    ['a Module of 1025 characters', { FunctionName: 'fn', Module: 'm'.repeat(1025) }, 'InvalidParameter.Module'],
    ['an export that is not an identifier', { FunctionName: 'fn', Module: 'x.js', Export: 'a-b' }, 'InvalidParameter.Export'],
  ];
  for (const [what, params, code] of refused) {
    it(`SG-4: RegisterFunction refuses ${what} (${code})`, () => new World().fails('RegisterFunction', params, code));
  }
  it('SG-4: registering a name twice is ResourceAlreadyExist.Function', () => {
    withFn().fails('RegisterFunction', { FunctionName: 'hello', Module: 'other.js' }, 'ResourceAlreadyExist.Function');
  });

  it('SG-4: PublishFunctionVersion freezes the working copy as versions 1, 2, …', () => {
    const w = withFn();
    assert.equal(w.ok('PublishFunctionVersion', { FunctionName: 'hello' }).VersionId, '1');
    w.ok('UpdateFunctionAttribute', { FunctionName: 'hello', Module: '/srv/fns/hello2.js', Export: 'main' });
    assert.equal(w.ok('PublishFunctionVersion', { FunctionName: 'hello' }).VersionId, '2');
    const f = w.state.functions['hello']!;
    assert.deepEqual(f.Versions.map((v) => [v.VersionId, v.Module, v.Export]), [['1', '/srv/fns/hello.js', 'handler'], ['2', '/srv/fns/hello2.js', 'main']]);
    assert.deepEqual(resolveFunctionTarget(w.state, 'hello:1'), { FunctionName: 'hello', VersionId: '1', Module: '/srv/fns/hello.js', Export: 'handler' });
    assert.deepEqual(resolveFunctionTarget(w.state, 'hello'), { FunctionName: 'hello', VersionId: '$LATEST', Module: '/srv/fns/hello2.js', Export: 'main' });
    assert.equal(resolveFunctionTarget(w.state, 'hello:3'), undefined);
  });
  it('SG-4: publishing a version of an unknown function is ResourceNotFound.Function', () => {
    new World().fails('PublishFunctionVersion', { FunctionName: 'nope' }, 'ResourceNotFound.Function');
  });

  it('SG-4: an alias points at a version and UpdateFunctionAlias moves it', () => {
    const w = withFn();
    w.ok('PublishFunctionVersion', { FunctionName: 'hello' });
    w.ok('PublishFunctionVersion', { FunctionName: 'hello' });
    w.ok('CreateFunctionAlias', { FunctionName: 'hello', AliasName: 'prod', VersionId: '1' });
    assert.equal(resolveFunctionTarget(w.state, 'hello:prod')!.VersionId, '1');
    w.ok('UpdateFunctionAlias', { FunctionName: 'hello', AliasName: 'prod', VersionId: '2' });
    assert.equal(resolveFunctionTarget(w.state, 'hello:prod')!.VersionId, '2');
  });
  const aliasRefused: [string, Record<string, unknown>, string][] = [
    ['an alias that exists', { AliasName: 'prod', VersionId: '1' }, 'ResourceAlreadyExist.FunctionAlias'],
    ['an unpublished version', { AliasName: 'beta', VersionId: '9' }, 'ResourceNotFound.FunctionVersion'],
    ['the name LATEST', { AliasName: 'LATEST', VersionId: '1' }, 'InvalidParameter.AliasName'],
    ['an all-digit name', { AliasName: '12', VersionId: '1' }, 'InvalidParameter.AliasName'],
    ['VersionId $LATEST', { AliasName: 'beta', VersionId: '$LATEST' }, 'InvalidParameter.VersionId'],
  ];
  for (const [what, params, code] of aliasRefused) {
    it(`SG-4: CreateFunctionAlias refuses ${what} (${code})`, () => {
      const w = withFn();
      w.ok('PublishFunctionVersion', { FunctionName: 'hello' });
      w.ok('CreateFunctionAlias', { FunctionName: 'hello', AliasName: 'prod', VersionId: '1' });
      w.fails('CreateFunctionAlias', { FunctionName: 'hello', ...params }, code);
    });
  }
  it('SG-4: UpdateFunctionAlias of an unknown alias is ResourceNotFound.FunctionAlias', () => {
    const w = withFn();
    w.ok('PublishFunctionVersion', { FunctionName: 'hello' });
    w.fails('UpdateFunctionAlias', { FunctionName: 'hello', AliasName: 'prod', VersionId: '1' }, 'ResourceNotFound.FunctionAlias');
  });

  it('SG-4: DeleteFunction is refused while an Fc group uses it (ResourceInUse.Function), allowed after the removal propagated', () => {
    const w = withFn();
    const g = w.group({ ServerGroupType: 'Fc' });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [{ ServerId: 'hello', ServerType: 'Fc' }] });
    w.fails('DeleteFunction', { FunctionName: 'hello' }, 'ResourceInUse.Function');
    w.hold();
    w.ok('RemoveServersFromServerGroup', { ServerGroupId: g, Servers: [{ ServerId: 'hello', ServerType: 'Fc' }] });
    w.fails('DeleteFunction', { FunctionName: 'hello' }, 'ResourceInUse.Function');
    w.release();
    w.ok('DeleteFunction', { FunctionName: 'hello' });
    assert.equal(w.state.functions['hello'], undefined);
  });
  it('SG-4: an alias an Fc server names cannot be deleted (ResourceInUse.FunctionAlias); others can', () => {
    const w = withFn();
    w.ok('PublishFunctionVersion', { FunctionName: 'hello' });
    w.ok('CreateFunctionAlias', { FunctionName: 'hello', AliasName: 'prod', VersionId: '1' });
    w.ok('CreateFunctionAlias', { FunctionName: 'hello', AliasName: 'canary', VersionId: '1' });
    const g = w.group({ ServerGroupType: 'Fc' });
    w.ok('AddServersToServerGroup', { ServerGroupId: g, Servers: [{ ServerId: 'hello:prod', ServerType: 'Fc' }] });
    w.fails('DeleteFunctionAlias', { FunctionName: 'hello', AliasName: 'prod' }, 'ResourceInUse.FunctionAlias');
    w.ok('DeleteFunctionAlias', { FunctionName: 'hello', AliasName: 'canary' });
    assert.deepEqual(w.state.functions['hello']!.Aliases, { prod: '1' });
  });
  it('SG-4: DeleteFunction of an unknown function is ResourceNotFound.Function', () => {
    new World().fails('DeleteFunction', { FunctionName: 'nope' }, 'ResourceNotFound.Function');
  });
  it('SG-4: ListFunctions filters by name and pages', () => {
    const w = withFn();
    w.ok('RegisterFunction', { FunctionName: 'bye', Module: 'bye.js' });
    w.ok('RegisterFunction', { FunctionName: 'zed', Module: 'zed.js' });
    const names = (r: Record<string, unknown>) => (r.Functions as FunctionDef[]).map((f) => f.FunctionName);
    assert.deepEqual(names(w.ok('ListFunctions', {})), ['hello', 'bye', 'zed']);
    assert.deepEqual(names(w.ok('ListFunctions', { FunctionNames: ['zed'] })), ['zed']);
    const p1 = w.ok('ListFunctions', { MaxResults: 2 });
    assert.deepEqual(names(w.ok('ListFunctions', { MaxResults: 2, NextToken: p1.NextToken })), ['zed']);
  });
  it('SG-4: UpdateFunctionAttribute refuses a bad export and an unknown function', () => {
    const w = withFn();
    w.fails('UpdateFunctionAttribute', { FunctionName: 'hello', Export: '1x' }, 'InvalidParameter.Export');
    w.fails('UpdateFunctionAttribute', { FunctionName: 'nope', Module: 'x.js' }, 'ResourceNotFound.Function');
  });
});
