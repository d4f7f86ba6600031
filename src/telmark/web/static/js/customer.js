// Customer 360 usage charts (Apache ECharts, vendored): ARPU, data, voice and dropped calls by
// month. The server renders the series as a JSON block (#customer-data); nothing is fetched.
(function () {
  "use strict";

  const TC = window.TelmarkCharts;
  const MUTED = TC.MUTED;
  const GRID = { left: 8, right: 20, top: 24, bottom: 8, containLabel: true };
  const CHARTS = [
    { id: "chart-arpu", key: "arpuYuan", label: "arpu", color: "#1554b3", type: "line", money: true },
    { id: "chart-data", key: "dataMb", label: "data", color: "#0e9f9a", type: "bar" },
    { id: "chart-voice", key: "voiceMin", label: "voice", color: "#7b61d1", type: "bar" },
    { id: "chart-dropped", key: "droppedCalls", label: "dropped", color: "#e0544b", type: "bar" },
  ];
  const charts = TC.group();

  function draw(spec, data) {
    const chart = charts.make(spec.id, data);
    if (!chart) {
      return;
    }
    const fmt = spec.money
      ? TC.formatter(data.locale, TC.FORMATS.yuan)
      : TC.formatter(data.locale, TC.FORMATS.count);
    chart.setOption(Object.assign(TC.base([spec.color]), {
      tooltip: { trigger: "axis", valueFormatter: fmt, confine: true },
      grid: GRID,
      xAxis: {
        type: "category", data: data.monthLabels, boundaryGap: spec.type === "bar",
        axisLabel: { color: MUTED },
      },
      yAxis: { type: "value", minInterval: 1, axisLabel: { formatter: fmt, color: MUTED } },
      series: [{
        name: data.labels[spec.label],
        type: spec.type,
        data: data[spec.key],
        symbolSize: 7,
        barMaxWidth: 28,
        lineStyle: { width: 3 },
        itemStyle: spec.type === "bar" ? { borderRadius: [4, 4, 0, 0] } : {},
      }],
    }));
  }

  function drawAll() {
    charts.clear();
    const data = TC.readData("customer-data");
    if (!data || typeof echarts === "undefined") {
      return;
    }
    CHARTS.forEach(function (spec) { draw(spec, data); });
  }

  TC.onReady(drawAll);
})();
