/** Full-jitter exponential backoff: a random delay up to min(max, base·2^attempt), at least `floor`. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 500,
    private readonly maxMs = 30_000,
    private readonly floorMs = 100,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.max(this.floorMs, Math.round(Math.random() * ceiling));
  }

  reset(): void {
    this.attempt = 0;
  }
}
