// A bare `ws` server, the Node.js floor of the benchmark: a message whose first byte is `b` is
// sent to every client, any other message is echoed: `node ws-server.js <port>`.
"use strict";

const { WebSocketServer } = require("ws");

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    if (data[0] === 0x62) {
      for (const client of wss.clients) client.send(data, { binary: isBinary });
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
});
wss.on("listening", () => console.log(`ws listening on 127.0.0.1:${port}`));
