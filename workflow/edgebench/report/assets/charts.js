// edgebench report charts: draw every chart once the page is laid out, as wide as its box, and
// keep it so. Each chart is an empty div and its figure as JSON (page.Charts). This script runs
// at the end of the page, when every box has its final width; a chart drawn by its own inline
// script would take the width its box had while the page was still being read (in a row of
// charts, the whole row) and stay cut at the right edge until a redraw. Plotly's `responsive`
// option only follows the window's size, not the box's, so each chart is also watched and
// redrawn whenever its box and its drawing disagree (a window resized, a details box opened).
(function () {
  "use strict";

  function fit(chart) {
    var layout = chart._fullLayout;
    if (!window.Plotly || !layout || chart.offsetParent === null) return;
    if (Math.abs(layout.width - chart.getBoundingClientRect().width) > 1) {
      window.Plotly.Plots.resize(chart);
    }
  }

  function draw(spec) {
    var chart = document.getElementById(spec.getAttribute("data-figure"));
    var figure = JSON.parse(spec.textContent);
    window.Plotly.newPlot(chart, figure.data, figure.layout, figure.config);
    return chart;
  }

  function init() {
    var specs = document.querySelectorAll("script[data-figure]");
    var charts = Array.prototype.map.call(specs, draw);
    if (typeof ResizeObserver !== "undefined") {
      var observer = new ResizeObserver(function (entries) {
        entries.forEach(function (entry) { fit(entry.target); });
      });
      charts.forEach(function (chart) { observer.observe(chart); });
    }
    window.addEventListener("load", function () { charts.forEach(fit); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
