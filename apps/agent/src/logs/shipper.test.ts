import { intakeUrl, LogShipper, MASK } from './shipper';

/** The shipper's pure parts. Its end-to-end tests (real intake, chdb) are in apps/server/src/logs. */
describe('LogShipper', () => {
  it('turns an intake address into a URL', () => {
    expect(intakeUrl('', 'http://kraken:6363/').toString()).toBe('http://kraken:6363/api/logs/intake');
    expect(intakeUrl(undefined, 'http://kraken:6363/prefix/').toString()).toBe('http://kraken:6363/prefix/api/logs/intake');
    expect(intakeUrl('clickhouse-proxy:9001').toString()).toBe('http://clickhouse-proxy:9001/api/logs/intake');
    expect(intakeUrl('http://10.0.0.5:9001').toString()).toBe('http://10.0.0.5:9001/api/logs/intake');
    expect(intakeUrl('https://logs.example.com/custom/path').toString()).toBe('https://logs.example.com/custom/path');
    expect(() => intakeUrl('ftp://x:1')).toThrow(/http/);
    expect(() => intakeUrl('')).toThrow(/no log intake address/);
  });

  it('masks every secret, longest first, and forgets them on clear', () => {
    const s = new LogShipper({ autoStart: false });
    s.setSecrets(['abc', 'abcdef', '', 'a.b*c']);
    expect(s.mask('x abcdef y abc z a.b*c abcabc')).toBe(`x ${MASK} y ${MASK} z ${MASK} ${MASK}${MASK}`);
    s.clearSecrets(['abc']);
    expect(s.mask('abc abcdef')).toBe(`abc ${MASK}`);
    s.clearSecrets();
    expect(s.mask('abcdef')).toBe('abcdef');
  });

  it('queues without blocking, signals its high-water mark and bounds its buffer', async () => {
    const s = new LogShipper({ autoStart: false, maxBufferLines: 100, highWaterLines: 50 });
    let below = 0;
    for (let i = 0; i < 49; i++) if (s.write({ message: `l${i}` })) below++;
    expect(below).toBe(49);
    expect(s.write({ message: 'l49' })).toBe(false);
    for (let i = 50; i < 1000; i++) s.write({ message: `l${i}` });
    expect(s.stats.queued).toBeLessThanOrEqual(100);
    expect(s.stats.dropped).toBeGreaterThanOrEqual(900);
    await expect(s.flush(50)).rejects.toThrow(/timed out/);
    await s.close(10);
    expect(s.write({ message: 'after close' })).toBe(false);
  });
});
