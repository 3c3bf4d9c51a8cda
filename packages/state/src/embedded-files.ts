import { open, readFile, rename, truncate } from 'node:fs/promises';
import type { Packr } from 'msgpackr';
import type { Collections, Job, WriteOp } from '@fulcrum/model';
import { deepFreeze } from './deep-freeze.js';
import { checkFrameAt, encodeFrame, FRAME_HEADER_BYTES, scanFrames } from './log-frame.js';
import type { FileHandle } from 'node:fs/promises';

/**
 * The embedded store's files: the records its log holds, its snapshot file, and the few
 * careful file operations both need (whole writes, fsync of a directory entry).
 */

export const SNAPSHOT_FORMAT = 1;

/** The data dir cannot be trusted: a damaged record with good data after it, or a gap. */
export class StoreCorruptError extends Error {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, reason: string) {
    super(`state store file ${file} is corrupt at byte offset ${offset}: ${reason}; refusing to open ` +
      '(move the data dir aside or restore it from a backup)');
    this.name = 'StoreCorruptError';
    this.file = file;
    this.offset = offset;
  }
}

/** What the log holds, one per frame. `s` numbers every record ever written, gap-free. */
export type LogRecord =
  | { t: 'commit'; s: number; v: number; ops: WriteOp[] }
  | { t: 'job'; s: number; job: Job }
  | { t: 'token'; s: number; token: string; sig: string; reply: unknown; exp: number };

/** A record before the queue numbers it. */
export type LogRecordBody = WithoutSeq<LogRecord>;
type WithoutSeq<R> = R extends unknown ? Omit<R, 's'> : never;

export interface SnapshotFile {
  format: number;
  /** Last record folded in; log records up to it are skipped on replay. */
  seq: number;
  version: number;
  data: Partial<Collections>;
  /** Oldest first. */
  jobs: Job[];
  /** Completed client tokens: [token, signature, reply, expiresAtMs]. */
  tokens: [string, string, unknown, number][];
}

export interface TokenEntry {
  signature: string;
  done: boolean;
  reply: unknown;
  expiresAtMs: number;
}

export interface PendingWrite {
  /** undefined: a barrier that only waits for the writes queued before it. */
  frame: Buffer | undefined;
  settle(err: Error | undefined): void;
}

/** A snapshot file's state, checked; undefined when there is none yet. */
export async function readSnapshotFile(path: string, packr: Packr): Promise<SnapshotFile | undefined> {
  const buf = await readIfExists(path);
  if (buf === undefined) return undefined;
  // The snapshot is renamed into place whole, so unlike the log it is never torn.
  const problem = checkFrameAt(buf, 0);
  if (problem !== undefined) throw new StoreCorruptError(path, 0, problem);
  const payload = buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + buf.readUInt32LE(0));
  if (FRAME_HEADER_BYTES + payload.length !== buf.length) {
    throw new StoreCorruptError(path, FRAME_HEADER_BYTES + payload.length, 'bytes after the snapshot frame');
  }
  const snap = decodeRecord(packr, payload, path, 0) as SnapshotFile;
  if (snap?.format !== SNAPSHOT_FORMAT || !Number.isInteger(snap.seq) || !Number.isInteger(snap.version)) {
    throw new StoreCorruptError(path, 0, `not a snapshot of format ${SNAPSHOT_FORMAT}`);
  }
  return deepFreeze(snap);
}

/** Write a snapshot beside the old one, fsync it, rename it into place, fsync the directory. */
export async function writeSnapshotFile(path: string, dir: string, snap: SnapshotFile, packr: Packr): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await writeFully(fh, encodeFrame(packr.pack(snap)));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dir);
}

/**
 * Replay the log at `path` from the record after `seq`: each record goes to `apply` in
 * order (records already in the snapshot are skipped; a gap is corruption). A torn tail (a
 * write cut short by a crash, never acknowledged) is cut off with a warning.
 */
export async function replayLogFile(
  path: string, packr: Packr, seq: number, apply: (rec: LogRecord, offset: number) => void, warn: (message: string) => void,
): Promise<{ seq: number; records: number }> {
  const buf = (await readIfExists(path)) ?? Buffer.alloc(0);
  const scan = scanFrames(buf);
  if (scan.kind === 'corrupt') throw new StoreCorruptError(path, scan.offset, scan.reason);
  for (let i = 0; i < scan.payloads.length; i++) {
    const offset = scan.offsets[i];
    const rec = deepFreeze(decodeRecord(packr, scan.payloads[i], path, offset) as LogRecord);
    if (!Number.isInteger(rec?.s)) throw new StoreCorruptError(path, offset, 'record without a sequence number');
    if (rec.s <= seq) continue; // already in the snapshot (compaction died before truncating)
    if (rec.s !== seq + 1) throw new StoreCorruptError(path, offset, `record ${rec.s} follows record ${seq}: records are missing`);
    apply(rec, offset);
    seq = rec.s;
  }
  if (scan.tornBytes > 0) {
    await truncate(path, scan.goodBytes);
    warn(`state store: dropped a torn tail of ${scan.tornBytes} bytes at offset ${scan.goodBytes} of ` +
      `${path} (a write cut short by a crash; it was never acknowledged)`);
  }
  return { seq, records: scan.payloads.length };
}

export function decodeRecord(packr: Packr, payload: Buffer, file: string, offset: number): unknown {
  try {
    return packr.unpack(payload);
  } catch (err) {
    throw new StoreCorruptError(file, offset, `undecodable record (${String(err)})`);
  }
}

export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function writeFully(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, null);
    off += bytesWritten;
  }
}

/** Make a rename or a file creation in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
