import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TcpStream } from '../../../../src/net/flows/tcpStream.js';

const ACK = 0x10;
const PSH = 0x08;

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

describe('TcpStream', () => {
  it('reassembles in-order segments after a SYN and lets the caller consume messages', () => {
    const s = new TcpStream({ cap: 1024 });
    s.onSyn(1000);
    s.push(1001, text('GET / HTTP/1.1\r\n'));
    s.push(1017, text('\r\nGET /b'));
    expect(new TextDecoder().decode(s.contiguous())).toBe('GET / HTTP/1.1\r\n\r\nGET /b');
    s.consume(18);
    expect(s.offset).toBe(18);
    expect(new TextDecoder().decode(s.contiguous())).toBe('GET /b');
    expect(s.hasGap).toBe(false);
  });

  it('copies what it keeps: the caller may reuse its buffer', () => {
    const s = new TcpStream({ cap: 64 });
    s.onSyn(0);
    const buf = text('abcd');
    s.push(1, buf);
    buf.fill(0x21);
    expect(new TextDecoder().decode(s.contiguous())).toBe('abcd');
  });

  it('puts out-of-order segments in place when the gap fills', () => {
    const data = bytes(3000);
    const s = new TcpStream({ cap: 4096 });
    s.onSyn(41);
    s.push(42 + 2000, data.subarray(2000));
    s.push(42 + 1000, data.subarray(1000, 2000));
    expect(s.hasGap).toBe(true);
    expect(s.available).toBe(0);
    expect(s.gapAge).toBe(2);
    s.push(42, data.subarray(0, 1000));
    expect(s.hasGap).toBe(false);
    expect(s.contiguous()).toEqual(data);
    expect(s.stats.outOfOrderSegments).toBe(2);
  });

  it('counts exact retransmissions and keeps the first arrival on conflicting overlaps', () => {
    const s = new TcpStream({ cap: 100 });
    s.onSyn(0);
    s.push(1, text('hello '));
    s.push(1, text('hello ')); // exact retransmission
    s.push(4, text('LO world')); // overlaps "lo " (conflicting case) and extends
    expect(new TextDecoder().decode(s.contiguous())).toBe('hello world');
    expect(s.stats.retransmittedBytes).toBe(6);
    expect(s.stats.overlapBytes).toBe(3);
    expect(s.stats.conflictBytes).toBe(2);
  });

  it('first arrival wins between waiting out-of-order segments too', () => {
    const s = new TcpStream({ cap: 100 });
    s.onSyn(0);
    s.push(11, text('KLMNO'));
    s.push(9, text('ijklmnopq')); // overlaps the waiting KLMNO, fills around it
    s.push(1, text('abcdefgh'));
    expect(new TextDecoder().decode(s.contiguous())).toBe('abcdefghijKLMNOpq');
    expect(s.stats.overlapBytes).toBe(5);
    expect(s.stats.conflictBytes).toBe(5);
  });

  it('handles 32-bit sequence wraparound', () => {
    const data = bytes(600, 7);
    const s = new TcpStream({ cap: 1024 });
    s.onSyn(0xffffff00);
    // Data starts at 0xffffff01 and crosses 2^32 after 255 bytes.
    s.push(((0xffffff01 + 300) >>> 0) as number, data.subarray(300));
    s.push(0xffffff01, data.subarray(0, 300));
    expect(s.contiguous()).toEqual(data);
    expect(s.nextSequence).toBe((0xffffff01 + 600) >>> 0);
  });

  it('starts at the first sequence number seen without a SYN, and prepends an earlier touching segment', () => {
    const data = bytes(900, 3);
    const s = new TcpStream({ cap: 2048 });
    s.push(5000 + 300, data.subarray(300, 600));
    s.push(5000 + 600, data.subarray(600));
    s.push(5000, data.subarray(0, 300)); // arrives late, touches the start
    expect(s.contiguous()).toEqual(data);
    // After the caller consumed, earlier data is just old.
    s.consume(10);
    s.push(4000, bytes(50));
    expect(s.stats.beforeStartBytes).toBe(0);
    expect(s.stats.retransmittedBytes).toBe(50);
  });

  it('re-bases on a SYN seen after data (capture reordering)', () => {
    const data = bytes(400, 9);
    const s = new TcpStream({ cap: 2048 });
    s.push(101 + 200, data.subarray(200));
    s.onSyn(100);
    expect(s.hasGap).toBe(true);
    s.push(101, data.subarray(0, 200));
    expect(s.contiguous()).toEqual(data);
  });

  it('exposes a gap, its age, and skips it on request', () => {
    const s = new TcpStream({ cap: 1000 });
    s.onSyn(0);
    s.push(1, text('abc'));
    s.push(11, text('klm'));
    s.push(14, text('nop'));
    expect(s.hasGap).toBe(true);
    expect(s.gapAge).toBe(2);
    expect(s.skipGap()).toBe(7);
    expect(new TextDecoder().decode(s.contiguous())).toBe('klmnop');
    expect(s.offset).toBe(10);
    expect(s.stats.gaps).toBe(1);
    expect(s.stats.gapBytes).toBe(7);
    expect(s.stats.discardedBytes).toBe(3);
    expect(s.hasGap).toBe(false);
    s.push(17, text('q'));
    expect(new TextDecoder().decode(s.contiguous())).toBe('klmnopq');
  });

  it('bounds waiting segments by count and by bytes', () => {
    const byCount = new TcpStream({ cap: 10000, maxPendingSegments: 3 });
    byCount.onSyn(0);
    for (let i = 1; i <= 5; i++) byCount.push(1 + i * 10, bytes(5, i));
    expect(byCount.stats.pendingDroppedSegments).toBe(2);
    const byBytes = new TcpStream({ cap: 10000, maxPendingBytes: 12 });
    byBytes.onSyn(0);
    byBytes.push(101, bytes(10));
    byBytes.push(201, bytes(10));
    expect(byBytes.stats.pendingDroppedSegments).toBe(1);
  });

  it('keeps at most cap bytes, counts what it drops, and makes room on consume', () => {
    const data = bytes(300, 5);
    const s = new TcpStream({ cap: 100 });
    s.onSyn(0);
    s.push(1, data.subarray(0, 150));
    expect(s.available).toBe(100);
    expect(s.full).toBe(true);
    expect(s.truncated).toBe(true);
    expect(s.stats.droppedBytes).toBe(50);
    expect(s.contiguous()).toEqual(data.subarray(0, 100));
    s.consume(100);
    // Bytes 100..149 were dropped: what follows waits behind a gap the caller may skip.
    s.push(151, data.subarray(150, 200));
    expect(s.hasGap).toBe(true);
    s.skipGap();
    expect(s.contiguous()).toEqual(data.subarray(150, 200));
  });

  it('consume() beyond what is there skips bytes as they arrive (a body the caller does not keep)', () => {
    const data = bytes(500, 11);
    const s = new TcpStream({ cap: 64 });
    s.onSyn(0);
    s.push(1, data.subarray(0, 20));
    s.consume(400); // 20 now, 380 later
    expect(s.pendingSkip).toBe(380);
    s.push(21, data.subarray(20, 300));
    s.push(301, data.subarray(300, 450));
    expect(s.pendingSkip).toBe(0);
    expect(s.contiguous()).toEqual(data.subarray(400, 450));
    expect(s.offset).toBe(400);
    expect(s.stats.droppedBytes).toBe(0);
  });

  it('ignores a keep-alive probe with seq = next - 1', () => {
    const s = new TcpStream({ cap: 100 });
    s.onSyn(0);
    s.push(1, text('abc'), ACK | PSH);
    s.push(3, new Uint8Array([0]), ACK); // keep-alive: one garbage byte at next-1
    s.push(4, text('def'), ACK | PSH);
    expect(new TextDecoder().decode(s.contiguous())).toBe('abcdef');
    expect(s.stats.keepalives).toBe(1);
    expect(s.stats.conflictBytes).toBe(0);
  });

  it('a pure ACK carrying 2 bytes at the next sequence number does not corrupt the request that follows', () => {
    // nDPI heuristic_tcp_ack_payload: ACK with 2 bytes of "payload", then the real request at the same seq.
    const s = new TcpStream({ cap: 100 });
    s.onSyn(0);
    s.push(1, new Uint8Array([0, 0]), ACK);
    expect(s.available).toBe(0);
    s.push(1, text('GET / HTTP/1.1\r\n'), ACK | PSH);
    expect(new TextDecoder().decode(s.contiguous())).toBe('GET / HTTP/1.1\r\n');
    expect(s.stats.keepalives).toBe(1);
  });

  it('a held tiny segment is real data when the next one continues after it', () => {
    const s = new TcpStream({ cap: 100 });
    s.onSyn(0);
    s.push(1, text('ab'), ACK);
    s.push(3, text('cd'), ACK | PSH);
    expect(new TextDecoder().decode(s.contiguous())).toBe('abcd');
    expect(s.stats.keepalives).toBe(0);
  });

  it('does not anchor a mid-stream capture on a keep-alive byte', () => {
    const s = new TcpStream({ cap: 100 });
    s.push(999, new Uint8Array([0]), ACK);
    s.push(1000, text('xyz'), ACK | PSH);
    expect(new TextDecoder().decode(s.contiguous())).toBe('xyz');
  });

  it('ignores zero-length segments', () => {
    const s = new TcpStream({ cap: 10 });
    s.push(5, new Uint8Array(0));
    expect(s.isStarted).toBe(false);
    expect(s.stats.segments).toBe(0);
  });

  it('any order, duplicates and overlaps of consistent segments reassemble the original bytes (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 80 })), { minLength: 1, maxLength: 60 }),
        fc.boolean(),
        (data, isn, cuts, syn) => {
          // Random (possibly overlapping) slices, shuffled, plus a full cover in random order.
          const segs: [number, number][] = cuts.map(([a, l]) => {
            const start = a % data.length;
            return [start, Math.min(data.length, start + l)];
          });
          for (let o = 0; o < data.length; o += 37) segs.push([o, Math.min(data.length, o + 37)]);
          segs.sort((x, y) => ((x[0] * 7919 + y[1]) % 3) - 1);
          const s = new TcpStream({ cap: 1024, maxPendingSegments: 1000, maxPendingBytes: 1 << 20 });
          if (syn) s.onSyn(isn);
          else s.push((isn + 1) >>> 0, data.subarray(0, 1));
          for (const [a, b] of segs) s.push((isn + 1 + a) >>> 0, data.subarray(a, b));
          expect(s.contiguous()).toEqual(data);
          expect(s.stats.conflictBytes).toBe(0);
          expect(s.hasGap).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws and stays within its bounds on arbitrary segments (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 0xffffffff }),
            fc.uint8Array({ maxLength: 300 }),
            fc.nat(255),
            fc.nat(400),
          ),
          { maxLength: 80 },
        ),
        (ops) => {
          const s = new TcpStream({ cap: 512, maxPendingSegments: 8, maxPendingBytes: 1024 });
          for (const [seq, payload, flags, consume] of ops) {
            if (flags === 2) s.onSyn(seq);
            else s.push(seq, payload, flags % 3 === 0 ? undefined : flags);
            if (consume % 5 === 0) s.consume(consume);
            if (s.gapAge > 4) s.skipGap();
            expect(s.available).toBeLessThanOrEqual(512);
            expect(s.contiguous().length).toBe(s.available);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
