// Job history charts: GET /api/admin/stats drawn as SVG bars (no library), refreshed live; hover shows numbers.
// Markup: <section id="history" data-stats-url="/api/admin/stats"> with a window and queue picker and
// <svg data-chart="throughput|failures">. Each bucket gets one transparent hit area carrying its numbers.
(function () {
  "use strict";
  var section = document.getElementById("history");
  if (!section) { return; }
  var SVG = "http://www.w3.org/2000/svg";
  var WIDTH = 640, HEIGHT = 140, PAD_LEFT = 40, PAD_BOTTOM = 18, PAD_TOP = 8;
  var refreshMs = parseInt(section.dataset.refreshMs, 10) || 5000;
  var tip = document.getElementById("chart-tip");
  var windowPicker = document.getElementById("history-window");
  var queuePicker = document.getElementById("history-queue");
  var baseUrl = section.dataset.statsUrl || "/api/admin/stats";
  var timer = null;
  var SERIES = {
    throughput: [{name: "processed", css: "bar-processed"}],
    failures: [{name: "failed", css: "bar-failed"}, {name: "retried", css: "bar-retried"}]
  };

  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  function clock(epochSeconds) {
    var d = new Date(epochSeconds * 1000);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  function describe(bucket) {
    return clock(bucket.t) + "  processed " + bucket.processed + " · failed " + bucket.failed + " · retried " +
      bucket.retried + " · p50 " + (bucket.p50_ms === null ? "-" : bucket.p50_ms + " ms") + " · p95 " +
      (bucket.p95_ms === null ? "-" : bucket.p95_ms + " ms");
  }

  function draw(svg, kind, data) {
    var buckets = data.buckets;
    var series = SERIES[kind];
    var top = 1;
    buckets.forEach(function (b) {
      var sum = 0;
      series.forEach(function (s) { sum += b[s.name]; });
      top = Math.max(top, sum);
    });
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + HEIGHT);
    var plotWidth = WIDTH - PAD_LEFT, plotHeight = HEIGHT - PAD_BOTTOM - PAD_TOP;
    var step = plotWidth / Math.max(1, buckets.length);
    var axis = el("g", {"class": "axis"});
    [0, 0.5, 1].forEach(function (fraction) {
      var y = PAD_TOP + plotHeight * (1 - fraction);
      axis.appendChild(el("line", {x1: PAD_LEFT, x2: WIDTH, y1: y, y2: y}));
      var label = el("text", {x: PAD_LEFT - 4, y: y + 4, "text-anchor": "end"});
      label.textContent = String(Math.round(top * fraction));
      axis.appendChild(label);
    });
    [0, Math.floor(buckets.length / 2), buckets.length - 1].forEach(function (index) {
      if (!buckets[index]) { return; }
      var last = index === buckets.length - 1;
      var label = el("text", {x: last ? WIDTH : PAD_LEFT + step * index, y: HEIGHT - 4,
                              "text-anchor": last ? "end" : "start"});
      label.textContent = clock(buckets[index].t);
      axis.appendChild(label);
    });
    svg.appendChild(axis);
    series.forEach(function (s, order) {
      var group = el("g", {"class": "series " + s.css, "data-series": s.name});
      buckets.forEach(function (b, index) {
        var below = 0;
        for (var i = 0; i < order; i++) { below += b[series[i].name]; }
        if (!b[s.name]) { return; }
        var height = plotHeight * b[s.name] / top;
        var y = PAD_TOP + plotHeight * (1 - below / top) - height;
        group.appendChild(el("rect", {x: PAD_LEFT + step * index + 0.5, y: y, width: Math.max(1, step - 1),
                                      height: height, "data-t": b.t, "data-value": b[s.name]}));
      });
      svg.appendChild(group);
    });
    var hits = el("g", {"class": "hits"});
    buckets.forEach(function (b, index) {
      var hit = el("rect", {x: PAD_LEFT + step * index, y: PAD_TOP, width: step, height: plotHeight,
                            "data-t": b.t, "data-processed": b.processed, "data-failed": b.failed,
                            "data-retried": b.retried});
      var title = el("title");
      title.textContent = describe(b);
      hit.appendChild(title);
      hit.addEventListener("mousemove", function (event) { showTip(event, b); });
      hit.addEventListener("mouseleave", function () { tip.hidden = true; });
      hits.appendChild(hit);
    });
    svg.appendChild(hits);
    var total = 0;
    buckets.forEach(function (b) { series.forEach(function (s) { total += b[s.name]; }); });
    svg.setAttribute("data-total", String(total));
  }

  function showTip(event, bucket) {
    tip.textContent = describe(bucket);
    tip.hidden = false;
    tip.style.left = (event.pageX + 12) + "px";
    tip.style.top = (event.pageY + 12) + "px";
  }

  function url() {
    var query = "?window=" + encodeURIComponent(windowPicker.value);
    if (queuePicker.value) { query += "&queue=" + encodeURIComponent(queuePicker.value); }
    return baseUrl + query;
  }

  function refresh() {
    return fetch(url(), {headers: {"Accept": "application/json"}, credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        section.querySelectorAll("svg[data-chart]").forEach(function (svg) {
          draw(svg, svg.dataset.chart, data);
        });
        section.dataset.bucketSeconds = String(data.bucket_seconds);
      })
      .catch(function () { /* the page's own status line says when the server is unreachable */ });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { refresh().then(schedule); }, refreshMs);
  }

  windowPicker.addEventListener("change", function () { refresh().then(schedule); });
  queuePicker.addEventListener("change", function () { refresh().then(schedule); });
  refresh().then(schedule);
})();
