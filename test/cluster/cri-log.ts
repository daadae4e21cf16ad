// Writes a container's output in the CRI log format a kubelet keeps (`<RFC3339Nano> <stream> F <line>`), which
// kwok's kubelet server reads back when someone asks the apiserver for the pod's log.
import type { Writable } from 'node:stream';

export type LogStream = 'stdout' | 'stderr';

export class CriLogWriter {
  private readonly partial: Record<LogStream, string> = { stdout: '', stderr: '' };

  constructor(
    private readonly out: Writable,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Records complete lines at once and holds a trailing partial line until its newline (or `end`). */
  write(stream: LogStream, chunk: Buffer | string): void {
    const lines = (this.partial[stream] + chunk.toString()).split('\n');
    this.partial[stream] = lines.pop() ?? '';
    for (const line of lines) this.line(stream, line);
  }

  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') this.line(stream, this.partial[stream]);
      this.partial[stream] = '';
    }
    this.out.end();
  }

  private line(stream: LogStream, text: string): void {
    this.out.write(`${this.now().toISOString()} ${stream} F ${text}\n`);
  }
}
