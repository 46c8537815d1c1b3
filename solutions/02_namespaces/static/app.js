// Lesson 02 front end: two namespaces multiplexed over one connection (one Manager).
import { Manager } from "/vendor/socket.io.esm.min.js";
import { inspect } from "./inspector.js";

const $ = (id) => document.getElementById(id);
let chat = null;
let notifications = null;

function showError(text) {
  $("error").textContent = text;
}

function appendItem(list, name, text) {
  const item = document.createElement("li");
  if (name) {
    const who = document.createElement("span");
    who.className = "name";
    who.textContent = name;
    item.append(who);
  }
  item.append(text); // text node: never innerHTML with what users typed
  $(list).append(item);
}

function showMessage({ user, text }) {
  appendItem("messages", user, text);
}

function showHistory(messages) {
  $("messages").replaceChildren();
  messages.forEach(showMessage);
}

function signIn(token) {
  chat?.disconnect();
  notifications?.disconnect();
  showError("");
  // One Manager is one Engine.IO connection; each manager.socket() is a namespace on it.
  const manager = new Manager({ transports: ["polling", "websocket"] });
  chat = manager.socket("/chat", { auth: { token } });
  notifications = manager.socket("/notifications", { auth: { token } });
  [chat, notifications].forEach(inspect); // the event inspector under the page

  manager.on("open", () => {
    $("transport").textContent = manager.engine.transport.name;
    manager.engine.on("upgrade", (upgraded) => {
      $("transport").textContent = upgraded.name;
    });
  });

  // Goal: each time /chat connects, #status says "connected" and the page shows the history; a
  // refused connect says "refused" in #status and the server's reason in #error.
  // Constraint: an answer may never come, so never wait for one forever.
  // (make hint EX=2.7 if you are stuck.)
  // Exercise 2.7: show the history on join and the reason for a refusal.
  // BEGIN SOLUTION
  chat.on("connect", async () => {
    $("status").textContent = "connected";
    try {
      const reply = await chat.timeout(5000).emitWithAck("get_history");
      if (reply.ok) showHistory(reply.messages);
      else showError(`history: ${reply.error}`);
    } catch {
      showError("history: no answer within 5 s");
    }
  });
  chat.on("connect_error", (err) => {
    $("status").textContent = "refused";
    showError(err.message);
  });
  // END SOLUTION

  chat.on("disconnect", () => {
    $("status").textContent = "disconnected";
  });
  chat.on("message", showMessage);
  chat.on("error", ({ event, error }) => showError(`${event}: ${error}`));

  notifications.on("welcome", ({ user, online }) => {
    $("user").textContent = user;
    // The chat's count as this page connects: its own "joined" notice may have gone out
    // before /notifications was connected, and then this is the only count it gets.
    if (online !== undefined) $("online").textContent = online;
  });
  notifications.on("notice", ({ text, online }) => {
    appendItem("notices", "", text);
    $("online").textContent = online;
  });
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("token").value.trim());
});

$("chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!chat?.connected) {
    showError("sign in first");
    return;
  }
  try {
    const reply = await chat.timeout(5000).emitWithAck("send_message", { text: $("text").value });
    showError(reply.ok ? "" : `not sent: ${reply.error}`);
    if (reply.ok) $("text").value = "";
  } catch {
    showError("not sent: no answer within 5 s");
  }
});
