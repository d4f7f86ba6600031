// An offer's economics chart (Apache ECharts, vendored): one taker's cumulative contribution by
// month, starting at minus the net incentive cost and crossing zero at the payback month. The
// server renders the series as a JSON block (#economics-data); the editor's preview swaps a new
// block into #economics-preview, and the chart is drawn again after each swap.
(function () {
  "use strict";

  const TC = window.TelmarkCharts;
  const GOOD = "#15803d";
  const charts = TC.group();

  function draw() {
    charts.clear();
    const data = TC.readData("economics-data");
    if (!data || typeof echarts === "undefined") {
      return;
    }
    const chart = charts.make("economics-chart", data);
    if (!chart) {
      return;
    }
    const money = TC.formatter(data.locale, TC.FORMATS.yuan);
    const compact = TC.formatter(data.locale, TC.FORMATS.compactYuan);
    const series = {
      name: data.labels.cumulative,
      type: "line",
      data: data.cumulativeYuan,
      symbol: "none",
      lineStyle: { width: 3 },
      areaStyle: { opacity: 0.12 },
    };
    if (data.payback !== null && data.payback > 0) {
      series.markLine = {
        silent: true,
        symbol: "none",
        label: { formatter: data.labels.payback + " " + data.payback, color: GOOD },
        lineStyle: { color: GOOD, type: "dashed" },
        data: [{ xAxis: data.payback }],
      };
    }
    chart.setOption(Object.assign(TC.base([TC.PALETTE[0]]), {
      tooltip: { trigger: "axis", valueFormatter: money, confine: true },
      grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
      xAxis: {
        type: "category", name: data.labels.month, data: data.months.map(String),
        boundaryGap: false, axisLabel: { color: TC.MUTED },
      },
      yAxis: { type: "value", axisLabel: { formatter: compact, color: TC.MUTED } },
      series: [series],
    }));
  }

  TC.onReady(draw, "economics-preview");
})();
