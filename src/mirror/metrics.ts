// The mirror's counters and their rendering in Prometheus' text exposition format (version 0.0.4).

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export class MirrorMetrics {
  private readonly requests = new Map<string, number>();
  private readonly bytes = new Map<string, number>();
  private readonly errors = new Map<string, number>();
  private readonly aborted = new Map<string, number>();
  private refused = 0;
  openConnections = 0;
  indexedFiles = 0;

  request(route: string, status: number): void {
    bump(this.requests, `route="${route}",code="${status}"`, 1);
  }

  sent(route: string, byteCount: number): void {
    bump(this.bytes, `route="${route}"`, byteCount);
  }

  /** A 5xx answer or a body that could not be read from disk. */
  error(route: string): void {
    bump(this.errors, `route="${route}"`, 1);
  }

  /** The client went away before the body was complete (a cancelled or resumable download). */
  abort(route: string): void {
    bump(this.aborted, `route="${route}"`, 1);
  }

  /** A hostile or malformed path. */
  refusePath(): void {
    this.refused++;
  }

  render(): string {
    return (
      [
        ...family(
          'istio_mirror_http_requests_total',
          'counter',
          'HTTP requests answered, by route and status code.',
          this.requests,
        ),
        ...family(
          'istio_mirror_http_response_bytes_total',
          'counter',
          'Body bytes sent, by route.',
          this.bytes,
        ),
        ...family(
          'istio_mirror_http_errors_total',
          'counter',
          'Server errors and failed bodies, by route.',
          this.errors,
        ),
        ...family(
          'istio_mirror_http_aborted_total',
          'counter',
          'Bodies cut short by the client, by route.',
          this.aborted,
        ),
        ...family(
          'istio_mirror_refused_paths_total',
          'counter',
          'Requests refused for a hostile or malformed path.',
          new Map([['', this.refused]]),
        ),
        ...family(
          'istio_mirror_open_connections',
          'gauge',
          'Open client connections.',
          new Map([['', this.openConnections]]),
        ),
        ...family(
          'istio_mirror_indexed_files',
          'gauge',
          'Files listed in the mirror index.',
          new Map([['', this.indexedFiles]]),
        ),
      ].join('\n') + '\n'
    );
  }
}

function bump(map: Map<string, number>, labels: string, by: number): void {
  map.set(labels, (map.get(labels) ?? 0) + by);
}

function family(
  name: string,
  type: 'counter' | 'gauge',
  help: string,
  samples: Map<string, number>,
): string[] {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of [...samples.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    lines.push(labels ? `${name}{${labels}} ${value}` : `${name} ${value}`);
  return lines;
}
