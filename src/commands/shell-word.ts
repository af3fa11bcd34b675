/** `text` as one word for a POSIX shell (quoted only when it must be), for the commands printed as hints. */
export function shellWord(text: string): string {
  return /^[\w./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
