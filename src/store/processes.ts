// Every running presque process says who it is, which build, layout and script versions it runs,
// and renews that every few seconds; an entry not renewed expires. /stats/ lists them, so that an
// operator (and a migration) can tell when every live process is new enough. Costs one write per
// process every few seconds, whatever the number of queues.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { globalKeys } from "./keys.js";
import type { RedisClient } from "./topology.js";

export const PRESQUE_VERSION: string = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;

export interface ProcessInfo {
  id: string;
  version: string;
  layout: number;
  scripts: string[];
  started_at: number;
}

export class ProcessRegistry {
  readonly info: ProcessInfo;
  private readonly keys: ReturnType<typeof globalKeys>;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly log: Logger,
    details: { layout: number; scripts: string[] },
    /** told, at every renewal, which processes are live */
    private readonly onRenew: (live: ProcessInfo[]) => void = () => {},
    private readonly everyMs = 5_000,
  ) {
    this.keys = globalKeys(prefix);
    const id = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
    this.info = { id, version: PRESQUE_VERSION, ...details, started_at: Math.floor(Date.now() / 1000) };
  }

  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => this.renew().catch((err) => this.log.debug({ err }, "process registry renewal failed")), this.everyMs);
    this.timer.unref();
  }

  /** The processes whose entries have not expired, oldest first. */
  async list(): Promise<Array<ProcessInfo & { expires_at: number }>> {
    const live = await this.redis.zrangebyscore(this.keys.processes, Date.now(), "+inf", "WITHSCORES");
    if (live.length === 0) return [];
    const ids = live.filter((_, i) => i % 2 === 0);
    const details = await this.redis.hmget(this.keys.processDetails, ...ids);
    return ids
      .map((id, i) => (details[i] ? { ...(JSON.parse(details[i]!) as ProcessInfo), expires_at: Number(live[2 * i + 1]) / 1000 } : null))
      .filter((p) => p !== null)
      .sort((a, b) => a.started_at - b.started_at);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.redis.zrem(this.keys.processes, this.info.id), this.redis.hdel(this.keys.processDetails, this.info.id)]);
  }

  private async renew(): Promise<void> {
    const now = Date.now();
    const { processes, processDetails } = this.keys;
    // three missed renewals and the entry is gone; the expired ones of other processes go with it
    const expired = (await this.redis.zrangebyscore(processes, "-inf", now)).filter((id) => id !== this.info.id);
    await Promise.all([
      this.redis.zadd(processes, now + 3 * this.everyMs, this.info.id),
      this.redis.hset(processDetails, this.info.id, JSON.stringify(this.info)),
      expired.length > 0 ? this.redis.zrem(processes, ...expired) : null,
      expired.length > 0 ? this.redis.hdel(processDetails, ...expired) : null,
    ]);
    this.onRenew(await this.list());
  }
}
