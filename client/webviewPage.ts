/*
 * The page of a Popek webview (compare, guest screen, memory): a strict Content-Security-Policy
 * (nothing loads from anywhere: the extension's own script and stylesheet are inlined, each with the
 * page's nonce), media/NAME.js and media/NAME.css, and the body.
 *
 * Inlined rather than linked: in code-server a webview fetches linked resources through a service
 * worker, and now and then (the e2e rig saw it in about one CI run in three, on a quiet machine) the
 * first page's fetches failed — no stylesheet, no script, the compare view stuck at "Running every
 * technique…" with the figures computed. An inline page has nothing to fetch.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as vscode from 'vscode';

/** A media file's text, read once per extension host (they ship with the extension and never change). */
const mediaText = new Map<string, string>();
function media(extensionUri: vscode.Uri, file: string): string {
  let text = mediaText.get(file);
  if (text === undefined) {
    text = fs.readFileSync(vscode.Uri.joinPath(extensionUri, 'media', file).fsPath, 'utf8');
    mediaText.set(file, text);
  }
  return text;
}

export function webviewPage(webview: vscode.Webview, extensionUri: vscode.Uri, name: string, title: string, body: string): string {
  const nonce = crypto.randomBytes(16).toString('base64');
  const csp = [`default-src 'none'`, `style-src 'nonce-${nonce}'`, `img-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
  // `</` cannot end the inline elements early: the files are the extension's own, with no such text.
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">
${media(extensionUri, `${name}.css`)}
</style>
<title>${title}</title>
</head>
<body>
${body}
<script nonce="${nonce}">
${media(extensionUri, `${name}.js`)}
</script>
</body>
</html>`;
}
