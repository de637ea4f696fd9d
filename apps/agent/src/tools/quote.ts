/**
 * Quotes a value for a POSIX shell: the result is always one word with no expansion of any
 * kind (`$`, backticks, globs, `;`, newlines…). Single quotes are the only character that needs
 * care: `it's` → `'it'\''s'`.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a shell word cannot contain a NUL character');
  if (/^[A-Za-z0-9_@%+:,./-]+$/.test(value) && !value.startsWith('-')) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
