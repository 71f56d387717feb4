/*
 * DAP framing of the adapter's input (`Content-Length: n`, a blank line, n bytes of JSON), in place
 * of the base class's (@vscode/debugadapter ProtocolServer._handleData), which
 *  - joined every chunk onto all the bytes received so far: a 40 MiB message cost minutes of copying,
 *    the adapter deaf to every session meanwhile (found by probing the request guard);
 *  - after a header without a usable Content-Length (none, negative, not a number) never found a
 *    message again: every later request on that connection went unanswered.
 * Here a body's chunks are joined once, when it is complete; a header block without a valid length
 * is skipped, so the next well-formed message is read; a body over MAX_MESSAGE_BYTES is dropped
 * as it arrives, keeping only its ends, which name the request to answer (`seq`, `command`).
 * A header declaring more than MAX_DECLARED_BYTES is no client's message: skipping that many bytes
 * would drop everything the client ever sends after it, so the framer stops reading and says so
 * (the session closes the connection with a message for a person).
 */

/** Largest message read (bytes). No client sends more: a memory write is at most 1 MiB (base64). */
export const MAX_MESSAGE_BYTES = 16 * 2 ** 20;
/**
 * Largest body length believed (bytes). No client builds a message of 2 GiB (a V8 string holds at
 * most 2^29 characters, at most 3 bytes each in UTF-8); a larger Content-Length is a broken peer.
 */
export const MAX_DECLARED_BYTES = 2 ** 31;
/** Bytes of a header block searched for its end before the start is dropped as noise. */
const MAX_HEADER_BYTES = 64 * 1024;
/** Bytes kept of each end of a dropped body. */
const KEPT_ENDS = 512;
const HEADER_END = Buffer.from('\r\n\r\n');

/** What is known of a dropped message: its length and the request it was, when its ends say. */
export interface OversizeMessage { length: number; seq?: number; command?: string }

export class MessageFramer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Length of the body being read, or -1 while reading a header. */
  private bodyLength = -1;
  /** A body being dropped: bytes still to come, its first and last bytes. */
  private dropping: { left: number; length: number; head: Buffer; tail: Buffer } | undefined;

  /** Set after a header declared more than MAX_DECLARED_BYTES: nothing more is read. */
  private stopped = false;

  constructor(
    private readonly message: (text: string) => void,
    private readonly oversize: (m: OversizeMessage) => void,
    private readonly unbelievable: (declaredLength: number) => void = () => {},
  ) {}

  push(data: Buffer): void {
    if (this.stopped) return;
    if (this.dropping) data = this.drop(data);
    if (data.length === 0) return;
    this.chunks.push(data);
    this.size += data.length;
    for (;;) {
      if (this.bodyLength >= 0) {
        if (this.size < this.bodyLength) return;
        const all = this.joined();
        const body = all.subarray(0, this.bodyLength);
        this.keep(all.subarray(this.bodyLength));
        this.bodyLength = -1;
        this.message(body.toString('utf8'));
        continue;
      }
      const all = this.joined();
      const end = all.indexOf(HEADER_END);
      if (end < 0) {
        // No header ends here: only its last bytes can still begin one.
        if (all.length > MAX_HEADER_BYTES) this.keep(all.subarray(all.length - (HEADER_END.length - 1)));
        return;
      }
      // The last Content-Length of the block: after junk (a body that had no header), a good header
      // follows on the same line as the junk's end.
      const lengths = [...all.toString('latin1', 0, end).matchAll(/Content-Length: *(\d+)/gi)];
      this.keep(all.subarray(end + HEADER_END.length));
      if (!lengths.length) continue;
      const length = Number(lengths[lengths.length - 1][1]);
      if (length > MAX_DECLARED_BYTES) {
        this.stopped = true;
        this.keep(Buffer.alloc(0));
        this.unbelievable(length);
        return;
      }
      if (length > MAX_MESSAGE_BYTES) {
        this.dropping = { left: length, length, head: Buffer.alloc(0), tail: Buffer.alloc(0) };
        const rest = this.joined();
        this.keep(Buffer.alloc(0));
        const after = this.drop(rest);
        if (after.length === 0) return;
        this.keep(after);
        continue;
      }
      this.bodyLength = length;
    }
  }

  /** Drops what belongs to the body being dropped; returns the bytes after it. */
  private drop(data: Buffer): Buffer {
    const d = this.dropping!;
    const n = Math.min(d.left, data.length);
    const part = data.subarray(0, n);
    if (d.head.length < KEPT_ENDS) d.head = Buffer.concat([d.head, part.subarray(0, KEPT_ENDS - d.head.length)]);
    d.tail = Buffer.concat([d.tail, part.subarray(Math.max(0, n - KEPT_ENDS))]);
    d.tail = d.tail.subarray(Math.max(0, d.tail.length - KEPT_ENDS));
    d.left -= n;
    if (d.left === 0) {
      this.dropping = undefined;
      const ends = `${d.head.toString('utf8')}\u0000${d.tail.toString('utf8')}`;
      // `seq` is a top-level key: before `arguments` (where the bulk is) or the body's last one.
      const head = d.head.toString('utf8'), beforeArguments = head.slice(0, head.includes('"arguments"') ? head.indexOf('"arguments"') : undefined);
      const seq = /"seq"\s*:\s*(\d+)/.exec(beforeArguments)?.[1] ?? /"seq"\s*:\s*(\d+)\s*\}\s*$/.exec(d.tail.toString('utf8'))?.[1];
      const command = /"command"\s*:\s*"([A-Za-z]{1,40})"/.exec(ends)?.[1];
      this.oversize({ length: d.length, seq: seq !== undefined ? Number(seq) : undefined, command });
    }
    return data.subarray(n);
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private keep(rest: Buffer): void {
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
  }
}
