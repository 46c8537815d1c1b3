// The Node socket.io 4.8 reference server of the lesson 04 benchmark.
//
// It behaves like solutions/04_production for the bench's load client: namespace /chat with a
// token in the auth dict (refused without one), "send_message" stores nothing but numbers the
// message, broadcasts "message" to everyone on /chat and acknowledges {ok, id}, and a connect
// announces a "notice" on /notifications. Broadcasts go through Redis with the
// @socket.io/redis-adapter, as the course's go through python-socketio's Redis manager.
// Configuration comes from the same environment variables as the course app:
//   BIND (host:port), REDIS_URL, CHAT_TOKENS ("token:user,..."), PING_INTERVAL (seconds).
// Everything else is socket.io's default (perMessageDeflate off, as shipped).

const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const [host, port] = (process.env.BIND || "127.0.0.1:8000").split(":");
const tokens = new Map(
  (process.env.CHAT_TOKENS || "alice-dev-token:alice,bob-dev-token:bob")
    .split(",")
    .filter((pair) => pair.includes(":"))
    .map((pair) => pair.split(":", 2)),
);
const MAX_MESSAGE_LENGTH = 500;

async function main() {
  const pub = createClient({ url: process.env.REDIS_URL || "redis://127.0.0.1:6379/0" });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    pingInterval: 1000 * Number(process.env.PING_INTERVAL || 25),
    adapter: createAdapter(pub, sub),
  });
  const chat = io.of("/chat");
  const notifications = io.of("/notifications");
  const online = new Map(); // user -> connections on /chat, like the course's Presence rows
  let lastId = 0;

  chat.use((socket, next) => {
    const user = tokens.get(socket.handshake.auth && socket.handshake.auth.token);
    if (!user) return next(new Error("invalid token"));
    socket.data.user = user;
    next();
  });

  chat.on("connection", (socket) => {
    const { user } = socket.data;
    online.set(user, (online.get(user) || 0) + 1);
    notifications.emit("notice", { text: `${user} joined the chat`, user, online: online.size });

    socket.on("send_message", (data, ack) => {
      const reply = typeof ack === "function" ? ack : () => {};
      const text = data && typeof data.text === "string" ? data.text.trim() : "";
      if (!text || text.length > MAX_MESSAGE_LENGTH) {
        return reply({ ok: false, error: `text must be 1 to ${MAX_MESSAGE_LENGTH} characters` });
      }
      const message = { id: ++lastId, user, text, sent_at: Date.now() / 1000 };
      chat.emit("message", message);
      reply({ ok: true, id: message.id });
    });

    socket.on("disconnect", () => {
      const left = (online.get(user) || 1) - 1;
      if (left) online.set(user, left);
      else online.delete(user);
      notifications.emit("notice", { text: `${user} left the chat`, user, online: online.size });
    });
  });

  httpServer.listen(Number(port), host, () => console.log(`listening on ${host}:${port}`));
  process.on("SIGTERM", () => {
    io.close();
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
