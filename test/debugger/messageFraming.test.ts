/*
 * The adapter's DAP input framing (debugger/messageFraming.ts): messages however the bytes arrive,
 * recovery after a header without a usable length, and a message over the limit dropped with the
 * request it named (the base class copied all bytes so far per chunk, and went deaf after a bad header).
 */
import * as assert from 'node:assert/strict';
import { MAX_DECLARED_BYTES, MAX_MESSAGE_BYTES, MessageFramer, type OversizeMessage } from '../../debugger/messageFraming';

const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

function framer(): { push(s: string | Buffer, chunk?: number): void; messages: string[]; oversize: OversizeMessage[] } {
  const messages: string[] = [], oversize: OversizeMessage[] = [];
  const f = new MessageFramer((t) => messages.push(t), (m) => oversize.push(m));
  return {
    messages, oversize,
    push(s, chunk = Infinity) {
      const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
      for (let k = 0; k < b.length; k += chunk) f.push(b.subarray(k, Math.min(b.length, k + chunk)));
    },
  };
}

describe('debug adapter: DAP message framing', () => {
  it('reads messages whole however the bytes are split, UTF-8 included', () => {
    const a = '{"seq":1,"type":"request","command":"evaluate","arguments":{"expression":"é → ✓"}}', b = '{"seq":2,"type":"request","command":"threads"}';
    for (const chunk of [1, 2, 7, 64, Infinity]) {
      const f = framer();
      f.push(frame(a) + frame(b), chunk);
      assert.deepEqual(f.messages, [a, b], `chunks of ${chunk}`);
    }
  });

  it('skips a header without a usable Content-Length and reads the next message', () => {
    const good = '{"seq":9,"type":"request","command":"threads"}';
    for (const bad of ['X-Nothing: 1', 'Content-Length: -5', 'Content-Length: abc', 'Content-Type: x']) {
      const f = framer();
      f.push(`${bad}\r\n\r\n{"seq":1,"type":"request","command":"threads"}` + frame(good), 5);
      assert.deepEqual(f.messages, [good], bad);
    }
    const noise = framer();
    noise.push(Buffer.alloc(200_000, 0x41));
    noise.push(frame(good));
    assert.deepEqual(noise.messages, [good], 'after 200 KB of bytes that are no header');
  });

  it('drops a message over the limit as it arrives, answers the request its ends name, and reads on', () => {
    const data = 'A'.repeat(MAX_MESSAGE_BYTES);
    const big = JSON.stringify({ command: 'writeMemory', arguments: { memoryReference: '0x9000', data }, type: 'request', seq: 3 });
    const next = '{"seq":4,"type":"request","command":"threads"}';
    const f = framer();
    f.push(frame(big) + frame(next), 65_536);
    assert.deepEqual(f.oversize, [{ length: big.length, seq: 3, command: 'writeMemory' }]);
    assert.deepEqual(f.messages, [next]);
    const first = framer();
    // DebugClient's order: type, seq, command, arguments.
    const seqFirst = JSON.stringify({ type: 'request', seq: 5, command: 'setBreakpoints', arguments: { data } });
    first.push(frame(seqFirst));
    assert.deepEqual(first.oversize, [{ length: seqFirst.length, seq: 5, command: 'setBreakpoints' }]);
  });

  it('stops reading after a header declaring more than any client sends, and says so once', () => {
    const good = '{"seq":1,"type":"request","command":"threads"}';
    for (const declared of [MAX_DECLARED_BYTES + 1, 99_999_999_999, 1e30]) {
      const messages: string[] = [], unbelievable: number[] = [];
      const f = new MessageFramer((t) => messages.push(t), () => {}, (n) => unbelievable.push(n));
      f.push(Buffer.from(frame(good) + `Content-Length: ${declared.toLocaleString('fullwide', { useGrouping: false })}\r\n\r\n{"seq":2`));
      f.push(Buffer.from(frame(good)));
      assert.deepEqual(messages, [good], `${declared}`);
      assert.deepEqual(unbelievable, [declared]);
    }
    // A length at the limit is still believed (its body would be skipped as it arrives).
    const atLimit = new MessageFramer(() => {}, () => {}, () => assert.fail('a length at the limit is believed'));
    atLimit.push(Buffer.from(`Content-Length: ${MAX_DECLARED_BYTES}\r\n\r\n`));
  });
});
