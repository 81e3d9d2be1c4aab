// meowgate web console: plain JavaScript, no dependencies, no requests to
// anything but this server. The session is an HttpOnly cookie set by
// POST /console/login; state-changing requests carry the CSRF token.
'use strict';

// Labels only: an event or message type without one is shown as it is.
const EVENT_LABELS = {
  'instance.state': 'State', 'instance.qr': 'QR code', 'message.received': 'Message received',
  'message.sent': 'Message sent', 'message.status': 'Message status', 'message.echo': 'Message from the phone',
  'call.received': 'Call', 'webhook.disabled': 'Webhook disabled', 'message.reaction': 'Reaction',
  'message.edited': 'Message edited', 'message.revoked': 'Message revoked', 'poll.vote': 'Poll vote',
  'instance.restricted': 'Restricted', 'system.client_version': 'Client version',
};
const MESSAGE_LABELS = { text: 'Text', image: 'Image', video: 'Video', audio: 'Audio', document: 'Document',
  location: 'Location', contact: 'Contact', reaction: 'Reaction', sticker: 'Sticker', poll: 'Poll' };
const MAX_EVENTS = 500;

const S = { me: null, csrf: '', es: null, instances: new Map(), events: [], pairCodes: {}, view: null };

class ApiError extends Error {
  constructor(status, e) {
    super((e && e.message) || ('HTTP ' + status));
    this.status = status; this.code = (e && e.code) || ''; this.fields = (e && e.fields) || {};
  }
}

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  // A FormData body goes as multipart/form-data: the browser sets the
  // boundary and streams the file.
  if (body instanceof FormData) opt.body = body;
  else if (body !== undefined) { opt.headers['Content-Type'] = 'application/json'; opt.body = JSON.stringify(body); }
  if (method !== 'GET' && S.csrf) opt.headers['X-CSRF-Token'] = S.csrf;
  const r = await fetch(path, opt);
  let data = null;
  if ((r.headers.get('Content-Type') || '').includes('json')) data = await r.json();
  if (!r.ok) {
    const err = new ApiError(r.status, data && data.error);
    if (r.status === 401 && path !== '/console/login') loggedOut();
    throw err;
  }
  return data;
}

// h builds an element; text is always set as text, never parsed as HTML.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (typeof v !== 'string' && k in el) el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat(Infinity)) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const $ = (sel, root) => (root || document).querySelector(sel);
const enc = encodeURIComponent;
const ipath = (name, rest) => '/v1/instances/' + enc(name) + (rest || '');
const fmtTime = (s) => (s ? new Date(s).toLocaleString() : '');
const label = (map, t) => map[t] || t;

function toast(msg, bad) {
  const t = $('#toast');
  t.textContent = msg; t.className = bad ? 'show bad' : 'show';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ''; }, 5000);
}

// act wraps an async handler: errors become a message, never an uncaught
// rejection. A form handler's field errors go next to its fields.
function act(fn) {
  return async (ev) => {
    if (ev && ev.preventDefault) ev.preventDefault();
    const form = ev && ev.currentTarget && ev.currentTarget.tagName === 'FORM' ? ev.currentTarget : null;
    const btn = form ? $('button[type=submit]', form) : ev && ev.currentTarget;
    if (form) clearFieldErrors(form);
    if (btn) btn.disabled = true;
    try { await fn(ev, form); } catch (e) {
      if (form && e instanceof ApiError) showFieldErrors(form, e);
      if (!(e instanceof ApiError && e.status === 401)) toast(e.message, true);
    } finally { if (btn) btn.disabled = false; }
  };
}

