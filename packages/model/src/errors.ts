/**
 * The one error table of the project (API-2). Every expected failure that can reach an
 * API caller is an ApiError built from a code defined here; the HTTP edge maps it to
 * `{Code, Message, RequestId}` with the table's status. Programmer errors are plain Errors
 * and never reach a client with their stack.
 */

export interface ErrorDef {
  code: string;
  httpStatus: number;
  /** Message template; `{name}` is replaced from the params given to `raise`. */
  template: string;
}

const table = new Map<string, ErrorDef>();

export function defineError(code: string, httpStatus: number, template: string): ErrorDef {
  if (table.has(code)) throw new Error(`error code defined twice: ${code}`);
  const def = { code, httpStatus, template };
  table.set(code, def);
  return def;
}

export function errorDefs(): ReadonlyMap<string, ErrorDef> {
  return table;
}

export class ApiError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  constructor(code: string, httpStatus: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

function render(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => (k in params ? String(params[k]) : `{${k}}`));
}

/** Build an ApiError from a defined code. Codes with a `<Name>` suffix use `raiseNamed`. */
export function apiError(def: ErrorDef, params: Record<string, unknown> = {}): ApiError {
  return new ApiError(def.code, def.httpStatus, render(def.template, params));
}

/**
 * Families of codes whose suffix names a parameter, a quota or a reason
 * (`InvalidParameter.Weight`, `QuotaExceeded.ServersNum`, `OperationDenied.CrossZoneDisabled`).
 * The suffix is part of the code; the family's status applies to every member.
 */
const families = new Map<string, { httpStatus: number; template: string }>();

export function defineErrorFamily(prefix: string, httpStatus: number, template: string): void {
  families.set(prefix, { httpStatus, template });
}

export function errorFamilies(): ReadonlyMap<string, { httpStatus: number; template: string }> {
  return families;
}

export function familyError(prefix: string, suffix: string, params: Record<string, unknown> = {}): ApiError {
  const fam = families.get(prefix);
  if (!fam) throw new Error(`unknown error family ${prefix}`);
  return new ApiError(`${prefix}.${suffix}`, fam.httpStatus, render(fam.template, { suffix, ...params }));
}

/** `InvalidParameter.<Name>`: the message names the parameter and what is allowed. */
/** The code names the leaf parameter (`Servers.1.Weight` -> `InvalidParameter.Weight`); the message the full path. */
export function leafName(path: string): string {
  const parts = path.split('.').filter((x) => /^[A-Za-z]/.test(x));
  const leaf = parts.length ? parts[parts.length - 1]! : '';
  return leaf.replace(/[^A-Za-z0-9]/g, '') || 'Unknown';
}
export function invalidParam(name: string, why: string): ApiError {
  return familyError('InvalidParameter', leafName(name), { name, why });
}
export function missingParam(name: string): ApiError {
  return familyError('MissingParameter', leafName(name), { name });
}
export function notFound(kind: string, id: string): ApiError {
  return familyError('ResourceNotFound', kind, { id });
}
export function inUse(kind: string, id: string, by: string): ApiError {
  return familyError('ResourceInUse', kind, { id, by });
}
export function incorrectStatus(kind: string, id: string, why: string): ApiError {
  return familyError('IncorrectStatus', kind, { id, why });
}
export function quotaExceeded(name: string, limit: number): ApiError {
  return familyError('QuotaExceeded', name, { limit });
}
export function duplicated(kind: string, what: string): ApiError {
  return familyError('DuplicatedParam', kind, { what });
}
export function operationDenied(reason: string, why: string): ApiError {
  return familyError('OperationDenied', reason, { why });
}
export function resourceAlreadyExists(kind: string, what: string): ApiError {
  return familyError('ResourceAlreadyExist', kind, { what });
}

defineErrorFamily('InvalidParameter', 400, 'The parameter {name} is invalid: {why}.');
defineErrorFamily('MissingParameter', 400, 'The parameter {name} is required.');
defineErrorFamily('ResourceNotFound', 404, 'The {suffix} {id} does not exist.');
defineErrorFamily('ResourceInUse', 409, 'The {suffix} {id} is in use by {by}.');
defineErrorFamily('IncorrectStatus', 409, 'The {suffix} {id} is in an incorrect status: {why}.');
defineErrorFamily('QuotaExceeded', 400, 'The quota {suffix} is exceeded: the limit is {limit}.');
defineErrorFamily('DuplicatedParam', 400, 'Duplicated {suffix}: {what}.');
defineErrorFamily('OperationDenied', 403, 'The operation is denied: {why}.');
defineErrorFamily('ResourceAlreadyExist', 409, 'The {suffix} already exists: {what}.');
defineErrorFamily('ResourceAlreadyAssociated', 409, 'The {suffix} is already associated: {what}.');

