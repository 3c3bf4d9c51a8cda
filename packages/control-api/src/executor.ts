import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  stampVersion, ApiError, Errors, actionNames, apiError, getAction, invalidParam, unknownActionError, Params, type ActionEnv, type Collections,
  type Job, type ParamsOptions, type WriteOp,
} from '@fulcrum/model';
import '@fulcrum/model/actions/index';
import type { StateStore } from '@fulcrum/state';
import { builtinActions, type BuiltinAction, type BuiltinContext } from './builtin-actions.js';

/** How long a ClientToken is remembered (API-3). ALB keeps them for a day. */
export const CLIENT_TOKEN_TTL_MS = 24 * 3600 * 1000;
/**
 * How long a request waits for an earlier request with the same ClientToken and parameters
 * that is still running, to answer with its reply rather than IdempotenceProcessing (API-3:
 * two concurrent retries of one call both get the first reply).
 */
export const CLIENT_TOKEN_WAIT_MS = 10_000;
const CLIENT_TOKEN_POLL_MS = 20;
/** CAS retries when another writer committed between our snapshot and our commit. */
const MAX_CAS_RETRIES = 8;

export interface ExecuteResult {
  status: number;
  body: Record<string, unknown>;
  /** The resource a write created or changed (for the audit log). */
  resourceId?: string;
  /** Extra response headers (a read answered from the node's last applied state). */
  headers?: Record<string, string>;
}

/** The node's own copy of the state, for reads while the store is unreachable (API-8). */
export interface LastAppliedState {
  version: number;
  data: Collections;
  /** What the node's data plane runs (server statuses are relative to it). */
  appliedVersion: number;
  /** When the store last confirmed this version as current. */
  confirmedAtMs: number;
}

/** The header a read answered from the node's last applied state carries (API-8). */
export const STALE_STATE_HEADER = 'fulcrum-stale-state';

