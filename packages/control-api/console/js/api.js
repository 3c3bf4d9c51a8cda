import { h, clear } from './dom.js';

/** An answer of the admin API that is an error: its Code and Message, shown as they are. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(`${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.apiMessage = message;
  }
}

/** Thrown when the session is gone (expired, logged out elsewhere, token rotated). */
export class LoggedOut extends Error {}

async function post(path, body) {
  // Same origin, JSON, the session cookie goes along by itself (HttpOnly: we never see it).
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' });
  const json = await res.json().catch(() => ({ Code: 'InvalidResponse', Message: `HTTP ${res.status} without a JSON body` }));
  return { res, json };
}

/** POST /api/<action>; resolves with the reply, rejects with ApiError. */
export async function api(action, params = {}) {
  const { res, json } = await post(`/api/${action}`, params);
  if (res.status === 401) throw new LoggedOut();
  if (!res.ok) throw new ApiError(res.status, json.Code, json.Message);
  return json;
}

/** Every page of a List* action. */
export async function listAll(action, key, params = {}) {
  const out = [];
  let next;
  do {
    const r = await api(action, { ...params, MaxResults: 100, ...(next ? { NextToken: next } : {}) });
    out.push(...r[key]);
    next = r.NextToken;
  } while (next);
  return out;
}

export async function getJson(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (res.status === 401) throw new LoggedOut();
  const json = await res.json();
  if (!res.ok) throw new ApiError(res.status, json.Code, json.Message);
  return json;
}

export const login = (token) => post('/console/login', { Token: token });
export const logout = () => post('/console/logout', {});

/** Poll a job until it is no longer Processing; onStatus sees every status read. */
export async function waitJob(jobId, onStatus, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api('ListAsynJobs', { JobIds: [jobId] });
    const job = r.Jobs[0];
    onStatus(job);
    if (job && job.Status !== 'Processing') return job;
    if (Date.now() > deadline) throw new ApiError(0, 'Timeout', `job ${jobId} still Processing after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** An error box with the API's Code and Message. */
export function errorBox(e) {
  if (e instanceof ApiError) return h('div.error', { role: 'alert' }, h('b.code', e.code), ' ', e.apiMessage);
  return h('div.error', { role: 'alert' }, String(e?.message ?? e));
}

/**
 * The write flow every console change goes through: a summary of what will change, a
 * DryRun preview (the API's own checks, nothing committed), then Apply, which runs the calls
 * in order and follows each job until Succeeded. `calls()` builds the calls from the form at
 * the moment of the click, and may throw an Error for input it cannot make a call of.
 */
export function writeFlow({ calls, describe, onDone, applyLabel = 'Apply' }) {
  const out = h('div.flow-out');
  const apply = h('button.primary', { type: 'button', disabled: true, 'data-act': 'apply' }, applyLabel);
  let previewed;
  const preview = h('button', {
    type: 'button', 'data-act': 'preview', on: {
      click: async () => {
        apply.disabled = true;
        clear(out, h('div.muted', 'Checking (DryRun)…'));
        let list;
        try {
          list = calls();
          if (list.length === 0) throw new Error('nothing to change');
        } catch (e) {
          clear(out, errorBox(e));
          return;
        }
        const lines = [];
        for (const c of list) {
          try {
            await api(c.action, { ...c.params, DryRun: true });
            lines.push(h('li', `${c.action}: `, h('span.ok', 'would succeed'), ' (the API answered without DryRunOperation)'));
          } catch (e) {
            if (e instanceof ApiError && e.code === 'DryRunOperation') {
              lines.push(h('li', `${c.action}: `, h('span.ok', 'check passed')));
              continue;
            }
            if (e instanceof LoggedOut) throw e;
            clear(out, h('h4', 'Preview'), describeCalls(describe, list), errorBox(e));
            return;
          }
        }
        previewed = list;
        apply.disabled = false;
        clear(out, h('h4', 'Preview'), describeCalls(describe, list), h('ul.checks', lines));
      },
    },
  }, 'Preview (DryRun)');
  apply.addEventListener('click', async () => {
    apply.disabled = true;
    preview.disabled = true;
    const list = previewed;
    const progress = h('ul.jobs');
    out.append(h('h4', 'Progress'), progress);
    try {
      for (const c of list) {
        const r = await api(c.action, c.params);
        const line = h('li', `${c.action}: job ${r.JobId ?? '(none)'} `, h('span.status.Processing', 'Processing'));
        progress.append(line);
        if (!r.JobId) continue;
        const job = await waitJob(r.JobId, (j) => {
          const s = line.querySelector('.status');
          s.className = `status ${j.Status}`;
          s.textContent = j.Status;
        });
        if (job.Status !== 'Succeeded') throw new ApiError(0, job.ErrorCode ?? 'JobFailed', job.ErrorMessage ?? `job ${job.JobId} ${job.Status}`);
      }
      out.append(h('div.done', 'Done.'));
      onDone?.();
    } catch (e) {
      out.append(errorBox(e));
    } finally {
      preview.disabled = false;
    }
  });
  return h('div.flow', h('div.buttons', preview, apply), out);
}

function describeCalls(describe, list) {
  const text = describe?.(list);
  if (text) return h('ul.summary', (Array.isArray(text) ? text : [text]).map((t) => h('li', t)));
  return h('ul.summary', list.map((c) => h('li', c.action)));
}