function clearFieldErrors(form) {
  form.querySelectorAll('.field-error').forEach((s) => { s.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((i) => i.removeAttribute('aria-invalid'));
  const g = $('.form-error', form); if (g) g.textContent = '';
}

// showFieldErrors puts each of the server's 422 fields next to its input:
// by the full name ("webhook.url") or its last part ("url").
function showFieldErrors(form, e) {
  const rest = [];
  for (const [k, msg] of Object.entries(e.fields)) {
    const short = k.split('.').pop();
    const slot = form.querySelector('.field-error[data-for="' + CSS.escape(k) + '"]') ||
      form.querySelector('.field-error[data-for="' + CSS.escape(short) + '"]');
    if (!slot) { rest.push(k + ': ' + msg); continue; }
    slot.textContent = msg;
    const input = document.getElementById(slot.dataset.input || '');
    if (input) input.setAttribute('aria-invalid', 'true');
  }
  const g = $('.form-error', form);
  if (g) g.textContent = rest.length ? rest.join('; ') : (Object.keys(e.fields).length ? '' : e.message);
}

// field is a labelled input with its error slot.
function field(id, text, input, key) {
  input.id = id;
  const err = h('span', { class: 'field-error', 'data-for': key || id, 'data-input': id, id: id + '-error', 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', err.id);
  if (input.type === 'checkbox') return h('div', { class: 'field check' }, input, h('label', { for: id }, text), err);
  return h('div', { class: 'field' }, h('label', { for: id }, text), input, err);
}
const formError = () => h('p', { class: 'form-error', role: 'alert' });
const badge = (state) => h('span', { class: 'badge s-' + state }, state);

// ---- session and live events ----

async function start() {
  window.addEventListener('hashchange', route);
  try {
    const me = await api('GET', '/console/info');
    signedIn(me);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) toast(e.message, true);
    loggedOut();
  }
}

function signedIn(me) {
  S.me = me; S.csrf = me.csrf_token || '';
  openStream();
  renderNav();
  if (!location.hash || location.hash === '#/login') location.hash = '#/';
  else route();
}

function loggedOut() {
  if (S.es) { S.es.close(); S.es = null; }
  S.me = null; S.csrf = ''; S.instances.clear(); S.events = [];
  renderNav();
  show(viewLogin());
}

function openStream() {
  if (S.es) S.es.close();
  const es = new EventSource('/v1/events');
  // Named SSE events reach only their own listeners: listen to every type
  // the server knows (it says which in /console/info).
  for (const t of S.me.event_types || []) es.addEventListener(t, (m) => onEvent(m));
  es.onmessage = (m) => onEvent(m);
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      // The server refused the stream: maybe the session ended.
      api('GET', '/console/info').then(() => setTimeout(openStream, 2000), () => {});
    }
  };
  S.es = es;
}

function onEvent(m) {
  let ev;
  try { ev = JSON.parse(m.data); } catch (_) { return; }
  S.events.unshift(ev);
  if (S.events.length > MAX_EVENTS) S.events.length = MAX_EVENTS;
  if (ev.type === 'instance.state') {
    const inst = S.instances.get(ev.instance);
    if (inst && ev.data) Object.assign(inst, { state: ev.data.state, reason: ev.data.reason, connection: ev.data.connection });
  }
  if (S.view && S.view.onEvent) S.view.onEvent(ev);
}

// ---- routing ----

function show(v) {
  if (S.view && S.view.cleanup) S.view.cleanup();
  S.view = v;
  const app = $('#app');
  app.replaceChildren(v.el);
  document.title = (v.title ? v.title + ' · ' : '') + 'meowgate';
  const f = $('[autofocus]', app); (f || app).focus();
}

function route() {
  if (!S.me) { show(viewLogin()); return; }
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  renderNav();
  if (parts[0] === 'i' && parts[1]) show(viewInstance(parts[1], parts[2] || 'overview'));
  else if (parts[0] === 'events') show(viewEvents(null));
  else show(viewList());
}

function renderNav() {
  const nav = $('#nav');
  if (!S.me) { nav.replaceChildren(); return; }
  nav.replaceChildren(
    h('a', { href: '#/' }, 'Instances'),
    S.me.admin ? h('a', { href: '#/events' }, 'Events') : null,
    S.me.sandbox ? h('span', { class: 'sandbox-tag', title: 'Simulated WhatsApp: nothing leaves this machine' }, 'sandbox') : null,
    h('span', { class: 'who' }, S.me.admin ? 'admin' : 'token: ' + S.me.instance),
    h('button', { type: 'button', class: 'link', onclick: act(async () => {
      await api('POST', '/console/logout');
      location.hash = '#/login';
      loggedOut();
    }) }, 'Log out'));
}

// ---- pages ----

function viewLogin() {
  const key = h('input', { type: 'password', autocomplete: 'current-password', required: true, autofocus: true, spellcheck: 'false' });
  const form = h('form', { id: 'login', class: 'card narrow', onsubmit: act(async () => {
    const me = await api('POST', '/console/login', { key: key.value });
    key.value = '';
    signedIn(me);
  }) },
  h('h1', {}, 'Log in'),
  h('p', { class: 'hint' }, 'Use the admin key, or an instance token to see only that instance. The key stays on the server side of an HttpOnly session cookie.'),
  field('login-key', 'Admin key or instance token', key, 'key'),
  formError(),
  h('button', { type: 'submit' }, 'Log in'));
  return { el: form, title: 'Log in' };
}

function viewList() {
  const tbody = h('tbody');
  const el = h('section', {}, h('h1', {}, 'Instances'));
  const table = h('div', { class: 'scroll' }, h('table', { id: 'instances' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'State'), h('th', {}, 'Phone'), h('th', {}, 'Name on WhatsApp'), h('th', {}, 'Queued'))),
    tbody));
  const empty = h('p', { class: 'hint', hidden: true }, 'No instances yet.');
  if (S.me.admin) el.append(createForm());
  el.append(table, empty);
  const row = (i) => h('tr', { 'data-name': i.name },
    h('td', {}, h('a', { href: '#/i/' + enc(i.name) }, i.name)), h('td', { class: 'state' }, badge(i.state)),
    h('td', {}, i.phone || ''), h('td', {}, i.push_name || ''), h('td', {}, String((i.queue && i.queue.pending) || 0)));
  const load = async () => {
    const r = await api('GET', '/v1/instances');
    S.instances = new Map(r.instances.map((i) => [i.name, i]));
    tbody.replaceChildren(...r.instances.map(row));
    empty.hidden = r.instances.length > 0;
  };
  const reload = debounce(() => load().catch((e) => toast(e.message, true)), 300);
  load().catch((e) => toast(e.message, true));
  return { el, title: 'Instances', onEvent: (ev) => {
    if (ev.type === 'instance.state' || ev.type === 'message.sent' || ev.type === 'message.status') {
      const tr = tbody.querySelector('tr[data-name="' + CSS.escape(ev.instance) + '"]');
      if (tr && ev.data && ev.data.state) $('.state', tr).replaceChildren(badge(ev.data.state));
      reload(); // phone, name and queue come with the instance
    }
  }, cleanup: () => reload.cancel() };
}

