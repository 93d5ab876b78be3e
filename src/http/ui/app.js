// certbroker's operator console. Plain JavaScript, no dependencies. The token lives in
// sessionStorage and goes out only in the Authorization header of fetch() calls to this
// origin; every value from the server is put into the page as text (textContent), never
// as markup.
'use strict';

const API_VERSION = 'api-version=7.5';
const TOKEN_KEY = 'certbroker.token';
const SOON_DAYS = 14;

const state = { caller: null, certificates: [] };

function $(id) {
  return document.getElementById(id);
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(c);
  }
  return node;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const sep = path.includes('?') ? '&' : '?';
  const url = path.includes('api-version=') ? path : path + sep + API_VERSION;
  const headers = { Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) };
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!r.ok) {
    const message = data && data.error ? data.error.message : 'HTTP ' + r.status;
    throw new ApiError(r.status, message);
  }
  return data;
}

function age(seconds) {
  const s = Math.max(0, Math.floor(Date.now() / 1000 - seconds));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 86400) return Math.floor(s / 3600) + ' h';
  return Math.floor(s / 86400) + ' d';
}

function isoDate(seconds) {
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function canDecide() {
  return state.caller && (state.caller.role === 'officer' || state.caller.role === 'admin');
}

function isAdmin() {
  return state.caller && state.caller.role === 'admin';
}

function say(text) {
  $('message').className = 'message';
  $('message').textContent = text;
}

// --- requests ---------------------------------------------------------------------------

function awaitingApproval(p) {
  return p.status === 'inProgress' && p.approvalRequired && !p.approved && !p.cancellationRequested;
}

function statusCell(p) {
  let note = null;
  if (awaitingApproval(p)) note = 'awaiting approval';
  else if (p.status === 'inProgress' && p.approved) note = 'approved, issuing';
  else if (p.cancellationRequested && p.status === 'inProgress') note = 'cancellation requested';
  else if (p.errorMessage) note = p.errorMessage;
  return el('td', {},
    el('span', { class: 'status ' + p.status, text: p.status }),
    note ? el('span', { class: 'small', text: note }) : null);
}

function decisionCell(p) {
  const td = el('td', { class: 'decision' });
  if (!awaitingApproval(p)) return td;
  if (!canDecide()) {
    td.append(el('span', { class: 'small', text: 'an officer decides' }));
    return td;
  }
  const target = '/certificates/' + encodeURIComponent(p.name) + '/pending/';
  const query = '?request_id=' + encodeURIComponent(p.requestId);
  const reason = el('input', {
    type: 'text', placeholder: 'reason to reject', 'aria-label': 'Reason to reject ' + p.name,
  });
  const approve = el('button', {
    class: 'primary', type: 'button', text: 'Approve', 'aria-label': 'Approve ' + p.name,
    onclick: async () => {
      approve.disabled = true;
      try {
        await api('POST', target + 'approve' + query);
        say('Approved ' + p.name + '.');
      } catch (e) {
        alertError(e);
      }
      await refresh();
    },
  });
  const reject = el('button', {
    class: 'danger', type: 'button', text: 'Reject', 'aria-label': 'Reject ' + p.name,
    onclick: async () => {
      if (!reason.value.trim()) {
        reason.focus();
        return;
      }
      reject.disabled = true;
      try {
        await api('POST', target + 'reject' + query, { reason: reason.value.trim() });
        say('Rejected ' + p.name + '.');
      } catch (e) {
        alertError(e);
      }
      await refresh();
    },
  });
  td.append(approve, reason, reject);
  return td;
}

function alertError(e) {
  $('message').className = 'message error';
  $('message').textContent = e.message;
}

async function loadPending() {
  const all = $('pending-all').checked;
  const data = await api('GET', '/ops/pending' + (all ? '' : '?status=inProgress'));
  const body = $('pending').querySelector('tbody');
  body.replaceChildren();
  for (const p of data.value) {
    body.append(el('tr', { 'data-name': p.name },
      el('td', {}, el('button', {
        class: 'link', type: 'button', text: p.name, onclick: () => showHistory(p.name),
      })),
      el('td', {}, p.issuer, p.provider ? el('span', { class: 'small', text: p.provider }) : null),
      statusCell(p),
      el('td', { text: age(p.created), title: isoDate(p.created) }),
      decisionCell(p)));
  }
  $('pending-empty').hidden = data.value.length > 0;
}

// --- certificates -----------------------------------------------------------------------

function expiryCell(c) {
  if (c.exp === null || c.exp === undefined) return el('td', { class: 'small', text: 'no version yet' });
  const days = Math.floor((c.exp - Date.now() / 1000) / 86400);
  const cls = days < 0 ? 'expired' : days < SOON_DAYS ? 'soon' : '';
  const when = days < 0 ? 'expired' : 'in ' + days + ' d';
  return el('td', {}, el('span', { class: cls, text: isoDate(c.exp) }), el('span', { class: 'small', text: when }));
}

function renderCertificates() {
  const filter = $('cert-filter').value.trim().toLowerCase();
  const rows = state.certificates.filter((c) => !filter
    || c.name.toLowerCase().includes(filter)
    || (c.issuer || '').toLowerCase().includes(filter));
  const body = $('certs').querySelector('tbody');
  body.replaceChildren();
  for (const c of rows) {
    body.append(el('tr', { 'data-name': c.name },
      el('td', {}, el('button', {
        class: 'link', type: 'button', text: c.name, onclick: () => showHistory(c.name),
      })),
      expiryCell(c),
      el('td', { text: c.issuer || '-' }),
      el('td', { text: String(c.versions) }),
      el('td', { text: c.enabled === null || c.enabled === undefined ? '-' : c.enabled ? 'yes' : 'no' })));
  }
  $('certs-empty').hidden = rows.length > 0;
}

async function loadCertificates() {
  const data = await api('GET', '/ops/certificates');
  state.certificates = data.value;
  renderCertificates();
}

// --- history ----------------------------------------------------------------------------

function detail(e) {
  const d = e.data || {};
  const parts = [];
  if (d.reason) parts.push('reason: ' + d.reason);
  if (d.officer) parts.push('officer: ' + d.officer);
  if (d.provider) parts.push('provider: ' + d.provider);
  if (d.policy && d.policy.issuer) parts.push('issuer: ' + d.policy.issuer.name);
  if (d.version) parts.push('version: ' + d.version);
  if (d.message) parts.push(d.message);
  if (d.error && d.error.message) parts.push(d.error.message);
  if (d.method && d.path) parts.push(d.method + ' ' + d.path + ' → ' + d.status);
  return parts.join(' · ');
}

async function showHistory(name) {
  const section = $('history-section');
  section.hidden = false;
  $('history-name').textContent = name;
  $('history-error').textContent = '';
  const list = $('timeline');
  list.replaceChildren();
  if (!isAdmin()) {
    $('history-error').textContent = 'The history comes from the audit trail, which needs the admin role.';
    return;
  }
  try {
    let next = '/certificates/' + encodeURIComponent(name) + '/history?maxresults=200';
    for (let page = 0; next && page < 20; page += 1) {
      const data = await api('GET', next);
      for (const e of data.value) {
        const refused = e.eventType === 'AccessRefused';
        list.append(el('li', { class: refused ? 'refused' : '' },
          el('div', { class: 'what', text: e.eventType }),
          el('div', {
            class: 'meta',
            text: e.recordedAt + ' · by ' + e.actor + ' · from ' + (e.remoteAddr || 'n/a')
              + (e.clientRequestId ? ' · request ' + e.clientRequestId : ''),
          }),
          el('div', { class: 'detail', text: detail(e) })));
      }
      next = data.nextLink ? new URL(data.nextLink).pathname + new URL(data.nextLink).search : null;
    }
    if (!list.children.length) $('history-error').textContent = 'No events for this certificate.';
  } catch (e) {
    $('history-error').textContent = e.message;
  }
  section.scrollIntoView({ block: 'nearest' });
}

// --- audit chain ------------------------------------------------------------------------

async function loadHead() {
  const head = await api('GET', '/audit/head');
  $('head-position').textContent = String(head.position);
  $('head-hash').textContent = head.hash || '-';
}

async function verifyNow() {
  const out = $('verify-result');
  out.className = '';
  out.textContent = 'Verifying…';
  try {
    const v = await api('POST', '/audit/verify');
    if (v.verified) {
      out.className = 'ok';
      out.textContent = 'Verified ' + v.rows + ' events; head position '
        + (v.head ? v.head.position : 0) + '.';
    } else {
      out.className = 'bad';
      out.textContent = 'Chain broken at position ' + v.broken.position + ': ' + v.broken.reason;
    }
    await loadHead();
  } catch (e) {
    out.className = 'bad';
    out.textContent = e.message;
  }
}

// --- session ----------------------------------------------------------------------------

async function refresh() {
  try {
    await Promise.all([loadPending(), loadCertificates(), isAdmin() ? loadHead() : null]);
  } catch (e) {
    if (e.status === 401) signOut('The token is no longer accepted.');
    else alertError(e);
  }
}

function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.caller = null;
  $('console').hidden = true;
  $('signin').hidden = false;
  $('signout').hidden = true;
  $('refresh').hidden = true;
  $('who').textContent = '';
  $('signin-error').textContent = why || '';
}

async function start() {
  try {
    state.caller = await api('GET', '/ops/whoami');
  } catch (e) {
    signOut(e.status === 401 ? 'That token is not accepted.' : e.message);
    return;
  }
  $('signin').hidden = true;
  $('console').hidden = false;
  $('signout').hidden = false;
  $('refresh').hidden = false;
  $('who').textContent = state.caller.name + ' (' + state.caller.role + ') · vault ' + state.caller.vault;
  $('audit-section').hidden = !isAdmin();
  await refresh();
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    $('token').value = '';
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    start();
  });
  $('signout').addEventListener('click', () => signOut(''));
  $('refresh').addEventListener('click', () => refresh());
  $('pending-all').addEventListener('change', () => loadPending().catch(alertError));
  $('cert-filter').addEventListener('input', renderCertificates);
  $('history-close').addEventListener('click', () => { $('history-section').hidden = true; });
  $('verify').addEventListener('click', verifyNow);
  if (sessionStorage.getItem(TOKEN_KEY)) start();
});
