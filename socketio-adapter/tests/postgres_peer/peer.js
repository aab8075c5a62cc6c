"use strict";
// A Node.js node for the socketio-adapter PostgreSQL wire tests: socket.io 4.8.4 with
// @socket.io/postgres-adapter 0.5.0 on the database of argv[2] (a libpq connection string's
// parts as JSON: {host, port, user, database}). It performs one of each operation that
// publishes, waits for the statements to run, and exits 0. Output: "done" on stdout.
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/postgres-adapter");
const pg = require("pg");

const options = JSON.parse(process.argv[2]);
setTimeout(() => process.exit(2), 20000).unref();

async function main() {
  const pool = new pg.Pool(options);
  const io = new Server({ adapter: createAdapter(pool, { heartbeatInterval: 60000 }) });
  io.emit("hello", "world");
  io.to("r").except("x").emit("ev", 1, { a: [true, null] });
  io.in("r").socketsJoin("room2");
  io.in("r").socketsLeave("room3");
  io.in("s1").disconnectSockets(true);
  io.serverSideEmit("ping", 1);
  io.emit("bin", Buffer.from([1, 2, 255]));
  io.emit("big", "x".repeat(9000));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  process.stdout.write("done\n");
  process.exit(0);
}
main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
