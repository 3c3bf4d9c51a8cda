// Small DOM helpers: every text goes in through textContent, so nothing the API returns is
// ever parsed as HTML (and the CSP allows no inline script anyway).

/** h('div.cls#id', {attrs, on: {click}}, ...children) */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = m[1] === 'svg' || attrs?.svg ? document.createElementNS('http://www.w3.org/2000/svg', m[1]) : document.createElement(m[1]);
  for (const part of m[2].match(/[.#][\w-]+/g) ?? []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs !== undefined && attrs !== null && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = undefined;
  }
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (k === 'svg' || v === undefined || v === null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const num = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits).replace(/\.0+$/, '') : '–');
export const pct = (x) => `${num(x * 100, 1)}%`;
export const ms = (x) => (x > 0 ? `${num(x, x < 10 ? 2 : 0)} ms` : '–');

/** A labelled input row for forms. */
export function field(label, input, hint) {
  return h('label.field', h('span.label', label), input, hint ? h('span.hint', hint) : null);
}

export function select(name, options, value) {
  return h('select', { name }, options.map((o) => {
    const [v, text] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: v === value }, text);
  }));
}

export function checkbox(name, checked) {
  return h('input', { type: 'checkbox', name, checked: !!checked });
}

export function numberInput(name, value, min, max) {
  return h('input', { type: 'number', name, value: value ?? '', min, max, step: 1 });
}

/** The server key the data plane uses: `Type:Id:Port`. */
export const serverKey = (s) => `${s.ServerType}:${s.ServerId}:${s.Port}`;
