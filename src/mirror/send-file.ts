// Streams a byte range of an open file to a response, reading the next chunk while the previous one is written,
// with chunks drawn from a shared pool sized by how many downloads run: big chunks for one client, small ones for
// many, no allocation in steady state, and a callback loop (not promises) so little garbage is made per chunk.
import { read } from 'node:fs';
import type { Writable } from 'node:stream';

/** Memory the chunks of all concurrent downloads share; each download holds at most two chunks at a time. */
export const BUFFER_BUDGET = 8 * 1024 * 1024;
const MIN_CHUNK = 16 * 1024;
const MAX_CHUNK = 1024 * 1024;

/** The chunk size when `active` downloads run: the largest power of two that keeps them all within the budget. */
export function chunkSizeFor(active: number): number {
  const share = BUFFER_BUDGET / (2 * Math.max(1, active));
  return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, 2 ** Math.floor(Math.log2(share))));
}

/** Chunks to read into: taken before a read, given back once their write has completed. */
export interface ChunkSource {
  /** A buffer of the size downloads should use now, at most `maxLength` rounded up to a power of two. */
  take(maxLength: number): Buffer;
  give(buffer: Buffer): void;
}

/**
 * Reuses buffers of the current chunk size across downloads, keeping at most `maxIdleBytes` idle. Reuse matters
 * beyond speed: allocating and freeing large buffers of changing sizes fragments the C heap, and RSS only grows.
 */
export class ChunkPool implements ChunkSource {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytes = 0;
  constructor(
    private readonly currentSize: () => number,
    private readonly maxIdleBytes: number = BUFFER_BUDGET / 4,
  ) {}

  take(maxLength: number): Buffer {
    const size = Math.min(
      this.currentSize(),
      Math.max(4096, 2 ** Math.ceil(Math.log2(Math.max(1, maxLength)))),
    );
    const reused = this.idle.get(size)?.pop();
    if (reused) {
      this.idleBytes -= size;
      return reused;
    }
    // Idle buffers of another size will not be asked for again soon.
    if (this.idleBytes > 0) this.dropIdle();
    return Buffer.allocUnsafeSlow(size);
  }

  give(buffer: Buffer): void {
    // Only the size in use now is worth keeping; others would sit idle, and chunks that shrank must free memory.
    if (buffer.length !== this.currentSize()) return;
    if (this.idleBytes + buffer.length > this.maxIdleBytes) return;
    const list = this.idle.get(buffer.length) ?? [];
    list.push(buffer);
    this.idle.set(buffer.length, list);
    this.idleBytes += buffer.length;
  }

  private dropIdle(): void {
    this.idle.clear();
    this.idleBytes = 0;
  }

  get idleByteCount(): number {
    return this.idleBytes;
  }
}

/** The response went away (client aborted, idle timeout, shutdown) before the body was complete. */
export class ClientGone extends Error {
  /** Bytes written before the response went away. */
  sent = 0;
}

/**
 * Sends bytes `start`..`end` (inclusive) of the file open as `fd` to `out`, resolving to the number of bytes
 * written. Rejects with ClientGone when `out` closes first, or with the read error when the file fails or
 * shrinks. The caller closes `fd` once this settles; no read is in flight by then.
 */
export function sendFileRange(
  fd: number,
  out: Writable,
  start: number,
  end: number,
  chunks: ChunkSource,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let readPosition = start;
    let sent = 0;
    let reading = false;
    // The chunk being written; its buffer goes back to the pool only when the write completed.
    let writing: Buffer | undefined;
    // A chunk read and waiting for the previous write to finish.
    let ready: { buffer: Buffer; length: number } | undefined;
    let failure: Error | undefined;
    let settled = false;

    const settle = (): void => {
      if (settled || reading) return;
      if (failure) {
        settled = true;
        out.off('close', onClose);
        // A buffer still being written is left to the garbage collector: the socket may hold on to it.
        if (ready) chunks.give(ready.buffer);
        ready = undefined;
        if (failure instanceof ClientGone) failure.sent = sent;
        reject(failure);
      } else if (readPosition > end && !ready && !writing) {
        settled = true;
        out.off('close', onClose);
        resolve(sent);
      }
    };
    const onClose = (): void => {
      failure ??= new ClientGone('response closed before the body was complete');
      settle();
    };

    const pump = (): void => {
      if (failure) return settle();
      if (ready && !writing) {
        const { buffer, length } = ready;
        ready = undefined;
        writing = buffer;
        out.write(buffer.subarray(0, length), (error) => {
          writing = undefined;
          if (error) failure ??= new ClientGone(error.message);
          else {
            sent += length;
            chunks.give(buffer);
          }
          pump();
        });
      }
      if (!reading && !ready && readPosition <= end) {
        const buffer = chunks.take(end + 1 - readPosition);
        const length = Math.min(buffer.length, end + 1 - readPosition);
        reading = true;
        read(fd, buffer, 0, length, readPosition, (error, bytesRead) => {
          reading = false;
          if (error) failure ??= error;
          else if (bytesRead === 0)
            failure ??= new Error(
              `file ended at byte ${readPosition}, ${end + 1 - readPosition} bytes early`,
            );
          else {
            readPosition += bytesRead;
            ready = { buffer, length: bytesRead };
          }
          if (!ready) chunks.give(buffer);
          pump();
        });
      }
      settle();
    };

    if (out.destroyed) failure = new ClientGone('response closed before the body was complete');
    else out.once('close', onClose);
    pump();
  });
}
