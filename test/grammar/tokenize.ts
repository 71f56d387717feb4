/* Tokenizes lines with the committed grammars through vscode-textmate + vscode-oniguruma, as VS Code does. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vsctm from 'vscode-textmate';
import * as oniguruma from 'vscode-oniguruma';
import { repoRoot } from '../../scripts/gen-grammars';

export const ROOT = repoRoot(__dirname);

const GRAMMARS: Record<string, string> = {
  'source.popek.nasm': 'syntaxes/popek-nasm.tmLanguage.json',
  'source.popek.gas': 'syntaxes/popek-gas.tmLanguage.json',
};

let registry: vsctm.Registry | undefined;

function getRegistry(): vsctm.Registry {
  if (registry) return registry;
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  const onigLib = oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer)
    .then(() => ({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }));
  registry = new vsctm.Registry({
    onigLib,
    loadGrammar: async (scopeName) => {
      const file = GRAMMARS[scopeName];
      if (!file) return null;
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      return vsctm.parseRawGrammar(text, path.join(ROOT, file));
    },
  });
  return registry;
}

export interface Token { text: string; scopes: string[] }

/** Tokens of each line (state carried across lines, as in an editor). */
export async function tokenize(scopeName: string, lines: string[]): Promise<Token[][]> {
  const grammar = await getRegistry().loadGrammar(scopeName);
  if (!grammar) throw new Error(`grammar ${scopeName} not found`);
  let state = vsctm.INITIAL;
  return lines.map((line) => {
    const r = grammar.tokenizeLine(line, state);
    state = r.ruleStack;
    return r.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
  });
}

/** The innermost scopes of the first token whose text is `text` (trimmed), or undefined. */
export function scopesOf(tokens: Token[], text: string): string[] | undefined {
  return tokens.find((t) => t.text.trim() === text)?.scopes;
}
