/*
 * The page of a Popek webview (compare, guest screen, memory): a strict Content-Security-Policy (the
 * extension's own script, by nonce, its stylesheet and images; nothing else loads), media/NAME.js and
 * media/NAME.css, and the body.
 */
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';

export function webviewPage(webview: vscode.Webview, extensionUri: vscode.Uri, name: string, title: string, body: string): string {
  const nonce = crypto.randomBytes(16).toString('base64');
  const media = (file: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', file));
  const csp = [`default-src 'none'`, `style-src ${webview.cspSource}`, `img-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${media(`${name}.css`)}">
<title>${title}</title>
</head>
<body>
${body}
<script nonce="${nonce}" src="${media(`${name}.js`)}"></script>
</body>
</html>`;
}
