import { pino, type Logger } from 'pino';

/** One structured (JSON lines) logger per process; children carry context (demoId, activity, ...). */
export function createLogger(name: string, level: string = process.env.DMX_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
export type { Logger };