export const Errors = {
  InvalidAction: defineError('InvalidAction.NotFound', 404, 'The action {action} does not exist.{hint}'),
  MalformedJson: defineError('InvalidParameter.MalformedJson', 400, 'The request body is not valid JSON: {why}.'),
  BodyTooLarge: defineError('InvalidParameter.BodyTooLarge', 413, 'The request body is larger than {limit} bytes.'),
  UnsupportedMediaType: defineError('InvalidParameter.ContentType', 415, 'The request must be sent with Content-Type: application/json.'),
  CrossOrigin: defineError('Forbidden.CrossOrigin', 403, 'The admin API takes no requests sent by a page of another origin.'),
  MisdirectedHost: defineError('MisdirectedRequest.Host', 421, 'The admin API does not answer to {what}; it answers to the address it listens on, loopback names and the names given with --admin-allowed-host.'),
  InvalidEncoding: defineError('InvalidParameter.Encoding', 400, 'The request body is not valid UTF-8.'),
  TooDeep: defineError('InvalidParameter.NestingTooDeep', 400, 'The request body is nested deeper than {limit} levels.'),
  UnknownParameter: defineError('InvalidParameter.Unknown', 400, 'The parameter {name} is not known to {action}.'),
  MethodNotAllowed: defineError('InvalidMethod', 405, 'Only POST is accepted on /api/<Action>.'),
  DryRunOperation: defineError('DryRunOperation', 400, 'Request validation has been passed with DryRun flag set.'),
  IdempotenceSignatureMismatch: defineError('IdempotenceSignatureMismatch', 400, 'The ClientToken {token} was used before with other parameters.'),
  IdempotenceProcessing: defineError('IdempotenceProcessing', 409, 'A request with ClientToken {token} is still being processed.'),
  Unauthorized: defineError('Forbidden.NoPermission', 401, 'A valid bearer token is required.'),
  ServiceUnavailable: defineError('ServiceUnavailable', 503, 'The state store is unavailable: {why}.'),
  Conflict: defineError('Conflict.ConcurrentUpdate', 409, 'The state changed concurrently; retry the request.'),
  HeadTooLarge: defineError('InvalidParameter.HeaderTooLarge', 431, 'The request head is larger than {limit} bytes.'),
  BadHttp: defineError('InvalidParameter.HttpRequest', 400, 'The request is not valid HTTP/1.1.'),
  RequestTimeout: defineError('RequestTimeout', 408, 'The request was not received in time.'),
  LoginThrottled: defineError('Throttling.ConsoleLogin', 429, 'Too many failed logins from this address; try again in {seconds} s.'),
  NoRoute: defineError('NotFound', 404, 'No route for {route}; the API is POST /api/<Action>.'),
  InternalError: defineError('InternalError', 500, 'The request failed because of an internal error; it has been logged.'),
  InvalidNextToken: defineError('InvalidParameter.NextToken', 400, 'The NextToken {token} is invalid or expired.'),
  // ALB's OpenAPI at `/` (signed requests of the Alibaba Cloud SDKs): the codes and statuses
  // of Alibaba Cloud's API gateway, so the SDKs and the CLI recognise them.
  AccessKeyNotFound: defineError('InvalidAccessKeyId.NotFound', 404, 'Specified access key is not found.'),
  SignatureDoesNotMatch: defineError('SignatureDoesNotMatch', 400, 'Specified signature is not matched with our calculation: {why}.'),
  IncompleteSignature: defineError('IncompleteSignature', 400, 'The request signature does not conform to Alibaba Cloud standards: {why}.'),
  SignatureMethod: defineError('InvalidSignatureMethod', 400, 'Specified signature method {method} is not valid; use {allowed}.'),
  TimeStampFormat: defineError('InvalidTimeStamp.Format', 400, 'Specified time stamp or date value {value} is not well formatted.'),
  TimeStampExpired: defineError('InvalidTimeStamp.Expired', 400, 'Specified time stamp or date value {value} is expired: it must be within 15 minutes of {now}.'),
  SignatureNonceUsed: defineError('SignatureNonceUsed', 400, 'Specified signature nonce was used already.'),
  InvalidVersion: defineError('InvalidVersion', 400, 'Specified parameter Version {version} is not valid; this endpoint serves {supported}.'),
  MissingAction: defineError('MissingAction', 400, 'Action is mandatory for this request: give it in x-acs-action or the Action parameter.'),
  UnsupportedHttpMethod: defineError('UnsupportedHTTPMethod', 400, 'The HTTP method {method} is not supported; use GET or POST.'),
  InvalidFormat: defineError('InvalidParameter.Format', 400, 'Specified parameter Format {format} is not valid; only JSON is supported.'),
} as const;
