import { crc32 } from 'node:zlib';

/**
 * Framing of the embedded store's files:
 *
 *   +-------------+-------------+---------------------+
 *   | u32 LE len  | u32 LE crc  | payload (len bytes) |  ... next frame
 *   +-------------+-------------+---------------------+
 *
 * crc is the CRC-32 of the payload. A frame is never empty (msgpack always writes at
 * least one byte), so a zero header is recognisably not a frame.
 */
export const FRAME_HEADER_BYTES = 8;

export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export type FrameScan =
  /** Every frame up to `goodBytes` is intact; `tornBytes` after it are a torn tail (0: none). */
  | { kind: 'ok'; payloads: Buffer[]; offsets: number[]; goodBytes: number; tornBytes: number }
  /** A damaged frame at `offset` has intact frames after it: real damage, not a torn append. */
  | { kind: 'corrupt'; offset: number; reason: string };

/**
 * Split a log into frames. A bad frame with no intact frame anywhere after it is a torn
 * tail: a crash cut the last append short, half-wrote it, or left zeros where the file
 * system had extended the file. A bad frame with an intact one after it is damage in the
 * middle (a flipped bit, a lost block): the records after it were acknowledged, so it is
 * reported, never cut off.
 */
export function scanFrames(buf: Buffer): FrameScan {
  const payloads: Buffer[] = [];
  const offsets: number[] = [];
  let off = 0;
  while (off < buf.length) {
    const bad = frameProblem(buf, off);
    if (bad === undefined) {
      const len = buf.readUInt32LE(off);
      payloads.push(buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len));
      offsets.push(off);
      off += FRAME_HEADER_BYTES + len;
      continue;
    }
    const next = nextIntactFrame(buf, off + 1);
    if (next === undefined) {
      return { kind: 'ok', payloads, offsets, goodBytes: off, tornBytes: buf.length - off };
    }
    return { kind: 'corrupt', offset: off, reason: `${bad.reason} (an intact frame follows at offset ${next})` };
  }
  return { kind: 'ok', payloads, offsets, goodBytes: off, tornBytes: 0 };
}

/**
 * Error path only. Cheap in practice: a garbage length almost always runs past the end,
 * and in a damaged middle the next real frame boundary comes within one frame.
 */
function nextIntactFrame(buf: Buffer, from: number): number | undefined {
  for (let p = from; p + FRAME_HEADER_BYTES < buf.length; p++) {
    if (frameProblem(buf, p) === undefined) return p;
  }
  return undefined;
}

function frameProblem(buf: Buffer, off: number): { reason: string } | undefined {
  if (buf.length - off < FRAME_HEADER_BYTES) return { reason: 'short frame header' };
  const len = buf.readUInt32LE(off);
  const end = off + FRAME_HEADER_BYTES + len;
  if (end > buf.length) return { reason: `frame length ${len} runs past the end of the file` };
  if (len === 0) return { reason: 'empty frame' };
  if (crc32(buf.subarray(off + FRAME_HEADER_BYTES, end)) !== buf.readUInt32LE(off + 4)) {
    return { reason: 'checksum mismatch' };
  }
  return undefined;
}

/** Why the frame at `off` is not whole and intact, or undefined when it is. */
export function checkFrameAt(buf: Buffer, off: number): string | undefined {
  return frameProblem(buf, off)?.reason;
}
