// A small MCP client on the official TypeScript SDK, run by the integration specs as a real process.
//
//   node mcp-client.mjs <streamable-http|sse> <url> <headers-json> <command> [args...]
//
// Commands (add one to COMMANDS; each gets the connected client and its arguments and returns a
// JSON-serializable result, or yields several with `emit`):
//   info                      the server's name, version and capabilities after initialize
//   list                      every tool (all pages): { tools: [{ name, description }] }
//   call <tool> <json-args>   tools/call: the CallToolResult as the server sent it
//
// Output: one JSON line per result on stdout, {"ok":true,"command":...,"result":...}. On an error:
// {"ok":false,"command":...,"error":{"message","code"}} and exit code 1; a bad command line exits
// with 2; the hard timeout (MCP_CLIENT_TIMEOUT_MS, default 20000) prints an error and exits with 3.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

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
};

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
  emit({ ok: true, command, result: await run(client, args, emit) });
  if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession();
  await client.close();
  clearTimeout(timer);
} catch (error) {
  emit({ ok: false, command, error: { message: String(error?.message ?? error), code: error?.code } });
  await client?.close().catch(() => {});
  process.exit(error?.usage ? 2 : 1);
}