function createForm() {
  const name = h('input', { type: 'text', required: true, maxlength: 50, pattern: '[A-Za-z0-9._\\-]+', autocomplete: 'off' });
  const connect = h('input', { type: 'checkbox', checked: true });
  const out = h('div', { id: 'created', 'aria-live': 'polite' });
  return h('form', { id: 'create-form', class: 'card', onsubmit: act(async () => {
    const r = await api('POST', '/v1/instances', { name: name.value, connect: connect.checked });
    const n = r.instance.name;
    name.value = '';
    out.replaceChildren(h('p', {}, 'Created ', h('a', { href: '#/i/' + enc(n) }, n), '. Its token is shown only now; keep it:'),
      h('code', { id: 'new-token', class: 'token' }, r.token));
    S.view.onEvent && S.view.onEvent({ type: 'instance.state', instance: n });
  }) },
  h('h2', {}, 'New instance'),
  h('div', { class: 'row' }, field('create-name', 'Name', name, 'name'), field('create-connect', 'Connect now', connect, 'connect')),
  formError(), h('button', { type: 'submit' }, 'Create'), out);
}

const TABS = [['overview', 'Overview'], ['messages', 'Messages'], ['settings', 'Settings'], ['webhook', 'Webhook'], ['events', 'Events'], ['sandbox', 'Sandbox']];

function viewInstance(name, tab) {
  const head = h('div', { class: 'inst-head' });
  const body = h('div', { class: 'tab-body' });
  const tabs = TABS.filter(([t]) => t !== 'sandbox' || (S.me.sandbox && S.me.admin));
  const el = h('section', {}, head,
    h('nav', { class: 'tabs', 'aria-label': 'Instance' }, tabs.map(([t, l]) =>
      h('a', { href: '#/i/' + enc(name) + '/' + t, 'aria-current': t === tab ? 'page' : null }, l))),
    body);
  let inst = null;
  const cleanups = [];
  const v = { el, title: name, cleanup: () => cleanups.forEach((f) => f()), onEvent: null };
  const renderHead = () => {
    head.replaceChildren(h('h1', {}, name, ' ', h('span', { id: 'state' }, badge(inst.state))),
      h('p', { class: 'meta' },
        inst.reason ? h('span', {}, 'reason: ', h('span', { id: 'reason' }, inst.reason)) : null,
        inst.phone ? h('span', {}, 'phone: ', h('span', { id: 'phone' }, inst.phone)) : null,
        inst.push_name ? h('span', {}, 'name: ', h('span', { id: 'push-name' }, inst.push_name)) : null));
  };
  const loadInst = async () => {
    const r = await api('GET', ipath(name));
    inst = r.instance;
    S.instances.set(name, inst);
    renderHead();
    return inst;
  };
  const refresh = debounce(() => loadInst().then(() => part && part.onInstance && part.onInstance(inst)).catch(() => {}), 200);
  cleanups.push(() => refresh.cancel());
  let part = null;
  const mk = { overview: tabOverview, messages: tabMessages, settings: tabSettings, webhook: tabWebhook,
    events: tabEvents, sandbox: tabSandbox }[tab] || tabOverview;
  loadInst().then((i) => {
    part = mk(name, i, loadInst);
    if (part.cleanup) cleanups.push(part.cleanup);
    body.replaceChildren(part.el);
  }).catch((e) => body.replaceChildren(h('p', { class: 'form-error' }, e.message)));
  v.onEvent = (ev) => {
    if (ev.instance !== name) return;
    if (ev.type === 'instance.state' && inst) {
      Object.assign(inst, { state: ev.data.state, reason: ev.data.reason });
      renderHead();
      refresh();
    }
    if (part && part.onEvent) part.onEvent(ev);
  };
  return v;
}

