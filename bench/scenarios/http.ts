// presque's other HTTP scenarios, one run each after the rounds: batches, mixed POST and GET,
// leased GET and ack.
import type { Request } from "autocannon";
import { consumer, helloBound, httpScenario } from "../measure.js";
import { batchBody, JOB, JSON_HEADERS } from "../queue.js";
import { WARMUP, wanted, type Section } from "../settings.js";
import type { Child } from "../procs.js";
import type { Redis } from "ioredis";

export const httpSection: Section = { groups: ["presque"], run: ({ presque, redis }) => presqueHttp(presque, redis) };

async function presqueHttp(presque: Child, redis: Redis): Promise<void> {
  const url = presque.url;
  const q = (queue: string, jobs: "pushed" | "processed") => ({ server: presque, queue, jobs });
  for (const n of [100, 1000]) {
    await httpScenario({
      id: `presque.post_qb${n}`,
      label: `presque POST /qb (${n})`,
      spec: { url, method: "POST", path: "/qb/bench-b", headers: JSON_HEADERS, body: batchBody(n) },
      server: presque,
      presque: q("bench-b", "pushed"),
      jobsPerOk: n,
      redis,
      bullmq: "bullmq.addbulk",
    });
  }

  if (wanted("presque.get_qb100")) {
    const c = consumer(presque, "bench-b");
    await c.before(helloBound() * 10, WARMUP);
    await httpScenario({
      id: "presque.get_qb100",
      label: "presque GET /qb (100)",
      spec: { url, path: "/qb/bench-b?batch_size=100" },
      server: presque,
      presque: q("bench-b", "processed"),
      redis,
      prepare: c.prepare,
      bullmq: "bullmq.worker",
    });
  }

  // each connection posts, then takes: a GET never comes before its own POST, so the queue
  // cannot be empty when a GET arrives
  await httpScenario({
    id: "presque.mixed",
    label: "presque mixed POST+GET /q",
    spec: {
      url,
      requests: [
        { method: "POST", path: "/q/bench-mix", headers: JSON_HEADERS, body: JOB },
        { method: "GET", path: "/q/bench-mix" },
      ],
    },
    server: presque,
    presque: q("bench-mix", "processed"),
    redis,
    bullmq: "bullmq.worker",
  });

  if (wanted("presque.lease")) {
    const c = consumer(presque, "bench-lease");
    await c.before(helloBound() / 2, WARMUP);
    const header = (headers: Record<string, string>, name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
    const requests: Request[] = [
      {
        method: "GET",
        path: "/q/bench-lease?lease=30",
        onResponse: (_status, _body, context, headers) => {
          context.id = header(headers, "x-presque-jobid");
          context.attempt = header(headers, "x-presque-attempt");
        },
      },
      {
        method: "DELETE",
        setupRequest: (req, context) => ({
          ...req,
          path: `/q/bench-lease/${String(context.id)}`,
          headers: { ...req.headers, "x-presque-attempt": String(context.attempt) },
        }),
      },
    ];
    await httpScenario({
      id: "presque.lease",
      label: "presque leased GET + ack",
      spec: { url, requests },
      server: presque,
      presque: q("bench-lease", "processed"),
      redis,
      prepare: c.prepare,
      bullmq: "bullmq.worker",
      note: "2 requests per job",
    });
  }
}
