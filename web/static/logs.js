// netkan: the live part of /logs/<uuid>. New lines arrive over Server-Sent Events
// (/logs/<uuid>/events) and are appended with textContent, never as HTML; the level
// filter only switches a CSS class. When the stream says the job's tree changed, the run
// view is fetched again from /logs/<uuid>/run: HTML our own templates rendered and escaped.
// Without JavaScript the page is complete but static.
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root) { return; }
  var id = root.dataset.job;
  var log = document.getElementById("log");
  var select = document.getElementById("level");
  var live = document.getElementById("live");
  var childCount = Number(root.dataset.children || 0);
  var treeSeen = "";

  select.addEventListener("change", function () {
    log.className = "log min-" + select.value;
    var url = new URL(window.location.href);
    if (select.value === "DEBUG") { url.searchParams.delete("level"); } else { url.searchParams.set("level", select.value); }
    window.history.replaceState(null, "", url);
  });

  function text(elementId, value) {
    var el = document.getElementById(elementId);
    if (el) { el.textContent = value; }
  }

  function when(iso) {
    return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—";
  }

  function setState(state) {
    var badge = document.getElementById("state");
    badge.textContent = state;
    badge.className = "state state-" + state;
  }

  // As views::visible_controls: control characters as their pictures, C1 controls and
  // bidirectional overrides as <U+XXXX>; tab and newline stay.
  function visibleControls(text) {
    return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, function (c) {
      var code = c.charCodeAt(0);
      if (code < 0x20) { return String.fromCharCode(0x2400 + code); }
      if (code === 0x7f) { return "\u2421"; }
      return "<U+" + code.toString(16).toUpperCase().padStart(4, "0") + ">";
    });
  }

  function appendLine(line) {
    var nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    var li = document.createElement("li");
    li.className = "l-" + line.level;
    li.dataset.cursor = line.cursor;
    var time = document.createElement("time");
    time.title = line.timestamp;
    time.textContent = line.timestamp.substring(11, 23);
    var level = document.createElement("span");
    level.className = "lvl";
    level.textContent = line.level;
    var message = document.createElement("span");
    message.className = "msg";
    message.textContent = visibleControls(line.message);
    li.appendChild(time);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(level);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(message);
    log.appendChild(li);
    document.getElementById("empty").hidden = true;
    if (nearBottom) { window.scrollTo(0, document.body.scrollHeight); }
  }

  function renderChildren(children) {
    var body = document.getElementById("children-body");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    children.forEach(function (c) {
      var tr = document.createElement("tr");
      var a = document.createElement("a");
      a.href = "/logs/" + c.jobId;
      var code = document.createElement("code");
      code.textContent = c.jobId;
      a.appendChild(code);
      var state = document.createElement("span");
      state.className = "state state-" + c.state;
      state.textContent = c.state;
      [a, document.createTextNode(c.jobType), state].forEach(function (node) {
        var td = document.createElement("td");
        td.appendChild(node);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    document.getElementById("children").hidden = children.length === 0;
    text("children-count", String(children.length));
  }

  function refresh() {
    fetch("/api/v1/jobs/" + id + "?limit=0", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        renderChildren(job.children);
      })
      .catch(function () { /* the next change retries */ });
  }

  function duration(ms) {
    if (ms < 1000) { return ms + "ms"; }
    if (ms < 60000) { return (ms / 1000).toFixed(1) + "s"; }
    var s = Math.floor(ms / 1000);
    if (s < 3600) { return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s"; }
    return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  }

  function refreshRun() {
    fetch("/logs/" + id + "/run", { headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var run = document.getElementById("run");
        if (!html || !run) { return; }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#run");
        if (fresh) { run.replaceWith(fresh); }
      })
      .catch(function () { /* the next change retries */ });
  }

  function update(meta) {
    setState(meta.state);
    if (meta.finished) { text("notice", "Job finished: " + meta.state); }
    var tree = [meta.state, meta.treeJobs, meta.treePending, meta.treeFailed].join("/");
    if (tree !== treeSeen) { refreshRun(); }
    treeSeen = tree;
    if (meta.startedAt && meta.finishedAt) {
      text("duration", duration(Date.parse(meta.finishedAt) - Date.parse(meta.startedAt)));
    }
    text("started", when(meta.startedAt));
    text("finished", when(meta.finishedAt));
    text("attempts", String(meta.attempts));
    if (meta.children !== childCount || meta.finished) {
      childCount = meta.children;
      refresh();
    }
  }

  if (root.dataset.finished === "true" || !window.EventSource) { return; }
  var after = root.dataset.after;
  var events = new EventSource("/logs/" + id + "/events" + (after !== "" ? "?after=" + after : ""));
  live.textContent = "● live";
  events.addEventListener("line", function (e) { appendLine(JSON.parse(e.data)); });
  events.addEventListener("meta", function (e) { update(JSON.parse(e.data)); });
  events.addEventListener("end", function (e) {
    var meta = JSON.parse(e.data);
    events.close();
    update(meta);
    refreshRun();
    live.textContent = "";
    root.dataset.finished = "true";
  });
  events.addEventListener("open", function () { live.textContent = "● live"; });
  events.addEventListener("error", function () {
    if (root.dataset.finished !== "true") { live.textContent = "reconnecting…"; }
  });
})();
