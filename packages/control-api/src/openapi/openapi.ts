import type { IncomingMessage } from 'node:http';
import { apiError, Errors, invalidParam, missingParam, type ApiError } from '@fulcrum/model';
import { parseJsonBody, readBody } from '../body.js';
import { errorReply, type ExecuteResult, type Executor } from '../executor.js';
import { AccessKeys, type AccessKey } from './access-keys.js';
import { formPairs, openApiWire, unflatten, type Pair } from './decode.js';
import { ReplayGuard } from './replay-guard.js';
import { albError, albReply } from './reply.js';
import { RPC_SIGNATURE_PARAMS, verifyAcs3, verifyRpc, type Signed } from './signature.js';

/**
 * ALB's OpenAPI (version 2020-06-16) at `/`, the wire format of Alibaba Cloud's SDKs, CLI and
 * Terraform provider: the action in `x-acs-action` (ACS3 style) or `Action` (RPC style),
 * parameters flattened in the query or a form body, every request signed with an AccessKey
 * from `--access-keys-file`. The actions are the admin API's own (the Executor), so both wire
 * formats always offer the same operations with the same checks; only decoding, signatures
 * and the error shape are this module's.
 */

export const ALB_API_VERSION = '2020-06-16';

/** Parameters that address the endpoint rather than the action: a Fulcrum node is one region. */
const ENDPOINT_PARAMS = ['Action', 'Version', 'Format', 'RegionId'];
const ACTION_RE = /^[A-Z][A-Za-z0-9]{1,63}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A request for the OpenAPI rather than the console page that `GET /` also serves. */
export function isOpenApiRequest(req: IncomingMessage, query: string): boolean {
  return (req.method !== 'GET' && req.method !== 'HEAD') || req.headers['x-acs-action'] !== undefined || /(^|&)Action=/.test(query);
}

export interface OpenApiOutcome {
  action: string;
  /** `ak:<name>` of the key that signed the request; undefined when no valid signature came. */
  caller?: string;
  result: ExecuteResult;
}

export class OpenApi {
  private readonly keys: AccessKeys;
  private readonly replay: ReplayGuard;

  constructor(
    private readonly executor: Executor,
    keys: readonly AccessKey[] = [],
    private readonly log?: (line: Record<string, unknown>) => void,
    now?: () => number,
  ) {
    this.keys = new AccessKeys(keys);
    this.replay = new ReplayGuard(now);
  }

  /** New keys from a re-read `--access-keys-file` (SIGHUP); requests see the old or the new set. */
  replaceKeys(list: readonly AccessKey[]): void {
    this.keys.replace(list);
  }

  /** Serve one request; `refusal` is the admin server's verdict on its Host and Origin. */
  async handle(req: IncomingMessage, query: string, requestId: string, refusal?: ApiError): Promise<OpenApiOutcome> {
    let action = String(req.headers['x-acs-action'] ?? new URLSearchParams(query).get('Action') ?? '');
    let caller: string | undefined;
    try {
      if (refusal) throw refusal;
      if (req.method !== 'GET' && req.method !== 'POST') throw apiError(Errors.UnsupportedHttpMethod, { method: String(req.method).slice(0, 16) });
      const body = await readBody(req);
      const queryPairs = formPairs(query);
      // ACS3 is signed in Authorization; an RPC request carries Signature among its parameters
      // (pop-core sends x-acs-action too). Without either, x-acs-action says an ACS3 client.
      const acs3 = /^ACS3-/.test(req.headers.authorization ?? '')
        || (req.headers['x-acs-action'] !== undefined && !queryPairs.some(([k]) => k === 'Signature') && !isForm(req));
      const { pairs: bodyPairs, json } = bodyParams(req, body, acs3);
      const all = [...queryPairs, ...bodyPairs];
      let signed: Signed;
      let version: string | undefined;
      if (acs3) {
        signed = verifyAcs3(req, queryPairs, body, this.keys);
        version = req.headers['x-acs-version'] as string | undefined;
      } else {
        // Named before the signature check, so that a refused call is audited under its action.
        action = single(all, 'Action') ?? '';
        signed = verifyRpc(req.method, all, this.keys);
        version = single(all, 'Version');
        const format = single(all, 'Format');
        if (format !== undefined && format.toUpperCase() !== 'JSON') throw apiError(Errors.InvalidFormat, { format: format.slice(0, 16) });
      }
      this.replay.checkTime(signed.timestamp);
      this.replay.claimNonce(signed.key.id, signed.nonce, signed.timestamp);
      caller = `ak:${signed.key.name}`;
      if (version === undefined) throw missingParam('Version');
      if (version !== ALB_API_VERSION) throw apiError(Errors.InvalidVersion, { version: JSON.stringify(version.slice(0, 32)), supported: ALB_API_VERSION });
      if (action === '') throw apiError(Errors.MissingAction);
      if (!ACTION_RE.test(action)) throw apiError(Errors.InvalidAction, { action: action.slice(0, 64) });
      const skip = new Set([...ENDPOINT_PARAMS, ...(acs3 ? [] : RPC_SIGNATURE_PARAMS)]);
      const params = unflatten(all.filter(([k]) => !skip.has(k)));
      for (const [k, v] of Object.entries(json)) {
        if (Object.hasOwn(params, k)) throw invalidParam(k, 'is given both in the query and in the body');
        params[k] = v;
      }
      const result = await this.executor.execute(action, params, requestId, openApiWire);
      return { action, caller, result: { ...result, body: albReply(action, result.body) } };
    } catch (e) {
      const r = errorReply(e, requestId);
      if (r.status === 500) this.log?.({ level: 'error', msg: 'OpenAPI action failed', action, error: String((e as Error)?.stack ?? e) });
      const body = albError(requestId, req.headers.host ?? '', r.body.Code, r.body.Message);
      return { action: action.slice(0, 64), caller, result: { status: r.status, body } };
    }
  }
}

/** The one value of a parameter that must not repeat. */
function single(pairs: readonly Pair[], name: string): string | undefined {
  const found = pairs.filter(([k]) => k === name);
  if (found.length > 1) throw invalidParam(name, 'is given more than once');
  return found[0]?.[1];
}

function isForm(req: IncomingMessage): boolean {
  return /^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.headers['content-type'] ?? '');
}

/**
 * A form body gives flattened pairs; a JSON body structured parameters. An ACS3 signature
 * covers any body (its hash); an RPC signature only the pairs, so RPC takes no JSON body.
 */
function bodyParams(req: IncomingMessage, body: Buffer, acs3: boolean): { pairs: Pair[]; json: Record<string, unknown> } {
  if (body.length === 0) return { pairs: [], json: {} };
  const ct = req.headers['content-type'] ?? '';
  if (acs3 && /^application\/json\s*(;|$)/i.test(ct)) return { pairs: [], json: parseJsonBody(body) };
  if (!isForm(req)) {
    throw invalidParam('Content-Type', acs3 ? 'must be application/x-www-form-urlencoded or application/json' : 'must be application/x-www-form-urlencoded');
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw apiError(Errors.InvalidEncoding);
  }
  return { pairs: formPairs(text), json: {} };
}
