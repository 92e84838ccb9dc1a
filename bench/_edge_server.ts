// The edge handler on 127.0.0.1 for bench/edge_load.ts: `deno run -A bench/_edge_server.ts
// '<createHandler options as JSON>'`. Prints `listening <port>` and serves until killed.
import { createHandler } from "../edge/handler.ts";

const handler = createHandler(JSON.parse(Deno.args[0] ?? "{}"));
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(`listening ${port}`) },
  handler.fetch,
);
Deno.addSignalListener("SIGTERM", () => {
  handler.close();
  server.shutdown();
  Deno.exit(0);
});
