import type { Params } from '../params.js';
import { NAME_MAX_CHARS, NAME_MIN_CHARS } from '../defaults.js';

/**
 * SG-5 names (`ServerGroupName`, and by the same rule VPC, template names): 2–128 letters,
 * digits, `.`, `_`, `-`, starting with a letter.
 */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]*$/;
const NAME_WHY = `must be ${NAME_MIN_CHARS} to ${NAME_MAX_CHARS} letters, digits, ".", "_" or "-", starting with a letter`;

export function readName(p: Params, key: string, o: { required: true }): string;
export function readName(p: Params, key: string, o?: { required?: boolean }): string | undefined;
export function readName(p: Params, key: string, o: { required?: boolean } = {}): string | undefined {
  return p.str(key, { required: o.required, min: NAME_MIN_CHARS, max: NAME_MAX_CHARS, pattern: NAME_PATTERN, patternWhy: NAME_WHY });
}

/** Free text (descriptions, instance names): no control characters. */
export const TEXT_PATTERN = /^[^\u0000-\u001f\u007f]*$/;

export function readText(p: Params, key: string, min: number, max: number): string | undefined {
  return p.str(key, { min, max, pattern: TEXT_PATTERN, patternWhy: 'must not contain control characters' });
}

/** Resource ids as this API hands them out (`sgp-…`, `vpc-…`) or as a user registers them. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ID_MAX_CHARS = 128;

export function readId(p: Params, key: string, o: { required: true }): string;
export function readId(p: Params, key: string, o?: { required?: boolean }): string | undefined;
export function readId(p: Params, key: string, o: { required?: boolean } = {}): string | undefined {
  return p.str(key, { required: o.required, min: 1, max: ID_MAX_CHARS, pattern: ID_PATTERN, patternWhy: 'must be a resource id of letters, digits, ".", "_" or "-"' });
}

export function readIds(p: Params, key: string, max: number, o: { required?: boolean } = {}): string[] | undefined {
  return p.strs(key, { required: o.required, min: o.required ? 1 : undefined, max, item: { min: 1, max: ID_MAX_CHARS, pattern: ID_PATTERN, patternWhy: 'must be a resource id' } });
}

/** ALB's `ResourceGroupId` (`rg-…`), default `rg-default` (SG-5). */
export const RESOURCE_GROUP_PATTERN = /^rg-[A-Za-z0-9_-]{1,60}$/;

export function readResourceGroupId(p: Params, key = 'ResourceGroupId'): string | undefined {
  return p.str(key, { min: 4, max: 63, pattern: RESOURCE_GROUP_PATTERN, patternWhy: 'must look like rg-xxxx' });
}
