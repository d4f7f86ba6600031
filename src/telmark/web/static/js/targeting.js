// A targeting run's funnel (Apache ECharts, vendored): how many (case, subscriber) pairs remain
// after each step, one bar series per case plus all cases together. The server renders the
// counts as a JSON block (#funnel-data).
(function () {
  "use strict";

  const TC = window.TelmarkCharts;
  const charts = TC.group();

  function draw() {
    charts.clear();
    const data = TC.readData("funnel-data");
    if (!data || typeof echarts === "undefined") {
      return;
    }
    const chart = charts.make("funnel-chart", data);
    if (!chart) {
      return;
    }
    const count = TC.formatter(data.locale, TC.FORMATS.count);
    const compact = TC.formatter(data.locale, TC.FORMATS.compact);
    chart.setOption(Object.assign(TC.base(TC.PALETTE), {
      tooltip: { trigger: "axis", valueFormatter: count, confine: true },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.steps, axisLabel: { color: TC.MUTED, interval: 0 } },
      yAxis: { type: "value", axisLabel: { formatter: compact, color: TC.MUTED } },
      series: data.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.counts };
      }),
    }));
  }

  TC.onReady(draw);
})();
