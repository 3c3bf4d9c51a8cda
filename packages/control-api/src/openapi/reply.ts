/**
 * Replies in ALB's OpenAPI shape. The admin actions already answer with ALB's field names;
 * this module holds only where the OpenAPI's types differ (the SDKs check types when they
 * read a reply) and ALB's error body.
 */

type Body = Record<string, unknown>;

const RECOMMEND = 'Fulcrum serves the ALB operations listed in docs/alb-openapi.md; check the parameters and the AccessKey.';

/** An ISO time as ALB's OpenAPI gives it in jobs: milliseconds since the epoch. */
function epochMs(v: unknown): unknown {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? v : t;
}

/** Per action, how its admin API reply becomes ALB's; actions not listed answer unchanged. */
const SHAPES: Record<string, (body: Body) => Body> = {
  // ALB's jobs carry CreateTime and ModifyTime as numbers; the admin API has ISO strings.
  ListAsynJobs: (body) => ({
    ...body,
    Jobs: Array.isArray(body.Jobs)
      ? (body.Jobs as Body[]).map((j) => ({ ...j, CreateTime: epochMs(j.CreateTime), ModifyTime: epochMs(j.FinishTime ?? j.CreateTime) }))
      : body.Jobs,
  }),
};

export function albReply(action: string, body: Body): Body {
  const shape = Object.hasOwn(SHAPES, action) ? SHAPES[action] : undefined;
  return shape ? shape(body) : body;
}

/** ALB's error body: the request, the endpoint it reached, the code, the message and where to look. */
export function albError(requestId: string, host: string, code: unknown, message: unknown): Body {
  return { RequestId: requestId, HostId: host, Code: code, Message: message, Recommend: RECOMMEND };
}
