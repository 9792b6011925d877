import { pino, type Logger } from 'pino';

/** One structured (JSON lines) logger per process; children carry context (demoId, activity, ...). */
export function createLogger(name: string, level: string = process.env.DMX_LOG_LEVEL ?? 'info', fd: 1 | 2 = 1): Logger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd, sync: fd === 2 }));
}
export type { Logger };
