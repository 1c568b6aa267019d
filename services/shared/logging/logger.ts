import { pino, type Logger, type LoggerOptions } from 'pino';
import { activeTraceIds } from '../telemetry/trace-context.ts';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

export interface LoggerSettings {
  level: string;
  format: LogFormat;
  /** Fields on every line: role, consumer, agent ... */
  base: Record<string, string>;
}

/**
 * JSON lines (one object per line, what container log collectors expect) unless LOG_FORMAT=pretty
 * or stdout is a terminal. While tracing is on, every line logged inside a span carries its trace_id
 * and span_id so logs and traces join up.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: settings.base,
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      return activeTraceIds() ?? {};
    },
    // Secrets never reach a log line: passwords, and the API's tokens and cookies wherever a
    // request or its headers are logged (docs/SECURITY-API.md).
    redact: {
      paths: [
        'password', '*.password', 'config.redis.password',
        'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'req.headers.cookie', 'headers.cookie',
        'token', '*.token', 'secret', '*.secret',
      ],
      censor: '[redacted]',
    },
  };
  if (settings.format === 'pretty') {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: {
          colorize: process.env.NO_COLOR === undefined,
          translateTime: 'HH:MM:ss.l',
          // Terminal lines carry what a person follows; the ids stay in the JSON form for machines.
          ignore: 'pid,hostname,role,consumer,trace_id,span_id,agent,component,eventId,guestId,reply,entryId,event,invited,yes,no,maybe,noResponse,guests,group,port,redis,version,reason,sequence,replyRev,type,scope,unknown',
          messageFormat: '{msg}',
          singleLine: true,
        },
      },
    });
  }
  return pino(options);
}

export function defaultLogFormat(): LogFormat {
  return process.stdout.isTTY ? 'pretty' : 'json';
}
