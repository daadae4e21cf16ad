// The logger every capability writes its progress to; the CLI makes it (cli/io.ts createLogger) and passes it in.

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
