import { createRequire } from 'node:module';

/**
 * The official Alibaba Cloud clients from npm, as their users load them: the ALB SDK
 * (`@alicloud/alb20200616`, ACS3-HMAC-SHA256 signatures), the generic OpenAPI client
 * (`@alicloud/openapi-client`, for calls the ALB SDK has no method for) and the RPC client
 * (`@alicloud/pop-core`, HMAC-SHA1 signatures). They are CommonJS packages.
 */
const require = createRequire(import.meta.url);
export const Alb = require('@alicloud/alb20200616') as typeof import('@alicloud/alb20200616');
export const OpenApi = require('@alicloud/openapi-client') as typeof import('@alicloud/openapi-client');
export const OpenApiUtil = (require('@alicloud/openapi-core') as typeof import('@alicloud/openapi-core')).OpenApiUtil;
const TeaUtil = require('@alicloud/tea-util') as typeof import('@alicloud/tea-util');
const PopCore = require('@alicloud/pop-core') as new (config: Record<string, unknown>) => PopClient;

export interface PopClient {
  request(action: string, params: Record<string, unknown>, opts?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export interface Key {
  id: string;
  secret: string;
}

export const ALB_VERSION = '2020-06-16';

/** The ALB SDK pointed at a Fulcrum node's admin port, over plain HTTP. */
export function albClient(port: number, key: Key): InstanceType<typeof Alb.default> {
  return new Alb.default(new OpenApi.Config({ accessKeyId: key.id, accessKeySecret: key.secret, endpoint: `127.0.0.1:${port}`, protocol: 'http' }));
}

/** A generic ACS3 call of any action with the parameters as given (already flat or JSON text). */
export async function openApiCall(port: number, key: Key, action: string, query: Record<string, string>): Promise<Record<string, unknown>> {
  const client = new OpenApi.default(new OpenApi.Config({ accessKeyId: key.id, accessKeySecret: key.secret, endpoint: `127.0.0.1:${port}`, protocol: 'http' }));
  const params = new OpenApi.Params({
    action, version: ALB_VERSION, protocol: 'HTTP', pathname: '/', method: 'POST', authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json',
  });
  const r = await client.callApi(params, new OpenApi.OpenApiRequest({ query }), new TeaUtil.RuntimeOptions({}));
  return r.body as Record<string, unknown>;
}

export function popClient(port: number, key: Key): PopClient {
  return new PopCore({ accessKeyId: key.id, accessKeySecret: key.secret, endpoint: `http://127.0.0.1:${port}`, apiVersion: ALB_VERSION });
}

/** What the SDKs throw on an error reply: the code, the HTTP status and ALB's error body. */
export interface SdkError {
  code?: string;
  statusCode?: number;
  data?: Record<string, unknown>;
}

export async function sdkError(p: Promise<unknown>): Promise<SdkError> {
  try {
    await p;
  } catch (e) {
    return e as SdkError;
  }
  throw new Error('the call succeeded but an error was expected');
}

/**
 * A raw RPC-style request signed with the SDK's own signer (`OpenApiUtil.getRPCSignature`),
 * for what the clients never send on purpose: a replayed nonce, a stale time stamp.
 */
export async function signedRpc(port: number, key: Key, params: Record<string, string>, method = 'GET'): Promise<{ status: number; body: Record<string, unknown> }> {
  const all: Record<string, string> = {
    Format: 'JSON', Version: ALB_VERSION, AccessKeyId: key.id, SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0',
    SignatureNonce: Math.random().toString(36).slice(2), Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), ...params,
  };
  all.Signature = OpenApiUtil.getRPCSignature(all, method, key.secret);
  const q = new URLSearchParams(all).toString();
  const res = await fetch(`http://127.0.0.1:${port}/?${q}`, { method });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

/**
 * A raw ACS3 request signed with the SDK's own signer (`OpenApiUtil.getAuthorization`) over
 * `signedBody`, then sent with `sentBody` and any extra unsigned headers: what a tampering
 * proxy would do.
 */
export async function signedAcs3(port: number, key: Key, action: string, signedBody: string, sentBody = signedBody, unsigned: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {
    host: `127.0.0.1:${port}`, 'x-acs-action': action, 'x-acs-version': ALB_VERSION, 'x-acs-date': OpenApiUtil.getTimestamp(),
    'x-acs-signature-nonce': OpenApiUtil.getNonce(), 'content-type': 'application/x-www-form-urlencoded',
    'x-acs-content-sha256': OpenApiUtil.hash(Buffer.from(signedBody), 'ACS3-HMAC-SHA256').toString('hex'),
  };
  const request = { pathname: '/', method: 'POST', query: {}, headers } as unknown as Parameters<typeof OpenApiUtil.getAuthorization>[0];
  headers.authorization = OpenApiUtil.getAuthorization(request, 'ACS3-HMAC-SHA256', headers['x-acs-content-sha256']!, key.id, key.secret);
  const { host: _host, ...sent } = headers;
  const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { ...sent, ...unsigned }, body: sentBody });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}
