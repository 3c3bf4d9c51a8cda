import { h, clear } from './dom.js';
import { ApiError, LoggedOut, errorBox, getJson, login, logout } from './api.js';
import { overviewPage } from './overview.js';
import { groupPage } from './group.js';
import { listenerPage } from './listener.js';
import { jobsPage } from './jobs.js';
import { securityPage } from './security.js';

// The console's shell: login, the hash router (#/, #/group/<id>, #/listener/<id>, #/jobs, #/security) and
// the 2 s poll that feeds the page on screen. Each page is { el, refresh(live), chartFor? }: refresh
// redraws only its live parts, so a half-filled form survives the poll.

const POLL_MS = 2000;
const main = document.getElementById('main');
const meta = document.getElementById('meta');
const loginBox = document.getElementById('login');
const logoutButton = document.getElementById('logout');
let page;
let timer;
let ticking = false;

function pageFor(hash) {
  const [, kind, id] = hash.replace(/^#/, '').split('/');
  if (kind === 'group' && id) return groupPage(decodeURIComponent(id));
  if (kind === 'listener' && id) return listenerPage(decodeURIComponent(id));
  if (kind === 'jobs') return jobsPage();
  if (kind === 'security') return securityPage();
  return overviewPage();
}

function route() {
  page = pageFor(location.hash);
  clear(main, page.el);
  void tick();
}

async function tick() {
  if (ticking) return;
  ticking = true;
  try {
    // The group page asks for its group's 15-minute chart; other pages need none.
    const live = await getJson(`/console/live.json${page.chartFor ? `?group=${encodeURIComponent(page.chartFor)}` : ''}`);
    meta.textContent = `node ${live.NodeId} · zone ${live.Zone} · v${live.Version} · state v${live.StateVersion} (applied v${live.AppliedVersion}) · ${live.Workers} workers`;
    await page.refresh(live);
  } catch (e) {
    if (e instanceof LoggedOut) showLogin('Your session ended; log in again.');
    else meta.textContent = `cannot load: ${e instanceof ApiError ? e.code : e.message}`;
  } finally {
    ticking = false;
  }
}

function showLogin(message) {
  clearInterval(timer);
  timer = undefined;
  main.hidden = true;
  logoutButton.hidden = true;
  loginBox.hidden = false;
  meta.textContent = '';
  clear(document.getElementById('login-error'), message ? h('div.muted', message) : null);
  loginBox.querySelector('input').focus();
}

function showConsole(loginRequired) {
  loginBox.hidden = true;
  main.hidden = false;
  logoutButton.hidden = !loginRequired;
  route();
  timer ??= setInterval(tick, POLL_MS);
}

document.getElementById('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = ev.target.elements.token;
  const { res, json } = await login(input.value);
  input.value = '';
  if (res.ok) showConsole(true);
  else clear(document.getElementById('login-error'), errorBox(new ApiError(res.status, json.Code, json.Message)));
});

logoutButton.addEventListener('click', async () => {
  await logout();
  showLogin('Logged out.');
});

window.addEventListener('hashchange', route);
// A write flow that finds the session gone (it throws from a click handler).
window.addEventListener('unhandledrejection', (ev) => {
  if (ev.reason instanceof LoggedOut) showLogin('Your session ended; log in again.');
});

const session = await getJson('/console/session');
if (session.LoginRequired && !session.LoggedIn) showLogin();
else showConsole(session.LoginRequired);
