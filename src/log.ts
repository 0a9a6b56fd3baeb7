import { pino, type Logger } from "pino";

export function createLogger(level: string): Logger {
  return pino({ name: "presque", level, base: { pid: process.pid } });
}
