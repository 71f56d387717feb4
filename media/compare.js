// @ts-check
/* global document, window, acquireVsCodeApi */
// Compare view page script. Builds everything with DOM calls and textContent: nothing from the
// data is parsed as HTML. State survives the panel being hidden through vscode.setState.
(function () {
  const vscode = acquireVsCodeApi();
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const el = (tag, attrs = {}, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  };
  const SVG = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs = {}) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };
  const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '—');
  const PALETTE = 10; // colour classes c0..c9 in compare.css, from the theme's chart colours

  function table(model) {
    const t = $('table');
    t.replaceChildren();
    const head = el('tr');
    const headers = ['Technique', 'Outcome', 'Exit', 'Console = native', 'Screen = native', 'Instructions', 'Modelled cycles', 'Overhead', 'Traps', 'VM exits', 'Hypercalls', 'Critical'];
    for (const h of headers) head.append(el('th', { scope: 'col' }, h));
    const thead = el('thead');
    thead.append(head);
    t.append(thead);
    const body = el('tbody');
    for (const r of model.rows) {
      const tr = el('tr', { 'data-mode': r.mode });
      const cells = [r.mode, r.outcome, r.exitCode ?? '—', r.consoleEqual === null ? '—' : r.consoleEqual ? 'yes' : 'NO',
        r.screenEqual === null || r.screenEqual === undefined ? '—' : r.screenEqual ? 'yes' : 'NO',
        fmt(r.instructions), fmt(r.cycles), r.overhead === null ? '—' : `×${r.overhead.toFixed(2)}`,
        fmt(r.traps), fmt(r.vmExits), fmt(r.hypercalls), fmt(r.critical)];
      cells.forEach((c, i) => {
        const td = el(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : { class: i >= 5 ? 'num' : '' }, c);
        if ((i === 3 && r.consoleEqual === false) || (i === 4 && r.screenEqual === false)) td.classList.add('bad');
        tr.append(td);
      });
      body.append(tr);
    }
    t.append(body);
  }

  function chart(model) {
    const box = $('chart');
    box.replaceChildren();
    const legend = $('legend');
    legend.replaceChildren();
    const causes = [...new Set(model.rows.flatMap((r) => Object.keys(r.cyclesBy)))];
    const max = Math.max(1, ...model.rows.map((r) => r.cycles));
    const rowH = 28, labelW = 170, barW = 520, valueW = 130;
    const width = labelW + barW + valueW, height = model.rows.length * rowH + 8;
    // Scales with the panel: a narrow editor column still shows the whole chart.
    const s = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', preserveAspectRatio: 'xMinYMin meet', class: 'chart' });
    model.rows.forEach((r, i) => {
      const y = i * rowH + 4;
      const label = svg('text', { x: labelW - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end', class: 'label' });
      label.textContent = r.mode;
      s.append(label);
      // Stacked by cause when the CLI breaks the cycles down; one bar otherwise.
      const parts = causes.length ? causes.map((c) => [c, r.cyclesBy[c] || 0]) : [['cycles', r.cycles]];
      let x = labelW;
      parts.forEach(([cause, v], k) => {
        const w = (v / max) * barW;
        if (w <= 0) return;
        const rect = svg('rect', { x, y: y + 3, width: Math.max(w, 1), height: rowH - 8, class: `bar c${k % PALETTE}`, 'data-mode': r.mode });
        const tip = svg('title');
        tip.textContent = `${r.mode} — ${cause}: ${fmt(v)} cycles`;
        rect.append(tip);
        s.append(rect);
        x += w;
      });
      const value = svg('text', { x: labelW + barW + 6, y: y + rowH / 2 + 4, class: 'value' });
      value.textContent = `${fmt(r.cycles)}${r.overhead !== null ? ` (×${r.overhead.toFixed(2)})` : ''}`;
      s.append(value);
    });
    box.append(s);
    causes.forEach((c, k) => {
      const item = el('span', { class: 'legend-item' });
      item.append(el('span', { class: `swatch c${k % PALETTE}` }), document.createTextNode(c));
      legend.append(item);
    });
  }

  function events(model) {
    const t = $('events');
    t.replaceChildren();
    const reasons = [...new Set(model.rows.flatMap((r) => Object.keys(r.eventsBy)))].sort();
    if (!reasons.length) {
      t.append(el('caption', {}, 'No traps, VM exits or hypercalls in any technique.'));
      return;
    }
    const head = el('tr');
    head.append(el('th', { scope: 'col' }, 'Reason'));
    for (const r of model.rows) head.append(el('th', { scope: 'col' }, r.mode));
    const thead = el('thead');
    thead.append(head);
    t.append(thead);
    const body = el('tbody');
    for (const reason of reasons) {
      const tr = el('tr');
      tr.append(el('th', { scope: 'row' }, reason));
      for (const r of model.rows) tr.append(el('td', { class: 'num' }, r.eventsBy[reason] ? fmt(r.eventsBy[reason]) : ''));
      body.append(tr);
    }
    t.append(body);
  }

  function render(model) {
    const name = (model.file || '').split(/[\\/]/).pop() || 'guest';
    $('title').textContent = `Compare techniques: ${name}`;
    $('subtitle').textContent = `${model.rows.length} techniques; overhead is modelled cycles against native.`;
    table(model);
    chart(model);
    events(model);
    document.body.dataset.ready = 'true';
  }

  window.addEventListener('message', (e) => {
    const m = e.data;
    if (m && m.type === 'data' && m.model) {
      vscode.setState(m.model);
      render(m.model);
    }
  });
  $('refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
  const saved = vscode.getState();
  if (saved) render(saved);
  vscode.postMessage({ type: 'ready' });
})();
