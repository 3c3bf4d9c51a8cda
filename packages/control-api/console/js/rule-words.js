// Rules in words, for the listener page: a rule's conditions and its actions as an operator
// would say them. One place for the wording of every condition and action type.

const quote = (v) => `“${v}”`;
const or = (vs) => vs.map(quote).join(' or ');
const groupName = (names, id) => names.get(id) ?? id;

export function conditionsInWords(conds = []) {
  if (conds.length === 0) return 'any request';
  return conds.map((c) => {
    switch (c.Type) {
      case 'Host': return `host is ${or(c.HostConfig.Values)}`;
      case 'Path': return `path is ${or(c.PathConfig.Values)}`;
      case 'Method': return `method is ${c.MethodConfig.Values.join(' or ')}`;
      case 'SourceIp': return `client address is in ${c.SourceIpConfig.Values.join(' or ')}`;
      case 'Header': return `header ${c.HeaderConfig.Key} is ${or(c.HeaderConfig.Values)}`;
      case 'QueryString': return `query has ${c.QueryStringConfig.Values.map((kv) => `${kv.Key}=${kv.Value}`).join(' or ')}`;
      case 'Cookie': return `cookie ${c.CookieConfig.Values.map((kv) => `${kv.Key}=${kv.Value}`).join(' or ')}`;
      // Response rules (Direction Response) look at the backend's answer, not the request.
      case 'ResponseStatusCode': return `response status is ${c.ResponseStatusCodeConfig.Values.join(' or ')}`;
      case 'ResponseHeader': return `response header ${c.ResponseHeaderConfig.Key} is ${or(c.ResponseHeaderConfig.Values)}`;
      default: return c.Type;
    }
  }).join(', and ');
}

function corsInWords(c) {
  const parts = [`allow origin ${c.AllowOrigin.join(' or ')}`];
  if (c.AllowMethods?.length) parts.push(`methods ${c.AllowMethods.join(', ')}`);
  if (c.AllowHeaders?.length) parts.push(`headers ${c.AllowHeaders.join(', ')}`);
  if (c.ExposeHeaders?.length) parts.push(`exposing ${c.ExposeHeaders.join(', ')}`);
  parts.push(c.AllowCredentials === 'on' ? 'with credentials' : 'without credentials');
  if (c.MaxAge !== undefined) parts.push(`preflight cached ${c.MaxAge} s`);
  return `CORS: ${parts.join(', ')}`;
}

function limitInWords(t) {
  const parts = [];
  if (t.QPS !== undefined) parts.push(`${t.QPS} requests/s`);
  if (t.PerIpQps !== undefined) parts.push(`${t.PerIpQps} requests/s per client IP`);
  return `limit to ${parts.join(' and ')} (excess answered 503)`;
}

export function actionsInWords(actions = [], groupNames = new Map()) {
  return [...actions].sort((a, b) => a.Order - b.Order).map((a) => {
    switch (a.Type) {
      case 'ForwardGroup': {
        const t = a.ForwardGroupConfig.ServerGroupTuples;
        const named = t.map((x) => `${groupName(groupNames, x.ServerGroupId)}${t.length > 1 ? ` (weight ${x.Weight})` : ''}`);
        return `forward to ${named.join(', ')}`;
      }
      case 'Redirect': {
        const r = a.RedirectConfig;
        const parts = [r.Protocol && `protocol ${r.Protocol}`, r.Host && `host ${r.Host}`, r.Port && `port ${r.Port}`, r.Path && `path ${r.Path}`, r.Query && `query ${r.Query}`].filter(Boolean);
        return `redirect (${r.HttpCode ?? '302'}) with ${parts.join(', ') || 'the same URL'}`;
      }
      case 'FixedResponse': {
        const f = a.FixedResponseConfig;
        return `answer ${f.HttpCode}${f.Content ? ` with ${quote(f.Content.length > 40 ? `${f.Content.slice(0, 40)}…` : f.Content)}` : ''}`;
      }
      case 'Rewrite': {
        const r = a.RewriteConfig;
        return `rewrite ${[r.Host && `host to ${r.Host}`, r.Path && `path to ${r.Path}`, r.Query && `query to ${r.Query}`].filter(Boolean).join(', ')}`;
      }
      case 'InsertHeader': return `add header ${a.InsertHeaderConfig.Key}: ${a.InsertHeaderConfig.Value}`;
      case 'RemoveHeader': return `remove header ${a.RemoveHeaderConfig.Key}`;
      case 'Cors': return corsInWords(a.CorsConfig);
      case 'TrafficLimit': return limitInWords(a.TrafficLimitConfig);
      case 'TrafficMirror': {
        const ids = a.TrafficMirrorConfig.MirrorGroupConfig.ServerGroupTuples.map((x) => groupName(groupNames, x.ServerGroupId));
        return `copy to ${ids.join(', ')} (mirror)`;
      }
      default: return a.Type;
    }
  }).join(', then ');
}
