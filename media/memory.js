/* global document, window, acquireVsCodeApi */
// The memory view webview: draws the rows the extension sends (address, 16 bytes in hex, ASCII),
// marks the bytes changed since the previous stop and the followed byte, and sends back what the
// user asks for: an expression to follow, rows to scroll, a byte typed over a selected cell.
(function () {
  const vscode = acquireVsCodeApi();
  const table = document.getElementById('memory');
  const summary = document.getElementById('summary');
  const target = document.getElementById('target');
  const input = document.getElementById('expression');
  let selected = null; // { address, cell }
  let typed = '';

  function cell(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    e.textContent = text;
    return e;
  }

  function draw(m) {
    input.value = m.expression;
    target.textContent = `${m.expression} = ${m.target}`;
    const rows = m.rows.map((r) => {
      const tr = document.createElement('tr');
      tr.appendChild(cell('th', 'address', r.address));
      const hex = document.createElement('td');
      hex.className = 'hex';
      const ascii = document.createElement('td');
      ascii.className = 'ascii';
      r.cells.forEach((c, i) => {
        const flags = (c.changed ? ' changed' : '') + (c.unmapped ? ' unmapped' : '') + (c.target ? ' target' : '');
        const b = cell('span', 'byte' + flags + (i === 8 ? ' gap' : ''), c.hex);
        b.dataset.address = String(c.address);
        if (!c.unmapped) b.title = `0x${c.address.toString(16).padStart(8, '0')}${c.changed ? ' · changed since the previous stop' : ''}`;
        if (selected && selected.address === c.address) b.classList.add('selected');
        hex.appendChild(b);
        ascii.appendChild(cell('span', 'char' + flags, c.ascii));
      });
      tr.appendChild(hex);
      tr.appendChild(ascii);
      return tr;
    });
    table.replaceChildren(...rows);
    summary.textContent = m.summary + (m.stopped ? '' : ' · running');
    document.body.dataset.ready = 'true';
  }

  window.addEventListener('message', (e) => {
    const m = e.data;
    if (!m) return;
    if (m.type === 'memory') draw(m);
    else if (m.type === 'status') { summary.textContent = m.text; if (m.expression) input.value = m.expression; }
    else if (m.type === 'running') summary.textContent = 'running · the rows are from the last stop';
  });

  document.getElementById('follow').addEventListener('submit', (e) => {
    e.preventDefault();
    vscode.postMessage({ type: 'follow', expression: input.value });
  });
  document.getElementById('up').addEventListener('click', () => vscode.postMessage({ type: 'scroll', rows: -16 }));
  document.getElementById('down').addEventListener('click', () => vscode.postMessage({ type: 'scroll', rows: 16 }));

  // Editing: click a byte, type one or two hex digits (Enter or the second digit writes it).
  table.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('.byte');
    if (!b || b.classList.contains('unmapped')) return;
    for (const s of table.querySelectorAll('.selected')) s.classList.remove('selected');
    b.classList.add('selected');
    selected = { address: Number(b.dataset.address), cell: b };
    typed = '';
    table.focus();
  });
  table.addEventListener('keydown', (e) => {
    if (!selected) return;
    if (e.key === 'Escape') { selected.cell.classList.remove('selected'); selected = null; typed = ''; return; }
    if (/^[0-9a-fA-F]$/.test(e.key)) {
      typed += e.key;
      selected.cell.textContent = typed.padEnd(2, '_');
      e.preventDefault();
    }
    if (typed.length === 2 || (e.key === 'Enter' && typed.length === 1)) {
      vscode.postMessage({ type: 'write', address: selected.address, value: parseInt(typed, 16) });
      typed = '';
    }
  });
  vscode.postMessage({ type: 'ready' });
})();
