import { h, numberInput } from './dom.js';

export const DEFAULT_WEIGHT = 100;

/**
 * The seed's Ports/Weights editor, for servers being added and for a batch edit of existing
 * ones: per row a port and a weight; for the selection "set same port / weight"; on each
 * input "replicate to below / above / all"; in each column header "reset" (ports cleared, or
 * back to the current ones when editing; weights back to the default 100).
 *
 * rows: [{ label (Node|string) | address: true, port, weight, resetPort }]
 */
export function portWeightGrid(rows, { addresses = false, ports = true } = {}) {
  const body = h('tbody');
  const state = rows.map((r) => ({
    ...r,
    address: addresses ? h('input', { name: 'address', value: r.address ?? '', placeholder: '127.0.0.1', size: 18 }) : null,
    port: ports ? numberInput('port', r.port, 1, 65535) : null,
    weight: numberInput('weight', r.weight ?? DEFAULT_WEIGHT, 0, 100),
  }));
  const replicate = (col, i) => h('span.rep',
    h('button.small', { type: 'button', title: 'Replicate to below', 'data-rep': `${col}-below`, on: { click: () => copy(col, i, (j) => j > i) } }, '↓'),
    h('button.small', { type: 'button', title: 'Replicate to above', 'data-rep': `${col}-above`, on: { click: () => copy(col, i, (j) => j < i) } }, '↑'),
    h('button.small', { type: 'button', title: 'Replicate to all', 'data-rep': `${col}-all`, on: { click: () => copy(col, i, () => true) } }, 'all'));
  const copy = (col, i, which) => state.forEach((r, j) => { if (which(j)) r[col].value = state[i][col].value; });
  const draw = () => body.replaceChildren(...state.map((r, i) => h('tr', { 'data-row': i },
    h('td', r.address ?? r.label),
    ports ? h('td', r.port, replicate('port', i)) : null,
    h('td', r.weight, replicate('weight', i)),
    addresses && state.length > 1 ? h('td', h('button.small', { type: 'button', on: { click: () => { state.splice(i, 1); draw(); } } }, 'remove row')) : null)));
  draw();

  const samePort = numberInput('same-port', '', 1, 65535);
  const sameWeight = numberInput('same-weight', '', 0, 100);
  const setAll = (col, input) => { if (input.value !== '') for (const r of state) r[col].value = input.value; };
  const head = h('tr',
    h('th', addresses ? 'Address' : 'Server'),
    ports ? h('th', 'Port ', h('button.small', { type: 'button', 'data-act': 'reset-port', on: { click: () => state.forEach((r) => { r.port.value = r.resetPort ?? ''; }) } }, 'reset')) : null,
    h('th', 'Weight (0–100) ', h('button.small', { type: 'button', 'data-act': 'reset-weight', on: { click: () => state.forEach((r) => { r.weight.value = DEFAULT_WEIGHT; }) } }, 'reset')));
  const batch = h('div.buttons',
    ports ? h('span', 'Set same port ', samePort, ' ', h('button', { type: 'button', 'data-act': 'same-port', on: { click: () => setAll('port', samePort) } }, 'Set')) : null,
    h('span', 'Set same weight ', sameWeight, ' ', h('button', { type: 'button', 'data-act': 'same-weight', on: { click: () => setAll('weight', sameWeight) } }, 'Set')));
  const el = h('div.grid', batch, h('table', h('thead', head), body),
    addresses ? h('div.buttons', h('button', { type: 'button', 'data-act': 'add-row', on: { click: () => {
      const last = state.at(-1);
      state.push({ address: h('input', { name: 'address', value: '', placeholder: '127.0.0.1', size: 18 }), port: numberInput('port', last?.port.value, 1, 65535), weight: numberInput('weight', last?.weight.value ?? DEFAULT_WEIGHT, 0, 100) });
      draw();
    } } }, '+ Add another server')) : null);

  return {
    el,
    /** The rows as entered: strings trimmed, numbers as numbers (NaN when empty, for the API to name). */
    values() {
      return state.map((r) => ({
        ...r,
        address: r.address?.value.trim(),
        port: r.port ? toInt(r.port.value) : undefined,
        weight: toInt(r.weight.value),
      }));
    },
  };
}

/** An integer field's value; anything else is passed on as typed, for the API to refuse by name. */
function toInt(v) {
  return /^-?\d+$/.test(v.trim()) ? Number(v) : v.trim();
}
