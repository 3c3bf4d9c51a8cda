import type { Collections } from '../state.js';
import type { Listener, ListenerCertificate, ListenerProtocol } from '../types.js';
import type { Params } from '../params.js';
import { defineAction, paginate, byCreation, isoTime } from './framework.js';
import {
  duplicated, invalidParam, missingParam, notFound, operationDenied, quotaExceeded, resourceAlreadyExists,
} from '../errors.js';
import { groupsOfActions } from '../relations.js';
import { readId } from '../validate/names.js';
import { readTags } from '../validate/tags.js';
import { normalizeXff, readXForwardedFor, XFF_DEFAULTS } from '../validate/forwarded.js';
import { DEFAULT_TLS_POLICY_ID, readListenerSecurityPolicy } from '../validate/tls-policy.js';
import { readMutualTls } from '../validate/mutual-tls.js';
import { parseDefaultActions } from '../routing/actions.js';
import { checkAttachmentQuotas, checkCompatOfActions, checkForwardActions, projectState } from '../routing/attachment.js';
import { listenerOf, loadBalancerOf, loadBalancerOfListener, readIdList, rulesOfListener } from '../routing/lookups.js';

/**
 * LR-1: listeners. A listener's port is unique across every instance, not only its own:
 * every node serves every instance's listeners on one host address.
 */

const RESOURCE_TYPE = 'Listener';
const PROTOCOLS = ['HTTP', 'HTTPS', 'QUIC'] as const satisfies readonly ListenerProtocol[];
/** Defaults of LR-1, in seconds as the API gives them. */
export const LISTENER_DEFAULTS = { IdleTimeout: 15, RequestTimeout: 60, GzipEnabled: true } as const;
const IDLE_TIMEOUT = { min: 1, max: 60 };
const REQUEST_TIMEOUT = { min: 1, max: 180 };
const DESCRIPTION = { max: 256, pattern: /^([^\x00-\x1f\x7f]{2,256})?$/, patternWhy: 'must be 2 to 256 characters without control characters' };
/** One default certificate plus SNI certificates (ALB's additional-certificate quota is 25). */
export const MAX_LISTENER_CERTIFICATES = 25;

function portOwner(state: Collections, port: number): Listener | undefined {
  return Object.values(state.listeners).find((l) => l.ListenerPort === port);
}

function readCertificateRefs(state: Collections, p: Params, max: number): Array<{ id: string; isDefault?: boolean }> | undefined {
  const items = p.objs('Certificates', { max });
  if (items === undefined || items.length === 0) return undefined;
  const seen = new Set<string>();
  return items.map((c) => {
    const id = readId(c, 'CertificateId', { required: true });
    if (!state.certificates[id]) throw notFound('Certificate', id);
    if (seen.has(id)) throw duplicated('CertificateId', `Certificates lists ${id} twice`);
    seen.add(id);
    return { id, isDefault: c.bool('IsDefault') };
  });
}

/** Create: the first certificate, or the one marked IsDefault, answers clients without a matching SNI name. */
function parseCreateCertificates(state: Collections, p: Params, protocol: ListenerProtocol): ListenerCertificate[] {
  const refs = readCertificateRefs(state, p, MAX_LISTENER_CERTIFICATES);
  if (protocol !== 'HTTPS') {
    if (refs) throw invalidParam('Certificates', 'apply only to HTTPS listeners');
    return [];
  }
  if (!refs) throw missingParam('Certificates');
  const marked = refs.filter((r) => r.isDefault === true);
  if (marked.length > 1) throw invalidParam('Certificates.IsDefault', 'may be true for one certificate only');
  const def = marked[0] ?? refs[0]!;
  return refs.map((r) => ({ CertificateId: r.id, IsDefault: r === def }));
}

function readHttp2(p: Params, protocol: ListenerProtocol): boolean | undefined {
  const v = p.bool('Http2Enabled');
  if (v === true && protocol !== 'HTTPS') throw invalidParam('Http2Enabled', 'applies only to HTTPS listeners');
  return v;
}

function put(l: Listener) {
  return { op: 'put' as const, c: 'listeners' as const, id: l.ListenerId, value: l };
}

