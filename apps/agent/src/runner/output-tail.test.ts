import { OUTPUT_TAIL_BYTES } from '@kraken/protocol';
import { OutputTail } from './output-tail';

describe('OutputTail', () => {
  test('short output is kept whole', () => {
    const t = new OutputTail();
    t.push('a');
    t.push('');
    t.push('b');
    expect(t.toString()).toBe('a\n\nb');
    expect(t.truncated).toBe(false);
    expect(new OutputTail().toString()).toBe('');
  });

  test('keeps the end, cut at a line boundary, within OUTPUT_TAIL_BYTES', () => {
    const t = new OutputTail();
    for (let i = 1; i <= 200_000; i++) t.push(`line ${i}`);
    const s = t.toString();
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(OUTPUT_TAIL_BYTES);
    expect(Buffer.byteLength(s)).toBeGreaterThan(OUTPUT_TAIL_BYTES - 20);
    expect(s.endsWith('line 199999\nline 200000')).toBe(true);
    expect(s.split('\n')[0]).toMatch(/^line \d+$/);
    expect(t.truncated).toBe(true);
    const nums = s.split('\n').map((l) => Number(l.slice(5)));
    nums.forEach((n, i) => i > 0 && expect(n).toBe(nums[i - 1] + 1));
  });

  test('a line longer than the limit keeps its end, at a character boundary', () => {
    const t = new OutputTail(10);
    t.push('first');
    t.push('ééééééééé'); // 18 bytes
    const s = t.toString();
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(9);
    expect(s).toBe('éééé');
  });

  test('multi-byte text is counted in bytes', () => {
    const t = new OutputTail(20);
    for (let i = 0; i < 10; i++) t.push('żółw'); // 7 bytes + newline
    expect(t.toString()).toBe('żółw\nżółw');
  });

  test('memory stays bounded over many lines', () => {
    const t = new OutputTail(100);
    for (let i = 0; i < 100_000; i++) t.push('x');
    expect((t as unknown as { lines: string[] }).lines.length).toBeLessThan(3000);
    expect(t.toString()).toBe(Array(50).fill('x').join('\n'));
  });
});
