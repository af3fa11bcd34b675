/**
 * A one-line progress bar that owns its terminal while it shows: everything else bound for that terminal
 * (log lines, result lines) goes through `wrap(writer)`, which clears the bar line, writes the text, and
 * draws the bar again below it. So a JSON log line is never glued to the bar, and the bar always stays
 * the last line.
 */
import type { Writer } from './io.js';

export interface ProgressBar {
  /** Draws (or redraws) the bar: `done` of `total`, then `label`. */
  update(done: number, total: number, label: string): void;
  /** A writer for other text headed for the same terminal while the bar shows. */
  wrap(writer: Writer): Writer;
  /** Removes the bar; wrapped writers then write straight through. */
  stop(): void;
}

/** Carriage return, then erase the whole line (ECMA-48 EL 2). */
const CLEAR_LINE = '\r\x1b[2K';

export function renderBar(done: number, total: number, label: string, width = 24): string {
  const filled = Math.min(width, Math.max(0, Math.round((done / Math.max(1, total)) * width)));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`;
}

export function createProgressBar(terminal: Writer, options: { width?: number } = {}): ProgressBar {
  let line: string | null = null; // the bar's text while it is active
  let shown = false;
  // Text written through a wrapped writer that did not end its line: the bar waits for the end of it.
  let midLine = false;

  const hide = () => {
    if (shown) terminal.write(CLEAR_LINE);
    shown = false;
  };
  const draw = () => {
    if (line === null || shown || midLine) return;
    terminal.write(line);
    shown = true;
  };

  return {
    update(done, total, label) {
      hide();
      line = renderBar(done, total, label, options.width);
      draw();
    },
    wrap(writer) {
      return {
        isTTY: writer.isTTY,
        write(text) {
          if (line === null) {
            writer.write(text);
            return;
          }
          if (text === '') return;
          hide();
          writer.write(text);
          midLine = !text.endsWith('\n');
          draw();
        },
      };
    },
    stop() {
      hide();
      line = null;
    },
  };
}
