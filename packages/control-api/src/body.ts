import type { IncomingMessage } from 'node:http';
import { apiError, Errors } from '@fulcrum/model';

/** Admin request bodies: at most 1 MiB, UTF-8, JSON nested at most MAX_DEPTH deep. */
export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const tooLarge = () => {
      failed = true;
      reject(apiError(Errors.BodyTooLarge, { limit }));
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) tooLarge();
    req.on('data', (c: Buffer) => {
      // After a 413 the rest is dropped; the admin server's lingering close bounds how much.
      if (failed) return;
      size += c.length;
      if (size > limit) {
        tooLarge();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (e) => {
      if (!failed) {
        failed = true;
        reject(e);
      }
    });
  });
}

/** Decode and parse a JSON body, which must be an object. */
export function parseJsonBody(buf: Buffer): Record<string, unknown> {
  if (buf.length === 0) return {};
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    throw apiError(Errors.InvalidEncoding);
  }
  const v = parseJsonText(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw apiError(Errors.MalformedJson, { why: 'the body must be a JSON object' });
  }
  return v as Record<string, unknown>;
}

/**
 * Parse JSON text (a body, or a parameter ALB's OpenAPI sends as JSON). The nesting depth is
 * checked on the raw text before JSON.parse, so a hostile `[[[[…` never reaches the
 * parser's recursion.
 */
export function parseJsonText(text: string): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
      continue;
    }
    if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > MAX_DEPTH) throw apiError(Errors.TooDeep, { limit: MAX_DEPTH });
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw apiError(Errors.MalformedJson, { why: (e as Error).message.slice(0, 200) });
  }
}
