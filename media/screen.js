/* global document, window, acquireVsCodeApi, atob */
// The guest screen webview: draws 80×25 VGA text cells in the 16 VGA colours with the cursor, and
// sends the keys typed in it to the extension (which passes them to the guest).
(function () {
  const vscode = acquireVsCodeApi();
  const screen = document.getElementById('screen');
  const status = document.getElementById('status');

  function decodeBase64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function draw(m) {
    const attrs = decodeBase64(m.attrs);
    const rows = [];
    for (let r = 0; r < m.rows; r++) {
      const row = document.createElement('div');
      row.className = 'row';
      const line = m.lines[r] || '';
      let c = 0;
      while (c < m.columns) {
        const a = attrs[r * m.columns + c];
        const isCursor = m.cursor && m.cursor.row === r && m.cursor.column === c;
        // A run of cells with the same attribute (the cursor cell stands alone).
        let end = c + 1;
        if (!isCursor) {
          while (end < m.columns && attrs[r * m.columns + end] === a && !(m.cursor && m.cursor.row === r && m.cursor.column === end)) end++;
        }
        const span = document.createElement('span');
        const fg = a & 15, bg = m.blink ? (a >> 4) & 7 : a >> 4;
        span.className = `f${fg} b${bg}` + (m.blink && a & 0x80 ? ' blink' : '') + (isCursor ? ' cursor' : '');
        span.textContent = line.slice(c, end);
        row.appendChild(span);
        c = end;
      }
      rows.push(row);
    }
    screen.replaceChildren(...rows);
    const where = m.cursor ? `cursor at row ${m.cursor.row}, column ${m.cursor.column}` : 'cursor off';
    status.textContent = `${m.columns}×${m.rows} text · ${where} · ${m.running ? 'running' : 'stopped'} · click the screen and type to send keys`;
  }

  window.addEventListener('message', (e) => {
    if (e.data && e.data.type === 'screen') draw(e.data.model);
  });

  screen.addEventListener('keydown', (e) => {
    if (e.metaKey || e.altKey) return;
    if (e.key === 'Shift' || e.key === 'Control') return;
    e.preventDefault();
    vscode.postMessage({ type: 'key', key: e.key, ctrl: e.ctrlKey });
  });

  vscode.postMessage({ type: 'ready' });
})();
