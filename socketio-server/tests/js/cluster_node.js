"use strict";
// What every Node.js node of the mixed-cluster tests shares (`cluster/peer.js`,
// `streams/peer.js`, `sharded/peer.js`, `postgres_cluster/peer.js`, and socketio-admin's
// `tests/peer/admin_peer.js`): the JSON lines it reports on
// standard output, the commands it reads on standard input, and how it gives up. Each peer
// builds its own `io` (socket.io from its own folder's `node_modules`, with its adapter) and
// hands it to `serve`; this file needs nothing but Node.js itself.
//
// Shared commands (one JSON object per line), each answered by {"event":"done","tag":T,
// "cmd":C,...}, with "error" when it failed:
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
// Values: {"$bin": HEX} is a Buffer, both ways. Reports: {"event":"listening","port":P,
// "uid":U}, {"event":"server_side","name":E,"args":[..]}, {"event":"fatal","message":M},
// {"event":"timeout","message":M}.

const readline = require("readline");

function out(event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ event }, fields || {})) + "\n");
}

function exit(code) {
  process.stdout.write("", () => process.exit(code));
}

function fatal(err) {
  out("fatal", { message: String(err && err.stack ? err.stack : err) });
  exit(1);
}

// Reports any crash as `fatal`, and gives up (exit 2) after `timeoutMs`.
function guard(timeoutMs) {
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  setTimeout(() => {
    out("timeout", { message: `gave up after ${timeoutMs} ms` });
    exit(2);
  }, timeoutMs).unref();
}

// Buffers travel as {"$bin": HEX} in the test's JSON.
function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$bin, "hex");
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

function encode(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return value;
}

// What every node of the tests does with a new socket, ours as the Node.js ones:
// `data = {name: auth.name}`, and it joins the rooms of `auth.rooms`.
function adoptAuth(socket) {
  const auth = socket.handshake.auth || {};
  socket.data = { name: auth.name };
  if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
}

// `op.to(cmd.to).except(cmd.except)`, each only when given: `op` is the server or an emitter.
function target(op, cmd) {
  let result = op;
  if (Array.isArray(cmd.to) && cmd.to.length) result = result.to(cmd.to);
  if (Array.isArray(cmd.except) && cmd.except.length) result = result.except(cmd.except);
  return result;
}

// Answers the server-side events of `serverSideAnswers` ({EVENT: ANSWER}, reported as
// "server_side"), runs the shared commands and `extraCommands` on standard input, and listens on
// 127.0.0.1 (a free port), reporting `listening`. With `fetchHandshake`, `fetch` also gives each
// socket's handshake.
function serve(io, httpServer, { serverSideAnswers = {}, extraCommands = {}, fetchHandshake = false } = {}) {
  for (const [name, answer] of Object.entries(serverSideAnswers)) {
    io.on(name, (...args) => {
      const callback = typeof args[args.length - 1] === "function" ? args.pop() : null;
      out("server_side", { name, args: encode(args) });
      if (callback) callback(answer);
    });
  }

  const commands = {
    emit: (cmd) => (target(io, cmd).emit(cmd.event, ...decode(cmd.args || [])), {}),
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
        sockets: sockets.map((s) =>
          Object.assign(
            { id: s.id, rooms: [...s.rooms], data: s.data },
            fetchHandshake ? { handshake: s.handshake } : {},
          ),
        ),
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
    ...extraCommands,
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

module.exports = { out, exit, fatal, guard, decode, encode, adoptAuth, target, serve };
