// Streams a byte range of an open file to a response through two reused buffers: reading the next chunk while the
// previous one is written, with memory per download fixed at two chunks and little garbage per chunk (callbacks, not
// promises, in the loop), so 64 concurrent downloads stay within a small, flat RSS.
import { read } from 'node:fs';
import type { Writable } from 'node:stream';

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
  chunkSize: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const size = Math.min(chunkSize, end - start + 1);
    const buffers = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
    let readPosition = start;
    let sent = 0;
    let reading = false;
    let writing = false;
    // A chunk read and waiting for the previous write to finish.
    let ready: Buffer | undefined;
    let failure: Error | undefined;
    let settled = false;

    const settle = (): void => {
      if (settled || reading) return;
      if (failure) {
        settled = true;
        out.off('close', onClose);
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
        const chunk = ready;
        ready = undefined;
        writing = true;
        out.write(chunk, (error) => {
          writing = false;
          if (error) failure ??= new ClientGone(error.message);
          else sent += chunk.length;
          pump();
        });
      }
      // Read into the buffer that is neither waiting nor being written.
      if (!reading && !ready && readPosition <= end) {
        const buffer = buffers[0]!;
        buffers.reverse();
        reading = true;
        const length = Math.min(size, end + 1 - readPosition);
        read(fd, buffer, 0, length, readPosition, (error, bytesRead) => {
          reading = false;
          if (error) failure ??= error;
          else if (bytesRead === 0)
            failure ??= new Error(
              `file ended at byte ${readPosition}, ${end + 1 - readPosition} bytes early`,
            );
          else {
            readPosition += bytesRead;
            ready = buffer.subarray(0, bytesRead);
          }
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
