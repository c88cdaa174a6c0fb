// edgebench report charts: keep every chart as wide as its box.
// Plotly draws a chart at the width its box has when the chart's script runs. In a grid of
// charts that is too early: the first chart is drawn before its neighbours exist and keeps the
// width of the whole row. Plotly's own `responsive` option only follows the window's size, not
// the box's, so each chart is watched and redrawn whenever its box and its drawing disagree.
(function () {
  "use strict";

  function fit(chart) {
    var layout = chart._fullLayout;
    if (!window.Plotly || !layout || chart.offsetParent === null) return;
    if (Math.abs(layout.width - chart.getBoundingClientRect().width) > 1) {
      window.Plotly.Plots.resize(chart);
    }
  }

  function init() {
    var charts = Array.prototype.slice.call(document.querySelectorAll(".plotly-graph-div"));
    if (typeof ResizeObserver !== "undefined") {
      var observer = new ResizeObserver(function (entries) {
        entries.forEach(function (entry) { fit(entry.target); });
      });
      charts.forEach(function (chart) { observer.observe(chart); });
    }
    window.addEventListener("load", function () { charts.forEach(fit); });
    charts.forEach(fit);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
