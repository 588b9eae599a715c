// A one-line progress bar on stderr (redrawn in place on a terminal, one line per update in 10 %
// steps otherwise, so CI logs stay short).
export class ProgressBar {
  private started = performance.now();
  private lastDecile = -1;

  /** Under purify-bin.ts stderr is a pipe to a terminal; it says so in PURIFY_STDERR_COLUMNS. */
  private readonly columns: number | undefined;

  constructor(private label: string, private total: number, private stream = process.stderr) {
    this.columns = stream.isTTY ? stream.columns : Number(process.env.PURIFY_STDERR_COLUMNS) || undefined;
  }

  update(done: number, extra = ''): void {
    const fraction = this.total ? Math.min(done / this.total, 1) : 1;
    const elapsed = (performance.now() - this.started) / 1000;
    const eta = fraction > 0 ? elapsed * (1 / fraction - 1) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${formatTime(elapsed)} elapsed, ETA ${formatTime(eta)} ${extra}`;
    if (this.columns) {
      this.stream.write(`\r${line.slice(0, this.columns - 1)}\x1b[K`);
      if (done >= this.total) this.stream.write('\n');
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.stream.write(line + '\n');
      }
    }
  }
}

export function formatTime(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
