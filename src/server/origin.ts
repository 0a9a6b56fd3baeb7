// Who may reach presque from a browser: a page on another site must not change state here (a form
// or a fetch of text/plain needs no CORS preflight), and a name that rebinds to 127.0.0.1 must not
// make presque the page's own origin (DNS rebinding). Checked on every request, before tokens:
// the Host must be one presque answers to, and a request that changes state must not come from a
// foreign Origin or be marked cross-site by the browser. Clients that are not browsers send no
// Origin and are not concerned. A couple of string compares on the hot path.
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3})$/i;
const WILDCARD = new Set(["", "0.0.0.0", "::", "[::]"]);

export class RequestOrigins {
  /** Host header values answered, lower-case: the listening address, loopback names, configured names */
  private readonly hosts = new Set<string>();
  /** the Origins of presque's own pages: the Host forms above that carry a port (an Origin without
   *  one is a page on port 80 or 443, another origin) */
  private readonly pageOrigins = new Set<string>();
  /** configured names without a port: answered on any port */
  private readonly names = new Set<string>();
  private readonly anyHost: boolean;
  private readonly wildcard: boolean;

  constructor(
    private readonly listenHost: string,
    allowedHosts: readonly string[] = [],
  ) {
    this.anyHost = allowedHosts.includes("*");
    for (const entry of allowedHosts) {
      const name = entry.toLowerCase();
      if (/:\d+$/.test(name)) {
        this.hosts.add(name);
        this.pageOrigins.add(name);
      } else this.names.add(name);
    }
    this.wildcard = WILDCARD.has(listenHost);
  }

  /** Called once the port is known (it may have been 0). */
  listening(port: number): void {
    const host = this.listenHost.replace(/^\[|\]$/g, "").toLowerCase();
    const forms = this.wildcard || LOOPBACK.test(host) ? ["127.0.0.1", "localhost", "[::1]"] : [];
    if (!this.wildcard) forms.push(host.includes(":") ? `[${host}]` : host);
    // bare too: some clients leave the port out, and a rebinding attack needs a name, not a port
    for (const form of forms) {
      this.hosts.add(`${form}:${port}`).add(form);
      this.pageOrigins.add(`${form}:${port}`);
    }
  }

  /** Whether presque answers to this Host header. A server listening on every address cannot know
   *  its addresses: any IP literal is taken then (a rebinding attack needs a name). */
  acceptsHost(host: string | undefined): boolean {
    if (host === undefined || this.anyHost || this.hosts.has(host)) return true;
    const lower = host.toLowerCase();
    if (this.hosts.has(lower)) return true;
    const name = lower.replace(/:\d+$/, "");
    if (this.names.has(name)) return true;
    return this.wildcard && isIP(name.replace(/^\[|\]$/g, "")) !== 0;
  }

  /** The complaint about a request, or null when it may go on. */
  refusal(req: IncomingMessage): string | null {
    const host = req.headers.host;
    if (!this.acceptsHost(host)) {
      return "this server does not answer to that Host (server.allowed_hosts lists the names it answers to)";
    }
    if (!changesState(req)) return null;
    const site = req.headers["sec-fetch-site"];
    if (site === "cross-site" || site === "same-site") return `a request that changes state may not come from another site (${site})`;
    const origin = req.headers.origin;
    if (origin === undefined || this.sameOrigin(origin, host)) return null;
    return "a request that changes state may not come from another origin";
  }

  /** An Origin of the page presque itself served (its own Host), or of a listed name. */
  private sameOrigin(origin: string, host: string | undefined): boolean {
    const authority = origin.startsWith("http://") ? origin.slice(7) : origin.startsWith("https://") ? origin.slice(8) : null;
    if (authority === null) return false; // "null" (a sandboxed frame, a file) and other schemes
    if (host !== undefined && authority.toLowerCase() === host.toLowerCase()) return true;
    const lower = authority.toLowerCase();
    // not "*": that lets any Host in, never any Origin
    return this.pageOrigins.has(lower) || this.names.has(lower.replace(/:\d+$/, ""));
  }
}

/** Everything but GET and HEAD changes state, and so do the GETs that take jobs: GET /q/:queue
 *  and /qb/:queue (under /q/ and /qb/ every GET is judged so: the job lookups lose nothing), and
 *  GET /c/:queue, the streaming consumer's WebSocket upgrade (a page may open a WebSocket to any
 *  host: the browser sends its Origin, and only that check keeps the page from taking jobs). */
export const TAKES_JOBS = /^\/(qb?|c)\//i;

function changesState(req: IncomingMessage): boolean {
  const method = req.method;
  if (method !== "GET" && method !== "HEAD") return true;
  return TAKES_JOBS.test(req.url ?? "");
}
