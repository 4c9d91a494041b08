// Charts of the report pages: each <canvas data-chart="ID" data-type="bar|line|doughnut">
// draws the JSON in the <script type="application/json" id="ID"> (Django's json_script).
(function () {
  "use strict";
  var palette = ["#1f6feb", "#d29922", "#2da44e", "#cf222e", "#8250df", "#57606a", "#bf8700"];
  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var type = canvas.dataset.type || "bar";
    data.datasets.forEach(function (set, i) {
      if (type === "doughnut") {
        set.backgroundColor = set.data.map(function (_, j) { return palette[j % palette.length]; });
      } else {
        set.backgroundColor = palette[i % palette.length];
        set.borderColor = palette[i % palette.length];
      }
    });
    canvas.chart = new Chart(canvas, {
      type: type,
      data: data,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: type === "doughnut" ? {} : {
          x: { stacked: canvas.dataset.stacked === "true" },
          y: { stacked: canvas.dataset.stacked === "true", beginAtZero: true }
        }
      }
    });
    canvas.dataset.drawn = "true";
  }
  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
