import { OUTPUT_TAIL_BYTES } from '@kraken/protocol';

/**
 * Keeps the last `maxBytes` (UTF-8) of a step's output lines, interleaved as they came, in
 * amortized O(1) work per line (plus measuring it) and O(maxBytes) memory: whole lines sit in a
 * queue and fall off its front when the total exceeds the limit; nothing is concatenated until
 * `toString()` joins the kept lines with `\n`.
 *
 * The tail starts at a line boundary unless the last line alone is longer than the limit; then
 * only that line's end is kept (cut at a character boundary).
 */
export class OutputTail {
  private lines: string[] = [];
  private sizes: number[] = [];
  private head = 0; // index of the oldest kept line
  private total = 0; // bytes of the kept lines, one '\n' each included
  private dropped = false;

  constructor(readonly maxBytes: number = OUTPUT_TAIL_BYTES) {
    if (!(maxBytes > 0)) throw new Error('OutputTail needs a positive size');
  }

  push(line: string): void {
    let text = line;
    let size = Buffer.byteLength(text) + 1;
    if (size > this.maxBytes) {
      text = tailOfString(text, this.maxBytes - 1);
      size = Buffer.byteLength(text) + 1;
      this.dropped = true;
    }
    this.lines.push(text);
    this.sizes.push(size);
    this.total += size;
    while (this.total > this.maxBytes) {
      this.total -= this.sizes[this.head];
      this.lines[this.head] = '';
      this.head++;
      this.dropped = true;
    }
    // Compact once the dropped prefix dominates, so memory stays bounded.
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** True when output was dropped from the front (the tail is not the whole output). */
  get truncated(): boolean {
    return this.dropped;
  }

  /** Bytes the tail holds (as `toString()` returns it, plus one). */
  get bytes(): number {
    return this.total;
  }

  toString(): string {
    return this.lines.slice(this.head).join('\n');
  }

  clear(): void {
    this.lines = [];
    this.sizes = [];
    this.head = 0;
    this.total = 0;
    this.dropped = false;
  }
}

/** The last at most `maxBytes` UTF-8 bytes of `s`, starting at a character boundary. */
function tailOfString(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  let start = buf.length - maxBytes;
  while (start < buf.length && (buf[start] & 0xc0) === 0x80) start++; // skip continuation bytes
  return buf.subarray(start).toString('utf8');
}
