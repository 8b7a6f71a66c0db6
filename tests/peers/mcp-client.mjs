// A small MCP client on the official TypeScript SDK, run by the integration specs as a real process.
//
//   node mcp-client.mjs <streamable-http|sse> <url> <headers-json> <command> [args...]
//
// Commands (add one to COMMANDS; each gets the connected client, its arguments and { emit, wire }
// (wire: every message the transport received so far, in order) and returns a JSON-serializable
// result, or yields several with `emit`):
//   info                      the server's name, version and capabilities after initialize
//   list                      every tool (all pages): { tools: [{ name, description }] }
//   call <tool> <json-args>   tools/call: the CallToolResult as the server sent it
//   progress <tool> <json-args>
//                             tools/call with onprogress: { delivered, wire, result }. delivered: the
//                             updates onprogress got ({ kind: "progress", progress, total, message })
//                             then { kind: "result" } once callTool resolved; wire: the call's progress
//                             notifications and its answer in the order the transport received them.
//                             (The SDK runs notification handlers a microtask late but answers at
//                             once, so an update that arrives together with the answer can miss
//                             onprogress: wire shows what the server sent, and in which order.)
//   cancel <tool> <json-args> <stats-tool> <calls-key>
//                             starts the call with an AbortSignal, polls <stats-tool> (the demo
//                             server's `stats`) until calls[<calls-key>] grew, aborts (the SDK sends
//                             notifications/cancelled), then polls until `cancellations` grew:
//                             { before, reached, after, error } (the stats as JSON, the call's error)
//   list-changed <tool> <json-args>
//                             calls <tool> (one that changes an upstream's tools), waits for
//                             notifications/tools/list_changed, then lists:
//                             { notifications, tools: [name] } (tools as listed after the notification)
//
// Output: one JSON line per result on stdout, {"ok":true,"command":...,"result":...}. On an error:
// {"ok":false,"command":...,"error":{"message","code"}} and exit code 1; a bad command line exits
// with 2; the hard timeout (MCP_CLIENT_TIMEOUT_MS, default 20000) prints an error and exits with 3.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

// Polling bounds of the commands that wait for a state (each well under the hard timeout).
const POLL_INTERVAL_MS = 50;
const POLL_LIMIT_MS = 15000;

const COMMANDS = {
  async info(client) {
    return { server: client.getServerVersion(), capabilities: client.getServerCapabilities() };
  },

  async list(client) {
    const tools = [];
    let cursor;
    for (let page = 0; page < 1000; page++) {
      const result = await client.listTools(cursor ? { cursor } : {});
      tools.push(...result.tools.map(({ name, description }) => ({ name, description })));
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    return { tools };
  },

  async call(client, [tool, json = "{}"]) {
    if (!tool) throw usage("call needs a tool name");
    return await client.callTool({ name: tool, arguments: JSON.parse(json) });
  },

  async progress(client, [tool, json = "{}"], { wire }) {
    if (!tool) throw usage("progress needs a tool name");
    const delivered = [];
    const start = wire.length;
    const result = await client.callTool({ name: tool, arguments: JSON.parse(json) }, undefined, {
      onprogress: ({ progress, total, message }) => delivered.push({ kind: "progress", progress, total, message }),
    });
    delivered.push({ kind: "result" });
    const seen = wire.slice(start).flatMap((m) =>
      m.method === "notifications/progress" ? [{ kind: "progress", progress: m.params.progress, total: m.params.total }]
        : "result" in m || "error" in m ? [{ kind: "result" }] : []);
    return { delivered, wire: seen, result };
  },

  async cancel(client, [tool, json = "{}", statsTool, callsKey]) {
    if (!tool || !statsTool || !callsKey) throw usage("cancel needs a tool, its arguments, the stats tool and the calls key");
    const stats = async () => JSON.parse((await client.callTool({ name: statsTool, arguments: {} })).content[0].text);
    const before = await stats();
    const abort = new AbortController();
    const call = client.callTool({ name: tool, arguments: JSON.parse(json) }, undefined, { signal: abort.signal })
      .then(() => null, (error) => ({ name: error?.name, message: String(error?.message ?? error) }));
    const reached = await pollUntil(stats, (s) => (s.calls?.[callsKey] ?? 0) > (before.calls?.[callsKey] ?? 0), `${tool} reaching the upstream`);
    abort.abort("cancelled by mcp-client.mjs");
    const error = await call;
    const after = await pollUntil(stats, (s) => s.cancellations > before.cancellations, "the upstream seeing the cancellation");
    return { before, reached, after, error };
  },

  async "list-changed"(client, [tool, json = "{}"]) {
    if (!tool) throw usage("list-changed needs a tool name");
    let notifications = 0;
    let notified;
    const changed = new Promise((resolve) => (notified = resolve));
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      notifications++;
      notified();
    });
    const answer = await client.callTool({ name: tool, arguments: JSON.parse(json) });
    if (answer.isError) throw new Error(`${tool} failed: ${JSON.stringify(answer.content)}`);
    await within(changed, POLL_LIMIT_MS, "notifications/tools/list_changed");
    const { tools } = await COMMANDS.list(client);
    return { notifications, tools: tools.map((t) => t.name) };
  },
};

async function pollUntil(read, done, what) {
  const deadline = Date.now() + POLL_LIMIT_MS;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${POLL_LIMIT_MS} ms waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const TRANSPORTS = {
  "streamable-http": (url, headers) => new StreamableHTTPClientTransport(url, { requestInit: { headers } }),
  sse: (url, headers) => new SSEClientTransport(url, { requestInit: { headers } }),
};

function usage(message) {
  const error = new Error(`${message}. Usage: node mcp-client.mjs <${Object.keys(TRANSPORTS).join("|")}> <url> <headers-json> <${Object.keys(COMMANDS).join("|")}> [args...]`);
  error.usage = true;
  return error;
}

function emit(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

const [transportName, url, headersJson = "{}", command, ...args] = process.argv.slice(2);
const timeoutMs = Number(process.env.MCP_CLIENT_TIMEOUT_MS ?? 20000);
const timer = setTimeout(() => {
  emit({ ok: false, command, error: { message: `timed out after ${timeoutMs} ms` } });
  process.exit(3);
}, timeoutMs);

let client;
try {
  const makeTransport = TRANSPORTS[transportName];
  if (!makeTransport) throw usage(`unknown transport '${transportName}'`);
  if (!url) throw usage("the url is missing");
  const run = COMMANDS[command];
  if (!run) throw usage(`unknown command '${command}'`);

  client = new Client({ name: "sark-spec-ts-client", version: "1.0.0" });
  const transport = makeTransport(new URL(url), JSON.parse(headersJson));
  await client.connect(transport);
  const wire = [];
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    wire.push(message);
    deliver?.(message, extra);
  };
  emit({ ok: true, command, result: await run(client, args, { emit, wire }) });
  if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession();
  await client.close();
  clearTimeout(timer);
} catch (error) {
  emit({ ok: false, command, error: { message: String(error?.message ?? error), code: error?.code } });
  await client?.close().catch(() => {});
  process.exit(error?.usage ? 2 : 1);
}