function tabOverview(name, inst, reload) {
  const el = h('div', {});
  const link = h('div', { id: 'link-panel' });
  const confirmBox = h('div', { class: 'confirm', 'aria-live': 'polite' });
  let timer = null;
  const stopTimer = () => { if (timer) clearInterval(timer); timer = null; };
  const loadQR = async () => {
    const img = $('#qr-img', link); const left = $('#qr-expires', link);
    if (!img) return;
    let q;
    try { q = await api('GET', ipath(name, '/qr')); } catch (e) {
      if (e instanceof ApiError && e.status === 409) return; // no longer awaiting a scan
      throw e;
    }
    img.src = q.data_uri; img.hidden = false;
    stopTimer();
    const tick = () => {
      const s = Math.max(0, Math.round((new Date(q.expires_at) - Date.now()) / 1000));
      left.textContent = s > 0 ? 'expires in ' + s + ' s' : 'expired; a new code follows';
    };
    tick(); timer = setInterval(tick, 1000);
  };
  const renderLink = (i) => {
    stopTimer();
    if (i.state === 'scan_qr') {
      const phone = h('input', { type: 'tel', placeholder: '+4915123456789', autocomplete: 'off', value: i.phone || '' });
      const code = h('output', { id: 'pair-code', class: 'pair-code' }, S.pairCodes[name] || '');
      link.replaceChildren(h('div', { class: 'grid2' },
        h('div', { class: 'card' }, h('h2', {}, 'Link by QR code'),
          h('p', { class: 'hint' }, 'On the phone: WhatsApp › Linked devices › Link a device, and scan.'),
          h('img', { id: 'qr-img', alt: 'QR code to scan with WhatsApp', width: 264, height: 264, hidden: true }),
          h('p', { id: 'qr-expires', class: 'hint', 'aria-live': 'off' })),
        h('form', { id: 'pair-form', class: 'card', onsubmit: act(async () => {
          const r = await api('POST', ipath(name, '/pair-code'), { phone: phone.value });
          S.pairCodes[name] = r.code; code.textContent = r.code;
        }) }, h('h2', {}, 'Link by pairing code'),
        h('p', { class: 'hint' }, 'Enter the phone number, then type the code on the phone: Linked devices › Link with phone number.'),
        field('pair-phone', 'Phone (+E.164)', phone, 'phone'), formError(),
        h('button', { type: 'submit' }, 'Get code'), code)));
      loadQR().catch((e) => toast(e.message, true));
    } else if (i.state === 'connected') {
      link.replaceChildren(h('p', { class: 'card ok' }, 'Connected as ', h('strong', {}, i.phone || ''), i.push_name ? ' (' + i.push_name + ')' : ''));
    } else {
      link.replaceChildren(h('p', { class: 'card' }, i.state === 'starting' ? 'Starting…' : 'Not connected. Connect to link a phone or to resume the link.'));
    }
  };
  const action = (verb, path, method, confirmText, after) => h('button', { type: 'button', 'data-action': verb, onclick: (e) => {
    const run = act(async () => {
      confirmBox.replaceChildren();
      await api(method, path);
      toast(verb + ': done');
      if (after) after(); else await reload().then(renderLink);
    });
    if (!confirmText) { run(e); return; }
    const yes = h('button', { type: 'button', class: 'danger', 'data-confirm': verb, onclick: run }, 'Yes, ' + verb);
    confirmBox.replaceChildren(h('p', {}, confirmText), yes, h('button', { type: 'button', onclick: () => confirmBox.replaceChildren() }, 'Cancel'));
    yes.focus();
  } }, verb[0].toUpperCase() + verb.slice(1));
  el.append(link, h('div', { class: 'card' }, h('h2', {}, 'Actions'), h('div', { class: 'actions' },
    action('connect', ipath(name, '/connect'), 'POST'),
    action('disconnect', ipath(name, '/disconnect'), 'POST', 'Disconnect ' + name + '? The link is kept.'),
    action('restart', ipath(name, '/restart'), 'POST', 'Restart ' + name + '?'),
    action('logout', ipath(name, '/logout'), 'POST', 'Log ' + name + ' out? The phone link is removed; linking again needs a new scan.'),
    S.me.admin ? action('delete', ipath(name), 'DELETE', 'Delete ' + name + ' with all its messages? This cannot be undone.', () => { location.hash = '#/'; }) : null),
  confirmBox));
  renderLink(inst);
  return { el, cleanup: stopTimer, onInstance: renderLink,
    onEvent: (ev) => { if (ev.type === 'instance.qr') loadQR().catch((e) => toast(e.message, true)); } };
}

