/**
 * A bounded keeper of rows ranked by importance: at most `limit` rows are held at any time; once full, a
 * new row replaces the least important one held (lowest severity, then oldest) when it is more important,
 * and is let go otherwise. What was let go is counted per severity, so the totals stay exact. A min-heap
 * with the least important row on top: O(log limit) per row past the bound, O(1) before it. Pure.
 */
import { SEVERITIES, type Severity } from './types.js';

export interface RankedRow {
  at: number;
  severity: Severity;
}

export interface BoundedRows<T extends RankedRow> {
  push(row: T): void;
  /** The rows held (in no particular order). */
  readonly held: readonly T[];
  /** Every row pushed, held or not. */
  readonly total: number;
  /** Rows let go, per severity. */
  readonly dropped: Record<Severity, number>;
}

const rank = (s: Severity) => SEVERITIES.indexOf(s);

/** True when `a` is less important than `b` (a lower severity, or the same severity and older). */
function lessImportant(a: RankedRow, b: RankedRow): boolean {
  const ra = rank(a.severity);
  const rb = rank(b.severity);
  return ra !== rb ? ra > rb : a.at < b.at;
}

export function createBoundedRows<T extends RankedRow>(limit: number): BoundedRows<T> {
  if (!(limit >= 1)) throw new RangeError('createBoundedRows: limit must be at least 1');
  const heap: T[] = [];
  const dropped: Record<Severity, number> = { high: 0, medium: 0, low: 0, info: 0 };
  let total = 0;
  let heapified = false;

  const siftDown = (start: number) => {
    const n = heap.length;
    let i = start;
    const row = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && lessImportant(heap[r]!, heap[l]!) ? r : l;
      if (!lessImportant(heap[c]!, row)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = row;
  };

  return {
    push(row) {
      total++;
      if (heap.length < limit) {
        heap.push(row);
        return;
      }
      if (!heapified) {
        // Built once, when the bound is first reached: below it the rows are simply appended.
        for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);
        heapified = true;
      }
      const least = heap[0]!;
      if (lessImportant(least, row)) {
        dropped[least.severity]++;
        heap[0] = row;
        siftDown(0);
      } else {
        dropped[row.severity]++;
      }
    },
    get held() {
      return heap;
    },
    get total() {
      return total;
    },
    dropped,
  };
}
