/*
 * What the guest prints (COM1) and the `trace` lines of hypervisor events, queued in the order they
 * happened and sent in batches between turns. Re-executed stretches (step back, placing a stop) print
 * again byte for byte: only bytes past the furthest the console has reached are new.
 */
export type OutputCategory = 'stdout' | 'console';

/** Largest text sent in one output event. */
const BATCH_CHARS = 65536;

export class GuestOutput {
  private consoleHigh = 0;
  private consoleBytes: number[] = [];
  private queue: Array<{ category: OutputCategory; text: string }> = [];

  /** A byte the guest wrote to its console; `length` is the console's length with it. */
  consoleByte(b: number, length: number): void {
    if (length > this.consoleHigh) { this.consoleHigh = length; this.consoleBytes.push(b); }
  }

  /** A trace line, after what the guest printed so far. */
  traceLine(text: string): void {
    this.takeConsoleBytes();
    this.queue.push({ category: 'console', text });
  }

  /** Sends everything queued, in order, joining neighbours of one category. */
  flush(send: (text: string, category: OutputCategory) => void): void {
    this.takeConsoleBytes();
    if (!this.queue.length) return;
    const queue = this.queue;
    this.queue = [];
    let i = 0;
    while (i < queue.length) {
      const category = queue[i].category;
      let text = '';
      while (i < queue.length && queue[i].category === category && text.length < BATCH_CHARS) text += queue[i++].text;
      send(text, category);
    }
  }

  private takeConsoleBytes(): void {
    if (!this.consoleBytes.length) return;
    this.queue.push({ category: 'stdout', text: Buffer.from(this.consoleBytes).toString('utf8') });
    this.consoleBytes = [];
  }
}
