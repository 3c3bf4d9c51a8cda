import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * The standard gRPC health service (grpc.health.v1), encoded by hand: two one-field
 * messages do not justify protoc or a protobuf runtime.
 *
 *   message HealthCheckRequest  { string service = 1; }
 *   message HealthCheckResponse { ServingStatus status = 1; }
 *   enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
 */
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

export interface HealthCheckRequest {
  service: string;
}

export interface HealthCheckResponse {
  status: number;
}

/** What the client side decodes into: a malformed answer is a value (RESPONSE_FORMAT_ERROR), not a throw. */
export type DecodedResponse = HealthCheckResponse | { malformed: string };

export function encodeRequest(req: HealthCheckRequest): Buffer {
  return encodeField1(2, Buffer.from(req.service ?? '', 'utf8'));
}

export function encodeResponse(res: HealthCheckResponse): Buffer {
  return encodeField1(0, res.status);
}

/** Field 1 with wire type 0 (varint) or 2 (bytes); proto3 leaves default values out. */
function encodeField1(wireType: 0, value: number): Buffer;
function encodeField1(wireType: 2, value: Buffer): Buffer;
function encodeField1(wireType: 0 | 2, value: number | Buffer): Buffer {
  if (wireType === 0) {
    const v = value as number;
    return v === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x08]), varint(v)]);
  }
  const b = value as Buffer;
  return b.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(b.length), b]);
}

function varint(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0) {
    // Negative enum values are ten-byte two's complement varints; none exist in this enum.
    throw new RangeError(`cannot encode ${n} as an unsigned varint`);
  }
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

interface Field {
  no: number;
  wire: number;
  varint?: number;
  bytes?: Buffer;
}

/** Walk a message's fields; unknown fields are skipped as protobuf requires. Throws on malformed input. */
function* fields(buf: Buffer): Generator<Field> {
  let at = 0;
  const readVarint = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= buf.length) throw new Error('truncated varint');
      const b = buf[at++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 0x80;
    }
    throw new Error('varint longer than 10 bytes');
  };
  while (at < buf.length) {
    const key = readVarint();
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (no === 0) throw new Error('field number 0');
    if (wire === 0) yield { no, wire, varint: readVarint() };
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (at + n > buf.length) throw new Error('truncated fixed field');
      at += n;
      yield { no, wire };
    } else if (wire === 2) {
      const len = readVarint();
      if (at + len > buf.length) throw new Error('truncated length-delimited field');
      yield { no, wire, bytes: buf.subarray(at, at + len) };
      at += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

export function decodeRequest(buf: Buffer): HealthCheckRequest {
  let service = '';
  for (const f of fields(buf)) if (f.no === 1 && f.wire === 2) service = f.bytes!.toString('utf8');
  return { service };
}

export function decodeResponse(buf: Buffer): DecodedResponse {
  try {
    let status = 0;
    for (const f of fields(buf)) {
      if (f.no !== 1) continue;
      if (f.wire !== 0) return { malformed: `status field has wire type ${f.wire}` };
      status = f.varint!;
    }
    return { status };
  } catch (e) {
    return { malformed: (e as Error).message };
  }
}

/** The service definition for grpc-js clients (makeGenericClientConstructor) and servers (addService). */
export const HEALTH_SERVICE: ServiceDefinition = {
  Check: {
    path: HEALTH_CHECK_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: HealthCheckRequest) => encodeRequest(r),
    requestDeserialize: (b: Buffer) => decodeRequest(b),
    responseSerialize: (r: HealthCheckResponse) => encodeResponse(r),
    responseDeserialize: (b: Buffer) => decodeResponse(b),
    originalName: 'check',
  },
};
