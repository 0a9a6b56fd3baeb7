// The package's public API: import { Client, Worker, startPresque } from "presque".
export {
  Client,
  ConnectionError,
  PresqueError,
  DEFAULT_URL,
  type BatchOutcome,
  type ClientOptions,
  type DeadList,
  type FailOutcome,
  type FailRef,
  type FetchOptions,
  type Job,
  type JobInfo,
  type JobRef,
  type PushOptions,
  type QueueControl,
  type QueueFigures,
  type QueueSettings,
  type Stats,
  type WaitOutcome,
  type WorkerInfo,
} from "./client/client.js";
export { Worker, type Handler, type JobContext, type WorkerCounts, type WorkerOptions } from "./client/worker.js";
export { JobStream, StreamRefused, type StreamOpenOptions } from "./client/stream.js";
export { startPresque, type PresqueOptions, type RunningPresque } from "./kit.js";
export { startServer, type RunningServer } from "./server/start.js";
export { DEFAULTS, type Config } from "./server/config.js";
