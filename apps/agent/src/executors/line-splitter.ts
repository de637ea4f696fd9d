import { StringDecoder } from 'node:string_decoder';

/** Lines longer than this (in UTF-16 units) are cut into pieces of this size. */
export const MAX_LINE_CHARS = 64 * 1024;

/**
 * Turns a byte stream into lines: `\n` or `\r\n` end a line (a lone `\r`, as progress bars use,
 * stays in the line), the last line may lack its newline (flushed by `end()`), UTF-8 sequences
 * split across chunks are joined, invalid bytes become U+FFFD, NUL becomes U+FFFD (PostgreSQL text
 * cannot hold it) and a line longer than `maxLine` is emitted in pieces of `maxLine`, so memory
 * stays bounded whatever the command prints.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private ended = false;

  constructor(
    private readonly emit: (line: string) => void,
    private readonly maxLine: number = MAX_LINE_CHARS,
  ) {}

  write(chunk: Buffer | string): void {
    if (this.ended) return;
    this.feed(typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
  }

  /** Flushes the last, unterminated line. Later writes are ignored. */
  end(): void {
    if (this.ended) return;
    this.feed(this.decoder.end());
    this.ended = true;
    if (this.partial !== '') {
      const last = this.partial;
      this.partial = '';
      this.out(last.endsWith('\r') ? last.slice(0, -1) : last);
    }
  }

  private feed(text: string): void {
    if (text === '') return;
    const data = this.partial === '' ? text : this.partial + text;
    let start = 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl === -1) break;
      const end = nl > start && data.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.out(data.slice(start, end));
      start = nl + 1;
    }
    // Keep a trailing '\r' with the partial line so that a '\r\n' split across chunks is one newline.
    while (data.length - start > this.maxLine) {
      this.out(data.slice(start, start + this.maxLine));
      start += this.maxLine;
    }
    this.partial = data.slice(start);
  }

  private out(line: string): void {
    if (line.length > this.maxLine) {
      for (let i = 0; i < line.length; i += this.maxLine) this.out(line.slice(i, i + this.maxLine));
      return;
    }
    this.emit(line.includes('\0') ? line.replace(/\0/g, '\uFFFD') : line);
  }
}