defineAction({
  name: 'CreateListener',
  write: true,
  run(state, p, env) {
    const lb = loadBalancerOf(state, p);
    const protocol = p.enum('ListenerProtocol', PROTOCOLS, { required: true });
    if (protocol === 'QUIC') {
      throw operationDenied('QuicNotSupported', 'QUIC listeners are not available: this runtime has no QUIC; use an HTTPS listener with Http2Enabled');
    }
    const port = p.int('ListenerPort', { required: true, min: 1, max: 65535 });
    const owner = portOwner(state, port);
    if (owner) throw resourceAlreadyExists('Listener', `port ${port} is served by listener ${owner.ListenerId} of ${owner.LoadBalancerId}`);
    const description = p.str('ListenerDescription', DESCRIPTION);
    const http2 = readHttp2(p, protocol);
    const id = env.newId('lsn');
    const listener: Listener = {
      ListenerId: id,
      LoadBalancerId: lb.LoadBalancerId,
      ListenerProtocol: protocol,
      ListenerPort: port,
      ListenerStatus: 'Running',
      IdleTimeout: p.int('IdleTimeout', IDLE_TIMEOUT) ?? LISTENER_DEFAULTS.IdleTimeout,
      RequestTimeout: p.int('RequestTimeout', REQUEST_TIMEOUT) ?? LISTENER_DEFAULTS.RequestTimeout,
      Http2Enabled: protocol === 'HTTPS' ? http2 ?? true : false,
      GzipEnabled: p.bool('GzipEnabled') ?? LISTENER_DEFAULTS.GzipEnabled,
      Certificates: parseCreateCertificates(state, p, protocol),
      DefaultActions: parseDefaultActions(p, true)!,
      XForwardedForConfig: readXForwardedFor(p, { ...XFF_DEFAULTS }, protocol),
      Tags: readTags(p) ?? [],
      CreateTime: isoTime(env.nowMs),
    };
    if (description) listener.ListenerDescription = description;
    const policy = readListenerSecurityPolicy(state, p, protocol);
    if (protocol === 'HTTPS') listener.SecurityPolicyId = policy ?? DEFAULT_TLS_POLICY_ID;
    readMutualTls(state, p, protocol, listener);
    checkForwardActions(state, lb, listener, listener.DefaultActions);
    const ops = [put(listener)];
    checkAttachmentQuotas(state, projectState(state, ops), [lb.LoadBalancerId], groupsOfActions(listener.DefaultActions));
    return { ops, reply: { ListenerId: id }, resourceId: id, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'UpdateListenerAttribute',
  write: true,
  run(state, p) {
    const l = listenerOf(state, p);
    const lb = loadBalancerOfListener(state, l);
    const next: Listener = { ...l };
    const description = p.str('ListenerDescription', DESCRIPTION);
    if (description === '') delete next.ListenerDescription;
    else if (description !== undefined) next.ListenerDescription = description;
    next.IdleTimeout = p.int('IdleTimeout', IDLE_TIMEOUT) ?? l.IdleTimeout;
    next.RequestTimeout = p.int('RequestTimeout', REQUEST_TIMEOUT) ?? l.RequestTimeout;
    next.GzipEnabled = p.bool('GzipEnabled') ?? l.GzipEnabled;
    const http2 = readHttp2(p, l.ListenerProtocol);
    if (http2 !== undefined && l.ListenerProtocol === 'HTTPS') next.Http2Enabled = http2;
    // As ALB: Certificates here replaces the default certificate; SNI certificates stay.
    if (p.has('Certificates')) {
      const refs = readCertificateRefs(state, p, 1);
      if (l.ListenerProtocol !== 'HTTPS') throw invalidParam('Certificates', 'apply only to HTTPS listeners');
      if (!refs) throw missingParam('Certificates');
      const id = refs[0]!.id;
      next.Certificates = [
        { CertificateId: id, IsDefault: true },
        ...l.Certificates.filter((c) => !c.IsDefault && c.CertificateId !== id),
      ];
    }
    const policy = readListenerSecurityPolicy(state, p, l.ListenerProtocol);
    if (policy !== undefined) next.SecurityPolicyId = policy;
    readMutualTls(state, p, l.ListenerProtocol, next);
    const defaults = parseDefaultActions(p, false);
    if (defaults) next.DefaultActions = defaults;
    next.XForwardedForConfig = readXForwardedFor(p, normalizeXff(l.XForwardedForConfig), l.ListenerProtocol);

    if (defaults) checkForwardActions(state, lb, next, defaults);
    // SG-6: turning HTTP/2 off must not strand a gRPC group on this listener's rules.
    if (next.Http2Enabled !== l.Http2Enabled) {
      for (const r of rulesOfListener(state, l.ListenerId)) checkCompatOfActions(state, lb, next, r.RuleActions);
      checkCompatOfActions(state, lb, next, next.DefaultActions);
    }
    const ops = [put(next)];
    if (defaults) checkAttachmentQuotas(state, projectState(state, ops), [lb.LoadBalancerId], groupsOfActions(defaults));
    return { ops, reply: {}, resourceId: l.ListenerId, resourceType: RESOURCE_TYPE };
  },
});

function setStatus(name: string, status: Listener['ListenerStatus']): void {
  defineAction({
    name,
    write: true,
    run(state, p) {
      const l = listenerOf(state, p);
      return { ops: [put({ ...l, ListenerStatus: status })], reply: {}, resourceId: l.ListenerId, resourceType: RESOURCE_TYPE };
    },
  });
}
setStatus('StartListener', 'Running');
setStatus('StopListener', 'Stopped');

defineAction({
  name: 'DeleteListener',
  write: true,
  run(state, p) {
    const l = listenerOf(state, p);
    const ops = [
      ...rulesOfListener(state, l.ListenerId).map((r) => ({ op: 'del' as const, c: 'rules' as const, id: r.RuleId })),
      { op: 'del' as const, c: 'listeners' as const, id: l.ListenerId },
    ];
    return { ops, reply: {}, resourceId: l.ListenerId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'GetListenerAttribute',
  write: false,
  run(state, p) {
    const l = listenerOf(state, p);
    const policy = l.ListenerProtocol === 'HTTPS' ? { SecurityPolicyId: l.SecurityPolicyId ?? DEFAULT_TLS_POLICY_ID } : {};
    return { reply: { ...l, ...policy, XForwardedForConfig: normalizeXff(l.XForwardedForConfig) } };
  },
});

defineAction({
  name: 'ListListeners',
  write: false,
  run(state, p) {
    const lbIds = readIdList(p, 'LoadBalancerIds', 20);
    const ids = readIdList(p, 'ListenerIds', 20);
    const protocol = p.enum('ListenerProtocol', PROTOCOLS);
    const items = Object.values(state.listeners).filter((l) =>
      (!lbIds || lbIds.includes(l.LoadBalancerId)) &&
      (!ids || ids.includes(l.ListenerId)) &&
      (!protocol || l.ListenerProtocol === protocol));
    const pg = paginate(byCreation(items, (l) => l.ListenerId), p);
    const page = pg.page.map((l) => ({ ...l, XForwardedForConfig: normalizeXff(l.XForwardedForConfig) }));
    return { reply: { Listeners: page, NextToken: pg.NextToken, MaxResults: pg.MaxResults, TotalCount: pg.TotalCount } };
  },
});

function httpsListenerOf(state: Collections, p: Params): Listener {
  const l = listenerOf(state, p);
  if (l.ListenerProtocol !== 'HTTPS') throw operationDenied('ListenerNotHttps', `listener ${l.ListenerId} is ${l.ListenerProtocol}; certificates apply only to HTTPS listeners`);
  return l;
}

/** SNI certificates: served when the client's server name matches one of their DomainNames. */
defineAction({
  name: 'AssociateAdditionalCertificatesWithListener',
  write: true,
  run(state, p) {
    const l = httpsListenerOf(state, p);
    const refs = readCertificateRefs(state, p, MAX_LISTENER_CERTIFICATES);
    if (!refs) throw missingParam('Certificates');
    for (const r of refs) {
      if (r.isDefault) throw invalidParam('Certificates.IsDefault', 'additional certificates are never the default; use UpdateListenerAttribute');
      if (l.Certificates.some((c) => c.CertificateId === r.id)) throw resourceAlreadyExists('Certificate', `${r.id} is already on listener ${l.ListenerId}`);
    }
    const certs = [...l.Certificates, ...refs.map((r) => ({ CertificateId: r.id, IsDefault: false }))];
    if (certs.length > MAX_LISTENER_CERTIFICATES) throw quotaExceeded('ListenerCertificatesNum', MAX_LISTENER_CERTIFICATES);
    return { ops: [put({ ...l, Certificates: certs })], reply: {}, resourceId: l.ListenerId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'DissociateAdditionalCertificatesFromListener',
  write: true,
  run(state, p) {
    const l = httpsListenerOf(state, p);
    const items = p.objs('Certificates', { required: true, min: 1, max: MAX_LISTENER_CERTIFICATES })!;
    const drop = new Set<string>();
    for (const c of items) {
      const id = readId(c, 'CertificateId', { required: true });
      const have = l.Certificates.find((x) => x.CertificateId === id);
      if (!have) throw notFound('Certificate', `${id} on listener ${l.ListenerId}`);
      if (have.IsDefault) throw operationDenied('DefaultCertificate', `${id} is the default certificate of ${l.ListenerId}; replace it with UpdateListenerAttribute`);
      drop.add(id);
    }
    const certs = l.Certificates.filter((c) => !drop.has(c.CertificateId));
    return { ops: [put({ ...l, Certificates: certs })], reply: {}, resourceId: l.ListenerId, resourceType: RESOURCE_TYPE };
  },
});

defineAction({
  name: 'ListListenerCertificates',
  write: false,
  run(state, p) {
    const l = listenerOf(state, p);
    const ids = readIdList(p, 'CertificateIds', 20);
    // Only server certificates exist here; the filter is accepted for ALB callers.
    p.enum('CertificateType', ['Server'] as const);
    const items = l.Certificates
      .filter((c) => !ids || ids.includes(c.CertificateId))
      .map((c) => ({
        CertificateId: c.CertificateId,
        IsDefault: c.IsDefault === true,
        CertificateType: 'Server',
        Status: 'Associated',
        DomainNames: state.certificates[c.CertificateId]?.DomainNames ?? [],
      }));
    const pg = paginate(items, p);
    return { reply: { Certificates: pg.page, NextToken: pg.NextToken, MaxResults: pg.MaxResults, TotalCount: pg.TotalCount } };
  },
});
