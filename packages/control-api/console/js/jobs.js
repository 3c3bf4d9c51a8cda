import { h, clear } from './dom.js';
import { api } from './api.js';

/** The jobs list: the latest writes and where each one is (API-4 statuses). */
export function jobsPage() {
  const body = h('tbody');
  const el = h('section.card', h('h1', 'Jobs'), h('table', h('thead', h('tr', ['Created', 'Operation', 'Resource', 'Status', 'Finished', 'Error'].map((t) => h('th', t)))), body));
  return {
    el,
    async refresh() {
      const r = await api('ListAsynJobs', { MaxResults: 50 });
      clear(body, r.Jobs.map((j) => h('tr',
        h('td', new Date(j.CreateTime).toLocaleString()),
        h('td', j.OperateType),
        h('td', `${j.ResourceType ?? ''} ${j.ResourceId ?? ''}`),
        h('td', { class: `status ${j.Status}` }, j.Status),
        h('td', j.FinishTime ? new Date(j.FinishTime).toLocaleTimeString() : '–'),
        h('td', j.ErrorCode ? `${j.ErrorCode}: ${j.ErrorMessage ?? ''}` : ''),
      )));
    },
  };
}
