import type { Params } from '../params.js';
import type { Tag } from '../types.js';
import { readIds, readResourceGroupId } from './names.js';
import { matchTags, readTagFilter } from './tags.js';

/**
 * The filters ALB's List actions share for named resources: ids (at most 20), names (at most
 * 10), `ResourceGroupId` and `Tag`. Returns the test a record must pass.
 */
export function readResourceFilter(p: Params, idsKey: string, namesKey: string): (id: string, name: string, r: { ResourceGroupId: string; Tags: Tag[] }) => boolean {
  const ids = readIds(p, idsKey, 20);
  const names = p.strs(namesKey, { max: 10, item: { min: 1, max: 128 } });
  const rg = readResourceGroupId(p);
  const tags = readTagFilter(p);
  return (id, name, r) => (!ids || ids.includes(id)) && (!names || names.includes(name)) &&
    (rg === undefined || r.ResourceGroupId === rg) && matchTags(r.Tags, tags);
}
