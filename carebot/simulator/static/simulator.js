// The simulator page (carebot/simulator/web.py): the chat as the Twilio stand-in received it, the designer's taps
// and messages as signed WhatsApp webhooks (through the server), each turn's panel from Rasa's tracker.
// No framework, nothing from a CDN; every text is set with textContent (a patient's words are never HTML).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const chat = $('chat');
  const turns = $('turns');
  const status = $('status');
  let busy = false;
  let shown = '';

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function call(path, body) {
    const options = { credentials: 'same-origin' };
    if (body !== undefined) {
      options.method = 'POST';
      options.headers = { 'Content-Type': 'application/json' };
      options.body = JSON.stringify(body);
    }
    const response = await fetch(`/simulator/api/${path}`, options);
    const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
    if (!response.ok) throw new Error(data.error || String(response.status));
    return data;
  }

  function bubble(message) {
    const item = el('li', `message from-${message.from} kind-${message.kind}`);
    item.dataset.from = message.from;
    item.dataset.kind = message.kind;
    if (message.sid) item.dataset.sid = message.sid;
    if (message.kind === 'template') {
      item.append(el('div', 'template-name', `Template: ${message.template}`));
      const variables = el('dl', 'variables');
      for (const [name, value] of Object.entries(message.variables || {})) {
        variables.append(el('dt', '', name), el('dd', '', value));
      }
      item.append(variables);
      return item;
    }
    if (message.kind === 'location') {
      item.append(el('div', 'location', `📍 ${message.body || 'Location'} (${message.latitude}, ${message.longitude})`));
      return item;
    }
    if (message.kind === 'media') item.append(el('div', 'media', `📎 ${message.media_url}`));
    if (message.body) item.append(el('div', 'body', message.body));
    if (message.kind === 'buttons') {
      const row = el('div', 'buttons');
      for (const option of message.buttons) {
        const tap = el('button', 'tap', option.title);
        tap.type = 'button';
        tap.dataset.id = option.id;
        tap.addEventListener('click', () => send({ button: option }, option.title));
        row.append(tap);
      }
      item.append(row);
    }
    if (message.kind === 'list') {
      const open = el('button', 'list-open', `☰ ${message.button}`);
      open.type = 'button';
      const items = el('ul', 'items');
      items.hidden = true;
      open.addEventListener('click', () => { items.hidden = !items.hidden; });
      for (const option of message.items) {
        const entry = el('li');
        const pick = el('button', 'pick', option.title);
        pick.type = 'button';
        pick.dataset.id = option.id;
        pick.addEventListener('click', () => send({ list_item: option }, option.title));
        entry.append(pick);
        items.append(entry);
      }
      item.append(open, items);
    }
    return item;
  }

  function line(list, label, value, className) {
    if (value === undefined || value === null || value === '' || (Array.isArray(value) && !value.length)) return;
    list.append(el('dt', '', label), el('dd', className || '', Array.isArray(value) ? value.join(', ') : value));
  }

  function panel(turn, index) {
    const item = el('li', 'turn');
    item.dataset.index = String(index);
    item.append(el('h3', 'said', turn.tapped ? `${turn.tapped} → ${turn.text}` : turn.text || '(no text)'));
    const facts = el('dl');
    line(facts, 'intent', `${turn.intent} (${turn.confidence})`, 'intent');
    line(facts, 'also', turn.ranking.map((r) => `${r.name} ${r.confidence}`));
    line(facts, 'entities', turn.entities.map((e) => `${e.entity}${e.role ? `/${e.role}` : ''}=${e.value}`), 'entities');
    line(facts, 'actions', turn.actions.map((a) => (a.policy ? `${a.name} ← ${a.policy.replace(/^policy_\d+_/, '')}` : a.name)), 'actions');
    line(facts, 'slots', Object.entries(turn.slots).map(([name, value]) => `${name}=${value}`), 'slots');
    line(facts, 'cleared', turn.cleared, 'cleared');
    if (turn.triage && Object.keys(turn.triage).length) {
      line(facts, 'findings', turn.triage.findings, 'findings');
      line(facts, 'denied', turn.triage.denied);
      line(facts, 'protocol', turn.triage.protocols, 'protocols');
      line(facts, 'level', turn.triage.level, 'level');
    }
    item.append(facts);
    if (turn.flows.length) {
      const links = el('p', 'flows', 'Flow: ');
      for (const name of turn.flows) {
        const link = el('a', '', name);
        link.href = `/simulator/flows/${encodeURIComponent(name)}.svg`;
        link.target = '_blank';
        link.rel = 'noopener';
        links.append(link, ' ');
      }
      item.append(links);
    }
    return item;
  }

  function render(state) {
    const key = JSON.stringify([state.phone, state.messages, state.panels, state.window, state.with_staff]);
    if (key === shown) return;
    shown = key;
    $('phone-number').textContent = state.phone;
    $('window-state').textContent = state.window.open ? '24 h window open' : '24 h window closed';
    $('window-state').className = `window ${state.window.open ? 'open' : 'closed'}`;
    $('staff-state').hidden = !state.with_staff;
    chat.replaceChildren(...state.messages.map(bubble));
    chat.scrollTop = chat.scrollHeight;
    turns.replaceChildren(...state.panels.map(panel).reverse());
  }

  async function act(work, what) {
    if (busy) return;
    busy = true;
    document.body.classList.add('busy');
    status.textContent = what;
    try {
      const state = await work();
      render(state);
      status.textContent = state.notice || '';
    } catch (error) {
      status.textContent = `Failed: ${error.message}`;
    } finally {
      busy = false;
      document.body.classList.remove('busy');
    }
  }

  function send(action, label) {
    return act(() => call('send', action), `Sending “${label}”…`);
  }

  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('message').value.trim();
    if (!text) return;
    $('message').value = '';
    send({ text }, text);
  });
  $('send-photo').addEventListener('click', () =>
    send({ media: { url: 'https://example.org/simulator/photo.jpg', content_type: 'image/jpeg' } }, 'a photo'));
  $('send-location').addEventListener('click', () =>
    send({ location: { latitude: 51.5014, longitude: -0.1419, label: 'Shared location' } }, 'a location'));
  $('reset').addEventListener('click', () => act(() => call('reset', {}), 'New patient…'));
  $('jump').addEventListener('click', () => act(() => call('window', {}), 'Closing the 24-hour window…'));
  $('clock').addEventListener('click', () =>
    act(() => call('clock', { hours: Number($('clock-hours').value) }), 'Moving the reminders\u2019 clock…'));

  async function poll() {
    if (!busy) {
      try {
        render(await call('state'));
      } catch (error) {
        status.textContent = error.message;
      }
    }
    setTimeout(poll, 2000);
  }
  poll();
})();
