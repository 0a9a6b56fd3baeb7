// Holds every answer the route tests get (through test/helpers.ts's client and rawRequest) against
// the OpenAPI document: a documented route and method must answer a documented status, with the
// headers that status requires and a body its schema accepts. Answers of routes the document does
// not have are not judged here (test/openapi.test.ts finds such routes). Schemas are compiled once
// per process, on first use.
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import polka from "polka";
import { openApiDocument } from "../../src/server/openapi/document.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// ajv-formats is CommonJS: its default export arrives wrapped under ESM
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as typeof addFormatsModule.default;

const DOC_ID = "presque-openapi.json";
/** A JSON pointer as a URI fragment holds it (RFC 6901: escaped, then percent-encoded). */
const pointer = (...parts: string[]) => parts.map((p) => encodeURIComponent(p.replace(/~/g, "~0").replace(/\//g, "~1"))).join("/");

interface Found {
  path: string;
  method: string;
  operation: Json;
}

interface Expected {
  headers: Array<{ name: string; required: boolean; validate: ValidateFunction }>;
  /** by bare media type: the body's validator, or null for a body that is not parsed; null for no body */
  content: Map<string, ValidateFunction | null> | null;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export { pointer };

export class ResponseChecker {
  readonly doc: Json = openApiDocument();
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  private readonly matcher = polka();
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly prepared = new Map<string, Expected | null>();

  constructor() {
    addFormats(this.ajv);
    this.ajv.addSchema(this.doc, DOC_ID);
    for (const [path, item] of Object.entries(this.doc.paths as Json)) {
      for (const [method, operation] of Object.entries(item as Json)) {
        const found: Found = { path, method, operation };
        this.matcher.add(method.toUpperCase() as "GET", path.replace(/\{([^}]+)\}/g, ":$1"), found as never);
      }
    }
  }

  /** What is wrong with an answer by the document, or null (also for a route it does not document). */
  check(method: string, url: string, answer: Answer): string | null {
    const pathname = new URL(url, "http://x").pathname; // as Polka reads it: no query, no fragment
    const found = this.matcher.find(method.toUpperCase() as "GET", pathname).handlers[0] as unknown as Found | undefined;
    // trouter hands HEAD to GET routes; the document (like the server) has no HEAD
    if (!found || found.method !== method.toLowerCase()) return null;
    const where = () => `${method.toUpperCase()} ${found.path} answered ${answer.status}`;
    const expected = this.expected(found, answer.status);
    if (!expected)
      return `${where()}, a status the document does not list for it (it lists ${Object.keys(found.operation.responses).join(", ")})`;

    for (const { name, required, validate } of expected.headers) {
      const value = answer.headers.get(name);
      if (value === null) {
        if (required) return `${where()} without the header ${name} the document requires`;
      } else if (!validate(value)) {
        return `${where()} with ${name}: ${value}, which its schema refuses: ${this.ajv.errorsText(validate.errors)}`;
      }
    }

    if (!expected.content) return answer.text === "" ? null : `${where()} with a body, where the document says there is none`;
    const type = (answer.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (!expected.content.has(type))
      return `${where()} with Content-Type ${type || "(none)"}, not one the document lists (${[...expected.content.keys()].join(", ")})`;
    const validate = expected.content.get(type);
    if (!validate) return null;
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      return `${where()} with a body that is not JSON: ${answer.text.slice(0, 200)}`;
    }
    if (!validate(body))
      return `${where()} with a body its schema refuses: ${this.ajv.errorsText(validate.errors)}: ${answer.text.slice(0, 300)}`;
    return null;
  }

  /** What the document expects of one status of one operation, worked out once; null when it lists no such status. */
  private expected(found: Found, status: number): Expected | null {
    const key = `${found.method} ${found.path} ${status}`;
    let expected = this.prepared.get(key);
    if (expected !== undefined) return expected;
    const given = found.operation.responses?.[String(status)] as Json | undefined;
    expected = null;
    if (given) {
      // where the response sits in the document: its schemas are compiled there, so their $refs resolve
      const base = given.$ref ? given.$ref.slice(2) : pointer("paths", found.path, found.method, "responses", String(status));
      const response = this.resolve(given)!;
      const headers = Object.entries((response.headers ?? {}) as Json).map(([name, spec]) => ({
        name,
        required: !!this.resolve(spec)!.required,
        validate: this.validator(`${spec.$ref ? spec.$ref.slice(2) : `${base}/${pointer("headers", name)}`}/schema`),
      }));
      let content: Expected["content"] = null;
      if (response.content) {
        content = new Map();
        // a documented type may carry parameters of its own (text/plain; version=0.0.4); only JSON bodies are parsed
        for (const [type, media] of Object.entries(response.content as Json)) {
          const bare = type.split(";")[0]!.trim().toLowerCase();
          content.set(bare, media.schema && bare.endsWith("json") ? this.validator(`${base}/${pointer("content", type, "schema")}`) : null);
        }
      }
      expected = { headers, content };
    }
    this.prepared.set(key, expected);
    return expected;
  }

  /** The validator of the schema at a JSON pointer into the document, compiled on first use. */
  validator(at: string): ValidateFunction {
    let validate = this.validators.get(at);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOC_ID}#/${at}` });
      this.validators.set(at, validate);
    }
    return validate;
  }

  /** A Reference Object followed to what it names (#/components/...), or the object itself. */
  private resolve(value: Json | undefined): Json | undefined {
    if (!value?.$ref) return value;
    const parts = (value.$ref as string).replace(/^#\//, "").split("/");
    return parts.reduce<Json>((node, part) => node?.[part.replace(/~1/g, "/").replace(/~0/g, "~")], this.doc);
  }
}

let shared: ResponseChecker | undefined;

/** Throws when an answer breaks the document, so that the test that made the request fails there. */
export function checkAnswer(method: string, url: string, answer: Answer): void {
  shared ??= new ResponseChecker();
  const complaint = shared.check(method, url, answer);
  if (complaint) throw new Error(`the answer breaks the OpenAPI document (src/server/openapi/): ${complaint}`);
}

/** The schema of each event a stream sends, by route and event name (what the document says of its data). */
const JOB_EVENT = "JobEvent";
const EVENT_SCHEMAS: Record<string, Record<string, string>> = {
  "/events": { overview: "Overview", problem: "Error" },
  "/events/:queue": {
    subscribed: "Subscribed",
    missed: "Missed",
    pushed: JOB_EVENT,
    delivered: JOB_EVENT,
    acked: JOB_EVENT,
    removed: JOB_EVENT,
    failed: JOB_EVENT,
    dead: JOB_EVENT,
  },
};

/** Throws when an event of a stream (GET /events, GET /events/:queue) does not fit the schema the document gives its data. */
export function checkEvent(event: string, data: unknown, route: "/events" | "/events/:queue" = "/events"): void {
  shared ??= new ResponseChecker();
  const name = EVENT_SCHEMAS[route]![event];
  const broken = (what: string) => new Error(`the answer breaks the OpenAPI document (src/server/openapi/): GET ${route} sent ${what}`);
  if (!name) throw broken(`an event ${event}`);
  const validate = shared.validator(pointer("components", "schemas", name));
  if (!validate(data))
    throw broken(`${event} data its schema refuses: ${validate.errors?.map((e) => `${e.instancePath} ${e.message}`).join(", ")}`);
}
