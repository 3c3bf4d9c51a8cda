import type { Params } from '../params.js';
import type { Tag } from '../types.js';
import { duplicated, invalidParam } from '../errors.js';
import { TAGS_MAX, TAG_KEY_MAX_CHARS, TAG_VALUE_MAX_CHARS } from '../defaults.js';

/** SG-5 tags, with ALB's rules: keys 1–128 and values 0–128 characters, neither starting
 * with `aliyun` or `acs:` nor containing `http://` or `https://`; at most 20, keys unique. */
function checkTagText(name: string, s: string): void {
  if (/^(aliyun|acs:)/i.test(s)) throw invalidParam(name, 'must not start with "aliyun" or "acs:"');
  if (/https?:\/\//i.test(s)) throw invalidParam(name, 'must not contain "http://" or "https://"');
  if (/[\u0000-\u001f\u007f]/.test(s)) throw invalidParam(name, 'must not contain control characters');
}

/**
 * Read tags given as ALB's `Tag` (RPC style, `Tag.N.Key`) or as `Tags`; one of the two.
 * Undefined when neither was given.
 */
export function readTags(p: Params): Tag[] | undefined {
  if (p.has('Tag') && p.has('Tags')) throw invalidParam('Tags', 'give Tag or Tags, not both');
  const key = p.has('Tags') ? 'Tags' : 'Tag';
  p.ignore('Tag', 'Tags');
  const items = p.objs(key, { max: TAGS_MAX });
  if (!items) return undefined;
  const seen = new Set<string>();
  return items.map((t) => {
    const k = t.str('Key', { required: true, min: 1, max: TAG_KEY_MAX_CHARS });
    checkTagText(t.name('Key'), k);
    const v = t.str('Value', { max: TAG_VALUE_MAX_CHARS }) ?? '';
    checkTagText(t.name('Value'), v);
    if (seen.has(k)) throw duplicated('TagKey', k);
    seen.add(k);
    return { Key: k, Value: v };
  });
}

export interface TagFilter {
  Key: string;
  Value?: string;
}

/** A List action's `Tag` filter: every entry must match (a key without a value matches any value). */
export function readTagFilter(p: Params): TagFilter[] | undefined {
  if (p.has('Tag') && p.has('Tags')) throw invalidParam('Tags', 'give Tag or Tags, not both');
  const key = p.has('Tags') ? 'Tags' : 'Tag';
  p.ignore('Tag', 'Tags');
  const items = p.objs(key, { max: TAGS_MAX });
  if (!items) return undefined;
  return items.map((t) => ({
    Key: t.str('Key', { required: true, min: 1, max: TAG_KEY_MAX_CHARS }),
    Value: t.str('Value', { max: TAG_VALUE_MAX_CHARS }),
  }));
}

export function matchTags(tags: readonly Tag[], filter: readonly TagFilter[] | undefined): boolean {
  if (!filter) return true;
  return filter.every((f) => tags.some((t) => t.Key === f.Key && (f.Value === undefined || t.Value === f.Value)));
}