// fileKind is the message type a chosen file goes as: from the type the
// browser gives it (WebP only goes as a sticker; anything else not shown
// by WhatsApp in place is a document). The server checks the content.
function fileKind(f) {
  const t = (f.type || '').toLowerCase();
  if (t === 'image/jpeg' || t === 'image/png') return 'image';
  if (t === 'image/webp') return 'sticker';
  if (t.startsWith('video/')) return 'video';
  if (t.startsWith('audio/') || t === 'application/ogg') return 'audio';
  return 'document';
}

const fmtSize = (n) => (n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB' : n >= 1024 ? Math.round(n / 1024) + ' KB' : n + ' B');

// messageContent shows what a message carries: the file (an image as a
// thumbnail through the media route, other files as a link), a location,
// contact cards, a reaction, a poll with its votes, the reactions it got,
// and whether it was edited or revoked.
function messageContent(m) {
  const out = [];
  const md = m.media;
  if (md) {
    const name = md.file_name || (label(MESSAGE_LABELS, m.type) + (md.ptt ? ' (voice note)' : ''));
    if ((m.type === 'image' || m.type === 'sticker') && md.url) {
      out.push(h('a', { href: md.url, target: '_blank', rel: 'noopener' },
        h('img', { class: 'thumb', src: md.url, alt: md.caption || name, loading: 'lazy' })));
    } else if (md.url) {
      out.push(h('a', { class: 'file', href: md.url, target: '_blank', rel: 'noopener' }, name), ' ');
    }
    out.push(h('span', { class: 'hint' }, [md.mimetype, md.size ? fmtSize(md.size) : '', md.seconds ? md.seconds + ' s' : ''].filter(Boolean).join(', ')));
    if (md.caption) out.push(h('div', {}, md.caption));
  }
  const loc = m.location;
  if (loc) {
    out.push(h('div', { class: 'loc' }, [loc.name, loc.address].filter(Boolean).join(', '),
      ' (' + loc.latitude.toFixed(5) + ', ' + loc.longitude.toFixed(5) + ')'));
  }
  for (const c of m.contacts || []) out.push(h('div', { class: 'contact' }, c.name + (c.phone ? ' ' + c.phone : '')));
  if (m.reaction) out.push(h('div', {}, (m.reaction.emoji || '(reaction removed)') + ' on ' + m.reaction.message_id));
  if (m.poll) {
    out.push(h('div', { class: 'poll' }, h('strong', {}, m.poll.question),
      h('ul', {}, m.poll.options.map((o) => h('li', {}, o.name + ' ', h('span', { class: 'votes' }, o.votes + (o.votes === 1 ? ' vote' : ' votes')))))));
  }
  if (m.text && (m.type === 'text' || !out.length)) out.push(h('div', {}, m.text));
  if (!out.length && m.summary) out.push(JSON.stringify(m.summary));
  const marks = [];
  if ((m.reactions || []).length) marks.push(h('span', { class: 'reactions', title: m.reactions.map((r) => r.from + ' ' + r.emoji).join(', ') }, m.reactions.map((r) => r.emoji).join(' ')));
  if (m.edited) marks.push(h('span', { class: 'badge mark-edited' }, 'edited'));
  if (m.revoked) marks.push(h('span', { class: 'badge mark-revoked' }, 'revoked'));
  if (marks.length) out.push(h('div', { class: 'marks' }, marks));
  return out;
}

function tabMessages(name) {
  const to = h('input', { type: 'text', required: true, placeholder: '+4915123456789', autocomplete: 'off' });
  const text = h('textarea', { rows: 3 });
  const file = h('input', { type: 'file', accept: 'image/*,video/*,audio/*,application/*,text/*' });
  const ptt = h('input', { type: 'checkbox' });
  const pttField = field('send-ptt', 'Send the audio as a voice note (Ogg/Opus)', ptt, 'ptt');
  const textLabel = () => $('label[for=send-text]', el);
  const onFile = () => {
    const f = file.files[0];
    pttField.hidden = !(f && fileKind(f) === 'audio');
    if (pttField.hidden) ptt.checked = false;
    textLabel().textContent = f ? 'Caption (optional)' : 'Text';
  };
  file.addEventListener('change', onFile);
  const tbody = h('tbody');
  const load = async () => {
    const r = await api('GET', ipath(name, '/messages?limit=50'));
    tbody.replaceChildren(...r.messages.map((m) => h('tr', { 'data-id': m.id, class: m.revoked ? 'revoked' : null },
      h('td', {}, fmtTime(m.created_at)), h('td', {}, m.direction === 'in' ? 'in' : 'out'),
      h('td', {}, m.direction === 'in' ? ((m.sender && m.sender.phone) || m.from || m.chat) : (m.to || m.chat)),
      h('td', {}, label(MESSAGE_LABELS, m.type)),
      h('td', { class: 'text' }, messageContent(m)),
      h('td', { class: 'status' }, h('span', { class: 'badge m-' + m.status }, m.status), m.error ? ' ' + m.error : ''))));
  };
  const reload = debounce(() => load().catch(() => {}), 250);
  const el = h('div', {},
    h('form', { id: 'send-form', class: 'card', onsubmit: act(async () => {
      const f = file.files[0];
      if (f) {
        // The fields first, the file last: the server reads them in order.
        const fd = new FormData();
        fd.append('to', to.value);
        fd.append('type', fileKind(f));
        if (text.value) fd.append('caption', text.value);
        if (ptt.checked) fd.append('ptt', 'true');
        fd.append('file', f, f.name);
        await api('POST', ipath(name, '/messages'), fd);
        file.value = ''; onFile();
      } else {
        await api('POST', ipath(name, '/messages'), { to: to.value, type: 'text', text: text.value });
      }
      text.value = ''; await load();
    }) }, h('h2', {}, 'Send a message'),
    h('div', { class: 'row' }, field('send-to', 'To (+E.164 or JID)', to, 'to'), field('send-text', 'Text', text, 'text')),
    h('div', { class: 'row' }, field('send-file', 'File (image, video, audio, document; optional)', file, 'file'), pttField),
    formError(), h('button', { type: 'submit' }, 'Send')),
    h('h2', {}, 'Messages'),
    h('div', { class: 'scroll' }, h('table', { id: 'messages' }, h('thead', {}, h('tr', {},
      ['Time', 'Dir', 'Peer', 'Type', 'Content', 'Status'].map((t) => h('th', {}, t)))), tbody)));
  pttField.hidden = true;
  load().catch((e) => toast(e.message, true));
  return { el, cleanup: () => reload.cancel(), onEvent: (ev) => { if (ev.type.startsWith('message.') || ev.type === 'poll.vote') reload(); } };
}

function tabSettings(name) {
  const el = h('div', {}, h('p', {}, 'Loading…'));
  api('GET', ipath(name, '/settings')).then((s) => {
    const inputs = {};
    const fields = Object.entries(s).map(([k, v]) => {
      let input;
      if (typeof v === 'boolean') input = h('input', { type: 'checkbox', checked: v });
      else if (typeof v === 'number') input = h('input', { type: 'number', step: 1, value: String(v) });
      else input = h('input', { type: 'text', value: v == null ? '' : String(v) });
      inputs[k] = input;
      return field('set-' + k, k.replace(/_/g, ' '), input, k);
    });
    el.replaceChildren(h('form', { id: 'settings-form', class: 'card', novalidate: true, onsubmit: act(async () => {
      const body = {};
      for (const [k, input] of Object.entries(inputs)) {
        if (input.type === 'checkbox') body[k] = input.checked;
        else if (input.type === 'number') body[k] = input.value.trim() === '' || isNaN(Number(input.value)) ? input.value : Number(input.value);
        else body[k] = input.value;
      }
      await api('PATCH', ipath(name, '/settings'), body);
      toast('Settings saved');
    }) }, h('h2', {}, 'Settings'), h('div', { class: 'fields' }, fields), formError(), h('button', { type: 'submit' }, 'Save settings')));
  }).catch((e) => el.replaceChildren(h('p', { class: 'form-error' }, e.message)));
  return { el };
}

function tabWebhook(name, inst) {
  const w = inst.webhook || {};
  const url = h('input', { type: 'url', value: w.url || '', placeholder: 'https://example.lan/hook', autocomplete: 'off' });
  const enabled = h('input', { type: 'checkbox', checked: !!w.enabled });
  const events = h('input', { type: 'text', value: (w.events || []).join(', '), placeholder: 'all events' });
  const secret = h('input', { type: 'password', autocomplete: 'new-password', placeholder: w.has_secret ? 'set; leave empty to keep' : 'none' });
  const tbody = h('tbody');
  const load = async () => {
    const r = await api('GET', ipath(name, '/webhook/deliveries?limit=50'));
    tbody.replaceChildren(...r.deliveries.map((d) => h('tr', { 'data-id': d.id },
      h('td', {}, d.id), h('td', {}, label(EVENT_LABELS, d.event_type)), h('td', { class: 'status' }, h('span', { class: 'badge d-' + d.status }, d.status)),
      h('td', {}, String(d.attempts)), h('td', {}, d.last_status_code == null ? '' : String(d.last_status_code)),
      h('td', { class: 'text' }, d.last_error || ''), h('td', {}, fmtTime(d.last_attempt_at)),
      h('td', {}, d.status === 'dead' || d.status === 'failed' ? h('button', { type: 'button', class: 'retry', onclick: act(async () => {
        await api('POST', ipath(name, '/webhook/deliveries/' + enc(d.id) + '/retry'));
        toast('Delivery ' + d.id + ' queued again'); await load();
      }) }, 'Retry') : ''))));
  };
  const reload = debounce(() => load().catch(() => {}), 1000);
  const el = h('div', {},
    h('form', { id: 'webhook-form', class: 'card', novalidate: true, onsubmit: act(async () => {
      const wh = { url: url.value, enabled: enabled.checked,
        events: events.value.split(',').map((s) => s.trim()).filter(Boolean) };
      if (secret.value) wh.secret = secret.value;
      await api('PATCH', ipath(name), { webhook: wh });
      secret.value = ''; toast('Webhook saved');
    }) }, h('h2', {}, 'Webhook'),
    field('wh-url', 'URL', url, 'webhook.url'), field('wh-enabled', 'Enabled', enabled, 'webhook.enabled'),
    field('wh-events', 'Events (comma-separated; empty: all)', events, 'webhook.events'),
    field('wh-secret', 'Signing secret', secret, 'webhook.secret'), formError(), h('button', { type: 'submit' }, 'Save webhook')),
    h('div', { class: 'bar' }, h('h2', {}, 'Deliveries'), h('button', { type: 'button', id: 'deliveries-refresh', onclick: act(load) }, 'Refresh')),
    h('div', { class: 'scroll' }, h('table', { id: 'deliveries' }, h('thead', {}, h('tr', {},
      ['Id', 'Event', 'Status', 'Attempts', 'Last code', 'Last error', 'Last attempt', ''].map((t) => h('th', {}, t)))), tbody)));
  load().catch((e) => toast(e.message, true));
  return { el, cleanup: () => reload.cancel(), onEvent: () => reload() };
}

function eventRow(ev) {
  const d = ev.data || {};
  let summary;
  if (ev.type === 'instance.state') summary = d.state + (d.reason ? ' (' + d.reason + ')' : '');
  else if (ev.type === 'message.status') summary = d.id + ' → ' + d.status;
  else if (d.text !== undefined) summary = ((d.sender && d.sender.phone) || d.from || d.to || '') + ': ' + d.text;
  else summary = JSON.stringify(d);
  return h('li', { 'data-type': ev.type }, h('time', {}, fmtTime(ev.created_at)), ' ',
    h('span', { class: 'ev-type' }, label(EVENT_LABELS, ev.type)), ' ',
    ev.instance ? h('span', { class: 'ev-inst' }, ev.instance) : null, ' ', h('span', { class: 'ev-data' }, summary));
}

function eventList(name) {
  const list = h('ol', { id: 'event-log', class: 'events', 'aria-live': 'off' });
  const mine = (ev) => !name || ev.instance === name;
  list.append(...S.events.filter(mine).map(eventRow));
  return { list, onEvent: (ev) => {
    if (!mine(ev)) return;
    list.prepend(eventRow(ev));
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  } };
}

function tabEvents(name) {
  const l = eventList(name);
  return { el: h('div', { class: 'card' }, h('h2', {}, 'Live events'), h('p', { class: 'hint' }, 'Since this page was opened, newest first.'), l.list), onEvent: l.onEvent };
}

function viewEvents() {
  const l = eventList(null);
  return { el: h('section', {}, h('h1', {}, 'Live events'), h('p', { class: 'hint' }, 'Every instance, since this page was opened, newest first.'), l.list),
    title: 'Events', onEvent: l.onEvent };
}

function tabSandbox(name, inst) {
  const sb = (p) => '/v1/sandbox/instances/' + enc(name) + p;
  const scanPhone = h('input', { type: 'tel', required: true, value: inst.phone || '', placeholder: '+4915123456789' });
  const code = h('input', { type: 'text', required: true, value: S.pairCodes[name] || '', autocomplete: 'off' });
  const from = h('input', { type: 'tel', required: true, placeholder: '+4915550001111' });
  const push = h('input', { type: 'text', placeholder: 'Alice' });
  const text = h('input', { type: 'text', required: true });
  const inboxPhone = h('input', { type: 'tel', required: true, placeholder: '+4915550001111' });
  const inbox = h('ul', { id: 'sb-inbox-list', class: 'events' });
  const form = (id, title, hint, fields, btn, fn) => h('form', { id, class: 'card', novalidate: true, onsubmit: act(fn) },
    h('h2', {}, title), h('p', { class: 'hint' }, hint), fields, formError(), h('button', { type: 'submit' }, btn));
  const loadInbox = async () => {
    const r = await api('GET', '/v1/sandbox/contacts/' + enc(inboxPhone.value) + '/inbox');
    inbox.replaceChildren(...(r.messages.length ? r.messages.map((m) => h('li', { 'data-id': m.id, 'data-type': m.type || 'text' }, h('time', {}, fmtTime(m.received_at)), ' ',
      m.from + ': ' + [m.type && m.type !== 'text' ? '[' + m.type + (m.file_name ? ' ' + m.file_name : '') + ']' : '', m.text || m.caption || ''].filter(Boolean).join(' '),
      m.edited ? ' (edited)' : '', m.revoked ? ' (revoked)' : '')) : [h('li', {}, 'empty')]));
  };
  const el = h('div', { class: 'grid2' },
    form('sb-scan', 'Phone: scan the QR code', 'The simulated phone with this number scans the code shown now.',
      field('sb-scan-phone', 'Phone number', scanPhone, 'phone'), 'Scan', async () => {
        const r = await api('POST', sb('/scan'), { phone: scanPhone.value });
        toast('Scanned by ' + r.phone);
      }),
    form('sb-code', 'Phone: enter the pairing code', 'Types the code from “Link by pairing code” on the simulated phone.',
      field('sb-code-input', 'Pairing code', code, 'code'), 'Enter code', async () => {
        const r = await api('POST', sb('/enter-code'), { code: code.value });
        toast('Code entered on ' + r.phone);
      }),
    form('sb-incoming', 'A contact writes', 'A simulated contact sends a text to this instance.',
      [field('sb-from', 'From (+E.164)', from, 'from'), field('sb-push', 'Contact name', push, 'push_name'), field('sb-text', 'Text', text, 'text')],
      'Send to instance', async () => {
        await api('POST', sb('/incoming'), { from: from.value, text: text.value, push_name: push.value });
        text.value = ''; toast('Sent');
      }),
    form('sb-inbox', 'A contact’s inbox', 'What a simulated contact received from the instance.',
      [field('sb-inbox-phone', 'Contact (+E.164)', inboxPhone, 'phone'), inbox], 'Show inbox', loadInbox));
  return { el, onEvent: (ev) => {
    if (ev.type === 'instance.state' && ev.data && ev.data.state === 'scan_qr') code.value = S.pairCodes[name] || code.value;
    if (ev.type.startsWith('message.') && inboxPhone.value) loadInbox().catch(() => {});
  } };
}

function debounce(fn, ms) {
  let t = null;
  const d = () => { clearTimeout(t); t = setTimeout(fn, ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

document.addEventListener('DOMContentLoaded', () => { start(); });
