/* The guest screen as the debug adapter sends it (event and request `popekScreen`). Pure: no vscode. */

export type { ScreenModel } from '../core/devices/screenModel';

/** The screen as the firmware leaves it (SeaBIOS's banner, "Booting from ROM..."), untouched. */
export function isFirmwareScreen(lines: string[]): boolean {
  return lines.length === 25 && lines[0].startsWith('SeaBIOS') && lines[1].trimEnd() === 'Booting from ROM...' &&
    lines.every((l, k) => k <= 1 || l.trim() === '');
}
