// The job finder: a row opens its detail (GET /api/admin/jobs/{id}); bulk buttons ask POST /api/admin/bulk for
// the count, show it for confirmation, then start the bulk job and follow its progress. Text only, never HTML.
(function () {
  "use strict";
  var csrfHeader = document.body.dataset.csrfHeader || "X-Requested-With";
  var panel = document.getElementById("job-detail");
  var form = document.getElementById("job-filters");
  var confirmBox = document.getElementById("bulk-confirm");
  var question = document.getElementById("bulk-question");
  var progressBox = document.getElementById("bulk-progress");
  var pending = null;

  function node(tag, text, cls) {
    var el = document.createElement(tag);
    if (text !== undefined && text !== null) { el.textContent = String(text); }
    if (cls) { el.className = cls; }
    return el;
  }

  function when(seconds) {
    return seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) : "-";
  }

  function fields(list, pairs) {
    pairs.forEach(function (pair) {
      list.appendChild(node("dt", pair[0]));
      list.appendChild(node("dd", pair[1] === null || pair[1] === undefined ? "-" : pair[1]));
    });
  }

  function showDetail(job) {
    panel.textContent = "";
    panel.dataset.jobId = job.id;
    panel.appendChild(node("h2", "Job " + job.id));
    var facts = node("dl");
    fields(facts, [["type", job.type], ["actor", job.actor], ["business", job.business_id], ["queue", job.queue],
                   ["status", job.status], ["progress", job.progress.processed + "/" + job.progress.total + " (" +
                    job.progress.percent + "%)"], ["attempts", job.attempts], ["worker", job.worker],
                   ["created", job.created_at], ["started", job.started_at], ["finished", job.finished_at],
                   ["error", job.error]]);
    panel.appendChild(facts);
    panel.appendChild(node("h3", "Arguments (admins only)"));
    panel.appendChild(node("pre", JSON.stringify(job.args, null, 2), "job-args"));
    panel.appendChild(node("h3", "Attempts"));
    if (job.attempt_history.length === 0) {
      panel.appendChild(node("p", "No attempt recorded (kept 7 days).", "empty"));
    } else {
      var table = node("table", null, "attempts");
      var head = node("tr");
      ["#", "worker", "start", "end", "outcome", "error"].forEach(function (h) { head.appendChild(node("th", h)); });
      table.appendChild(head);
      job.attempt_history.forEach(function (a) {
        var row = node("tr");
        [a.attempt, a.worker, when(a.started_at), when(a.finished_at), a.outcome, a.error || ""].forEach(
          function (v, i) { row.appendChild(node("td", v, i === 5 ? "error-text" : "")); });
        table.appendChild(row);
      });
      panel.appendChild(table);
    }
    panel.appendChild(node("h3", "Dead letter"));
    if (job.dead_letter) {
      var letter = node("dl", null, "dead-letter");
      fields(letter, [["message", job.dead_letter.message_id], ["reason", job.dead_letter.reason],
                      ["error", job.dead_letter.error]]);
      panel.appendChild(letter);
    } else {
      panel.appendChild(node("p", "None.", "empty"));
    }
    panel.hidden = false;
  }

  function openJob(row) {
    document.querySelectorAll("tr.selected").forEach(function (r) { r.classList.remove("selected"); });
    row.classList.add("selected");
    fetch("/api/admin/jobs/" + encodeURIComponent(row.dataset.jobId),
          {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(showDetail);
  }

  document.addEventListener("click", function (event) {
    var row = event.target.closest("tr[data-job-id]");
    if (row && row.closest("#results")) { openJob(row); }
  });
  document.addEventListener("keydown", function (event) {
    var row = event.target.closest && event.target.closest("tr[data-job-id]");
    if (row && event.key === "Enter") { openJob(row); }
  });

  function currentFilter() {
    var filter = {};
    new FormData(form).forEach(function (value, key) {
      if (value === "") { return; }
      filter[key] = key === "business_id" ? parseInt(value, 10) : value;
    });
    return filter;
  }

  function bulkBody(action, confirm) {
    var filter = currentFilter();
    var body = {action: action, confirm: confirm};
    if (action === "retry_failed") { delete filter.status; body.filter = filter; }
    if (action === "cancel_queued") { body.business_id = filter.business_id; }
    if (action === "requeue_dead_letters" || action === "purge_dead_letters") { body.queue = filter.queue; }
    return body;
  }

  function post(body) {
    var headers = {"Content-Type": "application/json", "Accept": "application/json"};
    headers[csrfHeader] = "prosaas-dashboard";
    return fetch("/api/admin/bulk", {method: "POST", headers: headers, credentials: "same-origin",
                                     body: JSON.stringify(body)})
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) { throw new Error(data.description || data.title || response.status); }
          return data;
        });
      });
  }

  function follow(jobId) {
    progressBox.hidden = false;
    var bar = progressBox.querySelector("progress");
    var status = document.getElementById("bulk-status");
    progressBox.dataset.jobId = jobId;
    function poll() {
      fetch("/api/admin/jobs/" + jobId, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (job) {
          bar.value = job.progress.percent;
          progressBox.dataset.status = job.status;
          status.textContent = "bulk job " + jobId.slice(0, 12) + ": " + job.status + " · " +
            job.progress.processed + "/" + job.progress.total;
          if (["completed", "failed", "cancelled"].indexOf(job.status) < 0) { window.setTimeout(poll, 1000); }
        });
    }
    poll();
  }

  document.querySelectorAll("button[data-bulk]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.dataset.bulk;
      post(bulkBody(action, false)).then(function (data) {
        pending = action;
        confirmBox.dataset.count = String(data.count);
        question.textContent = action.replace(/_/g, " ") + ": " + data.count + " affected. Go on?";
        confirmBox.hidden = false;
      }).catch(function (error) {
        question.textContent = "refused: " + error.message;
        confirmBox.hidden = false;
      });
    });
  });
  document.getElementById("bulk-abort").addEventListener("click", function () {
    pending = null;
    confirmBox.hidden = true;
  });
  document.getElementById("bulk-go").addEventListener("click", function () {
    if (!pending) { return; }
    var action = pending;
    pending = null;
    confirmBox.hidden = true;
    post(bulkBody(action, true)).then(function (data) { follow(data.job_id); }).catch(function (error) {
      question.textContent = "refused: " + error.message;
      confirmBox.hidden = false;
    });
  });
})();