function isStoreUnavailable(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 'STORE_UNAVAILABLE';
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export function newResourceId(prefix: string): string {
  const bytes = randomBytes(20);
  let s = '';
  for (const b of bytes) s += ID_ALPHABET[b % 36];
  return `${prefix}-${s}`;
}

/**
 * The collections an action reads, without Object.prototype behind them. Actions look
 * records up as `state.<collection>[id]` with caller-supplied ids, and on a plain object an
 * id such as `constructor` or `toString` finds an inherited function instead of nothing:
 * the action then runs on it (a 500, or a write that refers to a VPC that does not exist).
 */
export function isolateCollections(data: Collections): Collections {
  const out: Record<string, unknown> = {};
  for (const [name, coll] of Object.entries(data)) out[name] = Object.assign(Object.create(null) as object, coll);
  return out as unknown as Collections;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Canonical JSON (sorted keys) so the same parameters always hash the same. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

export interface ExecutorOptions {
  store: StateStore;
  /** Called after every committed write (the embedded node uses it to push snapshots at once). */
  onCommitted?(version: number): void;
  /** Actions the node adds (the prober's DescribeProberState / ReportHealthTransitions). */
  extraActions?: Record<string, BuiltinAction>;
  /** The node's last applied state: reads answer from it while the store is unreachable. */
  lastApplied?(): LastAppliedState | undefined;
}

/**
 * Runs admin actions against the store with the API conventions of SPEC §9: DryRun,
 * ClientToken idempotency, compare-and-set commits, jobs.
 */
export class Executor {
  private readonly store: StateStore;
  private readonly onCommitted?: (version: number) => void;
  private readonly extraActions: Record<string, BuiltinAction>;
  private readonly lastApplied?: () => LastAppliedState | undefined;

  constructor(opts: ExecutorOptions) {
    this.store = opts.store;
    this.onCommitted = opts.onCommitted;
    this.extraActions = opts.extraActions ?? {};
    this.lastApplied = opts.lastApplied;
  }

  /** Whether the action changes state: what the audit log records. */
  isWrite(action: string): boolean {
    const builtin = Object.hasOwn(this.extraActions, action) ? this.extraActions[action] : Object.hasOwn(builtinActions, action) ? builtinActions[action] : undefined;
    if (builtin) return builtin.write === true;
    return getAction(action)?.write ?? false;
  }

  /** InvalidAction, naming the nearest action this API has when the name looks like a typo. */
  unknownAction(action: string): ApiError {
    return unknownActionError(action, [...actionNames(), ...Object.keys(builtinActions), ...Object.keys(this.extraActions)]);
  }

  /** The lowest version every live data plane has applied (API-4); the current one if no node runs. */
  async appliedVersion(current: number): Promise<number> {
    const nodes = await this.store.listNodes();
    if (nodes.length === 0) return current;
    let min = Infinity;
    for (const n of nodes) min = Math.min(min, n.AppliedVersion);
    return Math.min(min, current);
  }

  /** `wire`: how the parameters came (ALB's OpenAPI may send objects and lists as JSON text). */
  async execute(action: string, body: Record<string, unknown>, requestId: string, wire: ParamsOptions = {}): Promise<ExecuteResult> {
    const params: Record<string, unknown> = { ...body };
    const common = new Params({ DryRun: params.DryRun, ClientToken: params.ClientToken });
    const dryRun = common.bool('DryRun') ?? false;
    const clientToken = common.str('ClientToken', { min: 1, max: 64, pattern: /^[\x20-\x7e]+$/, patternWhy: 'must be 1 to 64 printable ASCII characters' });
    delete params.DryRun;
    delete params.ClientToken;

    const builtin = Object.hasOwn(this.extraActions, action) ? this.extraActions[action] : Object.hasOwn(builtinActions, action) ? builtinActions[action] : undefined;
    if (builtin) {
      const ctx: BuiltinContext = { store: this.store, appliedVersion: (v) => this.appliedVersion(v) };
      const p = new Params(params, '', wire);
      const reply = await builtin(p, ctx);
      p.done();
      return { status: 200, body: { RequestId: requestId, ...reply } };
    }
    const def = getAction(action);
    if (!def) throw this.unknownAction(action);

    if (!def.write) {
      let data: Collections;
      let applied: number;
      let stale: LastAppliedState | undefined;
      try {
        const snap = await this.store.snapshot();
        data = snap.data;
        applied = await this.appliedVersion(snap.version);
      } catch (e) {
        // Store unreachable: a read still answers, from what this node last applied, and says
        // how old that is. Writes (below) still fail: they need the store.
        stale = isStoreUnavailable(e) ? this.lastApplied?.() : undefined;
        if (!stale) throw e;
        data = stale.data;
        applied = stale.appliedVersion;
      }
      const p = new Params(params, '', wire);
      const r = def.run(isolateCollections(data), p, this.env(applied));
      p.done();
      if (!stale) return { status: 200, body: { RequestId: requestId, ...r.reply } };
      const ageSeconds = Math.max(0, Math.round((Date.now() - stale.confirmedAtMs) / 100) / 10);
      return {
        status: 200,
        body: { RequestId: requestId, ...r.reply, StaleState: { StateVersion: stale.version, AgeSeconds: ageSeconds } },
        headers: { [STALE_STATE_HEADER]: `version=${stale.version}; age=${ageSeconds}` },
      };
    }

    if (dryRun) {
      const snap = await this.store.snapshot();
      const p = new Params(params, '', wire);
      def.run(isolateCollections(snap.data), p, this.env(await this.appliedVersion(snap.version)));
      p.done();
      throw apiError(Errors.DryRunOperation);
    }

    if (clientToken === undefined) return this.write(action, params, requestId, wire);

    const signature = createHash('sha256').update(action).update('\0').update(canonical(params)).digest('hex');
    let claim = await this.store.claimClientToken(clientToken, signature, CLIENT_TOKEN_TTL_MS);
    // The same call still running elsewhere: wait for its reply. Should it fail, its claim is
    // released and this request takes the token over ('new') and runs the call itself.
    const deadline = Date.now() + CLIENT_TOKEN_WAIT_MS;
    while (claim.state === 'pending' && claim.signature === signature && Date.now() < deadline) {
      await sleep(CLIENT_TOKEN_POLL_MS);
      claim = await this.store.claimClientToken(clientToken, signature, CLIENT_TOKEN_TTL_MS);
    }
    if (claim.state !== 'new') {
      if (claim.signature !== signature) throw apiError(Errors.IdempotenceSignatureMismatch, { token: clientToken });
      if (claim.state === 'pending') throw apiError(Errors.IdempotenceProcessing, { token: clientToken });
      const first = claim.reply as Record<string, unknown>;
      return { status: 200, body: { ...first, RequestId: requestId } };
    }
    try {
      const result = await this.write(action, params, requestId, wire);
      await this.store.completeClientToken(clientToken, signature, result.body, CLIENT_TOKEN_TTL_MS);
      return result;
    } catch (e) {
      await this.store.releaseClientToken(clientToken).catch(() => undefined);
      throw e;
    }
  }

  private env(appliedVersion: number): ActionEnv {
    return { nowMs: Date.now(), newId: newResourceId, newSecretHex: (n) => randomBytes(n).toString('hex'), appliedVersion };
  }

  private async write(action: string, params: Record<string, unknown>, requestId: string, wire: ParamsOptions): Promise<ExecuteResult> {
    const def = getAction(action)!;
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const snap = await this.store.snapshot();
      const env = this.env(await this.appliedVersion(snap.version));
      const p = new Params(params, '', wire);
      const r = def.run(isolateCollections(snap.data), p, env);
      p.done();
      const ops = stampVersion(r.ops ?? [], snap.version + 1);
      let version = snap.version;
      if (ops.length > 0) {
        const c = await this.store.commit(ops, { expectVersion: snap.version });
        if (!c.ok) continue;
        version = c.version;
      }
      const job: Job = {
        JobId: randomUUID(),
        Action: action,
        ResourceId: r.resourceId,
        ResourceType: r.resourceType,
        Status: ops.length > 0 ? 'Processing' : 'Succeeded',
        Version: version,
        CreateTime: new Date().toISOString(),
      };
      await this.store.putJob(job);
      if (ops.length > 0) this.onCommitted?.(version);
      return { status: 200, body: { RequestId: requestId, JobId: job.JobId, ...r.reply }, resourceId: r.resourceId };
    }
    throw apiError(Errors.Conflict);
  }
}


/** Map any thrown value to an API reply; programmer errors become a 500 without a stack. */
export function errorReply(e: unknown, requestId: string): ExecuteResult {
  if (isStoreUnavailable(e)) {
    // D-3: the store is down; the data plane keeps serving, writes must wait.
    const u = apiError(Errors.ServiceUnavailable, { why: 'writes and consistent reads resume when it is back' });
    return { status: u.httpStatus, body: { Code: u.code, Message: u.message, RequestId: requestId } };
  }
  if (e instanceof ApiError) {
    return { status: e.httpStatus, body: { Code: e.code, Message: e.message, RequestId: requestId } };
  }
  return {
    status: 500,
    body: { Code: Errors.InternalError.code, Message: Errors.InternalError.template, RequestId: requestId },
  };
}

export { invalidParam };
