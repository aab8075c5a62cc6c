"use strict";
// A Node.js node of a mixed cluster for the socketio-server sharded Redis adapter tests:
// socket.io 4.8.4 with the sharded adapter of @socket.io/redis-adapter 8.3.0
// (`createShardedAdapter`) on a Redis Cluster, through two `redis` 4 cluster clients (the
// subscriber a duplicate of the publisher). The Rust test drives it with commands on standard
// input and reads JSON lines on standard output.
//
// Usage: node peer.js '<json list of node urls>' '<json>' where json is
//   { "timeoutMs": 60000,               gives up (exit 2) after this long
//     "subscriptionMode": "dynamic",    the adapter's subscriptionMode
//     "serverSideAnswers": { EVENT: ANSWER } }
//         server-side events this node listens to (reported as "server_side"), answered with
//         ANSWER when the sender asks for an answer
// On start it listens on 127.0.0.1 (a free port) and reports {"event":"listening","port":P,
// "uid":U}. Every connecting socket joins the rooms of its `auth.rooms` and gets
// `data = {name: auth.name}`; every connection is reported as {"event":"connection","id":ID,
// "rooms":[..],"data":D}.
//
// Commands (one JSON object per line), each answered by {"event":"done","tag":T,...}, with
// "error" when it failed:
//   {"cmd":"emit","to":[..],"except":[..],"event":E,"args":[..]}        io.to().except().emit()
//   {"cmd":"emit_with_ack","to":[..],"event":E,"args":[..],"timeoutMs":N}
//        io.timeout(N).emit(E, ...args, cb): done carries "err" and "responses"
//   {"cmd":"fetch","to":[..]}              io.in().fetchSockets(): done carries "sockets"
//   {"cmd":"join"|"leave","to":[..],"rooms":[..]}    io.in().socketsJoin() / socketsLeave()
//   {"cmd":"disconnect","to":[..],"close":bool}       io.in().disconnectSockets()
//   {"cmd":"server_side_emit","event":E,"args":[..]}
//   {"cmd":"server_side_emit_with_ack","event":E,"args":[..]}: done carries "err", "responses"
//   {"cmd":"server_count"}: done carries "count"
//   {"cmd":"exit"}
// Values: {"$bin": HEX} is a Buffer, both ways. Other reports: {"event":"server_side",
// "name":E,"args":[..]}, {"event":"redis_error","client":"pub"|"sub","message":M},
// {"event":"fatal"}.

const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { createCluster } = require("redis");
const { createShardedAdapter } = require("@socket.io/redis-adapter");

const [urlsJson, configJson] = process.argv.slice(2);
const urls = JSON.parse(urlsJson);
const config = JSON.parse(configJson || "{}");

function out(event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ event }, fields || {})) + "\n");
}

function exit(code) {
  process.stdout.write("", () => process.exit(code));
}

process.on("uncaughtException", (err) => {
  out("fatal", { message: String(err && err.stack ? err.stack : err) });
  exit(1);
});
process.on("unhandledRejection", (err) => {
  out("fatal", { message: String(err && err.stack ? err.stack : err) });
  exit(1);
});

setTimeout(() => {
  out("timeout", { message: `gave up after ${config.timeoutMs || 60000} ms` });
  exit(2);
}, config.timeoutMs || 60000).unref();

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$bin, "hex");
    }
    const outValue = {};
    for (const [k, v] of Object.entries(value)) outValue[k] = decode(v);
    return outValue;
  }
  return value;
}

function encode(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    const outValue = {};
    for (const [k, v] of Object.entries(value)) outValue[k] = encode(v);
    return outValue;
  }
  return value;
}

async function main() {
  const pubClient = createCluster({ rootNodes: urls.map((url) => ({ url })) });
  const subClient = pubClient.duplicate();
  pubClient.on("error", (err) => out("redis_error", { client: "pub", message: String(err && err.message) }));
  subClient.on("error", (err) => out("redis_error", { client: "sub", message: String(err && err.message) }));
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createShardedAdapter(pubClient, subClient, {
      subscriptionMode: config.subscriptionMode || "dynamic",
    }),
  });

  io.on("connection", (socket) => {
    const auth = socket.handshake.auth || {};
    socket.data = { name: auth.name };
    if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
    out("connection", { id: socket.id, rooms: [...socket.rooms], data: socket.data });
  });
  for (const [name, answer] of Object.entries(config.serverSideAnswers || {})) {
    io.on(name, (...args) => {
      const last = args[args.length - 1];
      const callback = typeof last === "function" ? args.pop() : null;
      out("server_side", { name, args: encode(args) });
      if (callback) callback(answer);
    });
  }

  const target = (op, cmd) => {
    let result = op;
    if (Array.isArray(cmd.to) && cmd.to.length) result = result.to(cmd.to);
    if (Array.isArray(cmd.except) && cmd.except.length) result = result.except(cmd.except);
    return result;
  };

  const commands = {
    emit: (cmd) => {
      target(io, cmd).emit(cmd.event, ...decode(cmd.args || []));
      return {};
    },
    emit_with_ack: (cmd) =>
      new Promise((resolve) => {
        target(io, cmd)
          .timeout(cmd.timeoutMs || 5000)
          .emit(cmd.event, ...decode(cmd.args || []), (err, responses) =>
            resolve({ err: err ? err.message : null, responses: encode(responses) }),
          );
      }),
    fetch: async (cmd) => {
      const sockets = await target(io, cmd).fetchSockets();
      return {
        sockets: sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data })),
      };
    },
    join: (cmd) => (target(io, cmd).socketsJoin(cmd.rooms), {}),
    leave: (cmd) => (target(io, cmd).socketsLeave(cmd.rooms), {}),
    disconnect: (cmd) => (target(io, cmd).disconnectSockets(!!cmd.close), {}),
    server_side_emit: (cmd) => (io.serverSideEmit(cmd.event, ...decode(cmd.args || [])), {}),
    server_side_emit_with_ack: async (cmd) => {
      try {
        const responses = await io.serverSideEmitWithAck(cmd.event, ...decode(cmd.args || []));
        return { err: null, responses: encode(responses) };
      } catch (err) {
        return { err: err.message, responses: encode(err.responses || null) };
      }
    },
    server_count: async () => ({ count: await io.of("/").adapter.serverCount() }),
    exit: () => {
      out("bye");
      exit(0);
      return null;
    },
  };

  readline.createInterface({ input: process.stdin }).on("line", async (line) => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (err) {
      out("fatal", { message: `not JSON: ${line}` });
      exit(1);
      return;
    }
    const run = commands[cmd.cmd];
    if (!run) {
      out("fatal", { message: `unknown command ${cmd.cmd}` });
      exit(1);
      return;
    }
    try {
      const result = await run(cmd);
      if (result) out("done", Object.assign({ tag: cmd.tag, cmd: cmd.cmd }, result));
    } catch (err) {
      out("done", { tag: cmd.tag, cmd: cmd.cmd, error: String(err && err.message) });
    }
  });
  process.stdin.on("end", () => exit(0));

  httpServer.listen(0, "127.0.0.1", () => {
    out("listening", { port: httpServer.address().port, uid: io.of("/").adapter.uid });
  });
}

main().catch((err) => {
  out("fatal", { message: String(err && err.stack ? err.stack : err) });
  exit(1);
});
