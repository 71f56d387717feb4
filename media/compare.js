// @ts-check
/* global document, window, acquireVsCodeApi, setInterval, clearInterval */
// Compare view page script. The model comes from client/compareData.ts (the CLI's rows, checked).
// Everything is built with DOM calls and textContent: nothing from the data is parsed as HTML.
// The chart is HTML, not a scaled SVG, so its text keeps the editor's font size at any width.
// State (the model, the scale) survives the panel being hidden through vscode.setState.
(function () {
  const vscode = acquireVsCodeApi();
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const el = (tag, attrs = {}, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  };
  const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '—');
  const ratio = (x) => (x === null || x === undefined ? '—'
    : `×${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US')}`);
  const PALETTE = 10; // colour classes c0..c9 in compare.css, from the theme's chart colours
  let state = vscode.getState() || { model: undefined, log: false };

  function table(model) {
    const t = $('table');
    t.replaceChildren();
    const head = el('tr');
    const headers = ['Technique', 'Outcome', 'Exit', 'Console = native', 'Screen = native', 'Instructions', 'Modelled cycles', 'vs native', 'Traps', 'VM exits', 'Hypercalls', 'Critical'];
    headers.forEach((h, i) => head.append(el('th', { scope: 'col', class: i >= 5 ? 'num' : '' }, h)));
    const thead = el('thead');
    thead.append(head);
    t.append(thead);
    const body = el('tbody');
    for (const r of model.rows) {
      const tr = el('tr', { 'data-mode': r.mode });
      const same = (x) => (x === null || x === undefined ? '(reference)' : x ? 'yes' : 'NO');
      const cells = [r.mode, r.outcome, r.exitCode, same(r.consoleEqual), same(r.screenEqual),
        fmt(r.instructions), fmt(r.cycles), ratio(r.ratio),
        fmt(r.traps), fmt(r.vmExits), fmt(r.hypercalls), fmt(r.critical)];
      cells.forEach((c, i) => {
        const td = el(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : { class: i >= 5 ? 'num' : '' }, c);
        if ((i === 3 && r.consoleEqual === false) || (i === 4 && r.screenEqual === false)) td.classList.add('bad');
        if (i === 7) td.classList.add('ratio');
        tr.append(td);
      });
      if (r.error) tr.title = r.error;
      body.append(tr);
    }
    t.append(body);
  }

  function chart(model) {
    const box = $('chart');
    box.replaceChildren();
    const legend = $('legend');
    legend.replaceChildren();
    const colour = new Map(model.causes.map((c, k) => [c.cause, `c${k % PALETTE}`]));
    const max = Math.max(1, ...model.rows.map((r) => r.cycles));
    // Log scale: the bar's length is log10(cycles) against log10(max); the causes share it in
    // proportion to their cycles, so a ×100 technique does not flatten native to a pixel.
    const length = (c) => (state.log ? Math.log10(Math.max(1, c) + 1) / Math.log10(max + 1) : c / max);
    for (const r of model.rows) {
      const row = el('div', { class: 'bar-row', 'data-mode': r.mode });
      row.append(el('span', { class: 'label' }, r.mode));
      const track = el('div', { class: 'track' });
      const bar = el('div', { class: 'bar', 'data-mode': r.mode });
      bar.style.width = `${(length(r.cycles) * 100).toFixed(3)}%`;
      const parts = r.segments.length ? r.segments : [{ cause: 'instructions', label: 'cycles', cycles: r.cycles }];
      const total = parts.reduce((s, p) => s + p.cycles, 0) || 1;
      for (const p of parts) {
        const seg = el('div', { class: `seg ${colour.get(p.cause) ?? 'c0'}`, 'data-cause': p.cause });
        seg.style.width = `${((p.cycles / total) * 100).toFixed(3)}%`;
        seg.title = `${r.mode} — ${p.label}: ${fmt(p.cycles)} cycles (${((p.cycles / total) * 100).toFixed(1)} %)`;
        bar.append(seg);
      }
      track.append(bar);
      row.append(track);
      row.append(el('span', { class: 'value' }, `${fmt(r.cycles)}  ${ratio(r.ratio)}`));
      box.append(row);
    }
    for (const c of model.causes) {
      const item = el('span', { class: 'legend-item', 'data-cause': c.cause });
      item.append(el('span', { class: `swatch ${colour.get(c.cause)}` }), document.createTextNode(c.label));
      legend.append(item);
    }
    $('scale-note').textContent = state.log
      ? 'Logarithmic scale: bar length is log(cycles); the causes divide each bar in proportion.'
      : 'Linear scale.';
  }

  function events(model) {
    const t = $('events');
    t.replaceChildren();
    if (!model.events.length) {
      t.append(el('caption', {}, 'No traps, VM exits, critical instructions or hypercalls in any technique.'));
      return;
    }
    const head = el('tr');
    head.append(el('th', { scope: 'col' }, 'Event'), el('th', { scope: 'col' }, 'Name'));
    for (const r of model.rows) head.append(el('th', { scope: 'col', class: 'num' }, r.mode));
    const thead = el('thead');
    thead.append(head);
    t.append(thead);
    const body = el('tbody');
    for (const e of model.events) {
      const tr = el('tr');
      tr.append(el('td', {}, e.kind), el('th', { scope: 'row' }, e.name));
      for (const n of e.counts) tr.append(el('td', { class: 'num' }, n ? fmt(n) : ''));
      body.append(tr);
    }
    t.append(body);
  }

  function render() {
    const model = state.model;
    if (!model) return;
    const name = (model.file || '').split(/[\\/]/).pop() || 'guest';
    $('title').textContent = `Compare techniques: ${name}`;
    $('subtitle').textContent = `${model.rows.length} techniques on the same guest; "vs native" is modelled cycles divided by native's.`;
    /** @type {HTMLInputElement} */ ($('log')).checked = !!state.log;
    table(model);
    chart(model);
    events(model);
    document.body.dataset.ready = 'true';
    document.body.dataset.scale = state.log ? 'log' : 'linear';
  }

  let received = false;
  window.addEventListener('message', (e) => {
    const m = e.data;
    if (m && m.type === 'data' && m.model) {
      received = true;
      state = { ...state, model: m.model };
      vscode.setState(state);
      render();
    }
  });
  $('refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
  $('log').addEventListener('change', () => {
    state = { ...state, log: /** @type {HTMLInputElement} */ ($('log')).checked };
    vscode.setState(state);
    render();
  });
  render();
  // Ask for the figures until they come, in case a message is lost while the page loads. (The page
  // the e2e rig saw stuck at "Running every technique…" had not loaded its script at all: the script
  // is now inline, see client/webviewPage.ts.)
  vscode.postMessage({ type: 'ready' });
  const asking = setInterval(() => { if (received) clearInterval(asking); else vscode.postMessage({ type: 'ready' }); }, 500);
})();
