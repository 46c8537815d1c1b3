// Lesson 04 front end: lesson 03's page, connecting the way a load-balanced deployment needs.
import { Manager } from "/vendor/socket.io.esm.min.js";
import { inspect, setInstance } from "./inspector.js";

const $ = (id) => document.getElementById(id);
let chat = null;
let notifications = null;
let reports = null;
let currentId = sessionStorage.getItem("report_id"); // the report this page follows
let shown = null; // the newest state of it on the page
let lastEventAt = 0;
const STALE_MS = 3000; // a running report silent this long is asked for again (resync)

const RANK = { queued: 0, running: 1, done: 2, failed: 2 };
const finished = (report) => report.state === "done" || report.state === "failed";
// Events can arrive twice or out of order around a resync: never step backwards.
const isOlder = (report, than) =>
  RANK[report.state] < RANK[than.state] ||
  (RANK[report.state] === RANK[than.state] && report.percent < than.percent);

function showReport(report) {
  // Goal: the page shows the current report's progress (#report-progress, #report-percent as
  // "40%"), its state (#report-state) and, once done, its result in #report-result (its error
  // once it has failed).
  // Constraint: around a resync, events come twice or out of order: never show another report
  // or step backwards, and keep `shown` and `lastEventAt` current.
  // (make hint EX=3.5 if you are stuck.)
  // Exercise 3.5: show the report's progress and result on the page.
  // BEGIN SOLUTION
  if (!report || report.report_id !== currentId) return;
  if (shown && isOlder(report, shown)) return;
  shown = report;
  lastEventAt = Date.now();
  $("report-progress").value = report.percent;
  $("report-percent").textContent = `${report.percent}%`;
  $("report-state").textContent = report.state;
  if (report.state === "done") {
    const { messages, by_user, built_by } = report.result;
    const users = Object.keys(by_user).length;
    $("report-result").textContent =
      `${report.title}: ${messages} chat messages from ${users} users ` +
      `(built by worker pid ${built_by.pid} on ${built_by.host})`;
  } else if (report.state === "failed") {
    $("report-result").textContent = `failed: ${report.result?.error}`;
  } else {
    $("report-result").textContent = "";
  }
  // END SOLUTION
}

async function watchReport() {
  // Join the report's room (again) and show the state the server holds now.
  if (!reports?.connected || !currentId) return;
  lastEventAt = Date.now();
  try {
    const reply = await reports.timeout(5000).emitWithAck("watch", { report_id: currentId });
    if (reply.ok) showReport(reply.report);
    else showError(`watch: ${reply.error}`);
  } catch {
    showError("watch: no answer within 5 s");
  }
}

setInterval(() => {
  if (currentId && !(shown && finished(shown)) && Date.now() - lastEventAt > STALE_MS) {
    watchReport();
  }
}, 1000);

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

function connectionOptions() {
  // Goal: the page opens a websocket straight away and never long-polls.
  // Constraint: behind a load balancer each HTTP request may reach another instance, and
  // long-polling is many requests for one session; one websocket stays on the instance that
  // accepted it. (make hint EX=4.4 if you are stuck.)
  // Exercise 4.4: connect with websocket only.
  // BEGIN SOLUTION
  return { transports: ["websocket"] };
  // END SOLUTION
}

function signIn(token) {
  chat?.disconnect();
  notifications?.disconnect();
  reports?.disconnect();
  showError("");
  // One Manager is one Engine.IO connection; each manager.socket() is a namespace on it.
  const manager = new Manager(connectionOptions());
  chat = manager.socket("/chat", { auth: { token } });
  notifications = manager.socket("/notifications", { auth: { token } });
  reports = manager.socket("/reports", { auth: { token } });
  [chat, notifications, reports].forEach(inspect); // the event inspector under the page

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

  // Goal: every "progress", "result" and "failed" event of the report is shown, and after every
  // connect, the first and each reconnect, the page shows the report's state again.
  // Constraint: events sent while the page was away are gone for good; only the server's state
  // is not. (make hint EX=3.5 if you are stuck.)
  // Exercise 3.5: listen for the worker's events and resync on every connect.
  // BEGIN SOLUTION
  reports.on("progress", showReport);
  reports.on("result", showReport);
  reports.on("failed", showReport);
  reports.on("connect", watchReport);
  // END SOLUTION
  reports.on("error", ({ event, error }) => showError(`${event}: ${error}`));
  reports.on("connect", () => {
    $("start-report").disabled = false;
  });
  reports.on("disconnect", () => {
    $("start-report").disabled = true;
  });

  notifications.on("welcome", ({ user, served_by, online }) => {
    $("user").textContent = user;
    $("instance").textContent = served_by;
    setInstance(served_by);
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

$("report-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!reports?.connected) {
    showError("sign in first");
    return;
  }
  try {
    const reply = await reports
      .timeout(5000)
      .emitWithAck("start_report", { title: $("report-title").value });
    if (!reply.ok) {
      showError(`report: ${reply.error}`);
      return;
    }
    showError("");
    currentId = reply.report.report_id;
    sessionStorage.setItem("report_id", currentId);
    shown = null;
    showReport(reply.report);
  } catch {
    showError("report: no answer within 5 s");
  }
});
