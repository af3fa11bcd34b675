/**
 * A fake terminal for the progress bar: one screen that both stdout and stderr write to (as on a real
 * terminal), interpreting what the bar uses: "\r" (to the start of the line), ESC[2K (erase the line),
 * "\n"; any other escape sequence is kept as text, so that an unexpected one shows up in assertions.
 */
import type { Writer } from '../../src/commands/io.js';

export interface FakeTerminal {
  /** A writer onto the screen (both streams of a terminal). */
  writer: Writer;
  /** The screen's lines, the current (last) one included. */
  lines(): string[];
  /** Everything written, raw. */
  raw(): string;
}

export function createFakeTerminal(): FakeTerminal {
  const lines: string[] = [''];
  let col = 0;
  let raw = '';
  const put = (ch: string) => {
    const i = lines.length - 1;
    const cur = lines[i]!;
    lines[i] = cur.slice(0, col).padEnd(col) + ch + cur.slice(col + 1);
    col++;
  };
  const write = (text: string) => {
    raw += text;
    for (let k = 0; k < text.length; k++) {
      const ch = text[k]!;
      if (ch === '\r') col = 0;
      else if (ch === '\n') {
        lines.push('');
        col = 0;
      } else if (ch === '\x1b' && text.startsWith('[2K', k + 1)) {
        lines[lines.length - 1] = '';
        k += 3;
      } else put(ch);
    }
  };
  return { writer: { isTTY: true, write }, lines: () => [...lines], raw: () => raw };
}
