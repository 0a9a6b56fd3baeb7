// A presque worker in Node: `PRESQUE_URL=http://127.0.0.1:5000 node --import tsx examples/node/worker.ts <queue>`.
// Ctrl-C or SIGTERM lets running jobs finish, hands back the rest, and exits.
import { Worker } from "presque";

const worker = new Worker<{ fail?: boolean }>({
  queues: [process.argv[2] ?? "default"],
  concurrency: 10,
  lease: 30, // seconds, extended while a job runs
  handler: async (job) => {
    if (job.data.fail) throw new Error("asked to fail"); // fails the job: retried later
    console.log(`done ${job.id}`);
  },
});
await worker.start();
