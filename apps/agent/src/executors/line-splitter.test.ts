import { LineSplitter } from './line-splitter';

function split(chunks: (string | Buffer)[], max?: number): string[] {
  const out: string[] = [];
  const s = new LineSplitter((l) => out.push(l), max);
  for (const c of chunks) s.write(typeof c === 'string' ? Buffer.from(c) : c);
  s.end();
  return out;
}

describe('LineSplitter', () => {
  test('lines across chunks, \\r\\n split between chunks, last partial line', () => {
    expect(split(['ab', 'c\nd', 'e\r', '\nf\r\n', 'g'])).toEqual(['abc', 'de', 'f', 'g']);
    expect(split(['a\n\nb\n'])).toEqual(['a', '', 'b']);
    expect(split([])).toEqual([]);
    expect(split(['x\r'])).toEqual(['x']);
    expect(split(['progress 1\rprogress 2\n'])).toEqual(['progress 1\rprogress 2']);
  });

  test('UTF-8 split across chunks; invalid bytes and NUL become U+FFFD', () => {
    const b = Buffer.from('żółw\n');
    expect(split([b.subarray(0, 1), b.subarray(1, 4), b.subarray(4)])).toEqual(['żółw']);
    expect(split([Buffer.from([0x61, 0xff, 0x00, 0x62, 0x0a])])).toEqual(['a\uFFFD\uFFFDb']);
  });

  test('long lines are cut into pieces', () => {
    expect(split(['aaaa', 'aaaa', 'aa\nb'], 4)).toEqual(['aaaa', 'aaaa', 'aa', 'b']);
    expect(split(['a'.repeat(10) + '\n'], 4)).toEqual(['aaaa', 'aaaa', 'aa']);
  });
});
