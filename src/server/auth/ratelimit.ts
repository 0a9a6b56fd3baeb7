// Per-token request rates, counted in Redis so that they hold across presque processes. The
// bucket is global to a token, not to a queue: it is checked beside the route's script call,
// never inside a queue script, by its own script (lua/global/rateLimit.v1.lua) on one key.
import { readFileSync } from "node:fs";
import type { RedisClient } from "../../store/topology.js";
import { callScript, LUA_DIR } from "../../store/scripts.js";
import type { Token } from "./tokens.js";

const COMMAND = "rateLimit_v1";
let lua: string | undefined;

export class RateLimiter {
  private defined = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  /** 0 when the token (rate > 0) may make this request now, else the milliseconds until it may. */
  async wait(token: Token): Promise<number> {
    if (!this.defined) {
      lua ??= readFileSync(`${LUA_DIR}global/rateLimit.v1.lua`, "utf8");
      this.redis.defineCommand(COMMAND, { numberOfKeys: 1, lua });
      this.defined = true;
    }
    // the token id is the hash tag: one bucket, one slot
    return Number(await callScript<number>(this.redis, COMMAND, [`${this.prefix}rate:{${token.id}}`], [token.rate, token.burst]));
  }
}
