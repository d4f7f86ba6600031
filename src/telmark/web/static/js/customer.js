// Customer 360 usage charts (Apache ECharts, vendored): ARPU, data, voice and dropped calls by
// month. The server renders the series as a JSON block (#customer-data); nothing is fetched.
(function () {
  "use strict";

  const MUTED = "#6b7487";
  const GRID = { left: 8, right: 20, top: 24, bottom: 8, containLabel: true };
  const CHARTS = [
    { id: "chart-arpu", key: "arpuYuan", label: "arpu", color: "#1554b3", type: "line", money: true },
    { id: "chart-data", key: "dataMb", label: "data", color: "#0e9f9a", type: "bar" },
    { id: "chart-voice", key: "voiceMin", label: "voice", color: "#7b61d1", type: "bar" },
    { id: "chart-dropped", key: "droppedCalls", label: "dropped", color: "#e0544b", type: "bar" },
  ];
  let charts = [];

  function readData() {
    const node = document.getElementById("customer-data");
    return node ? JSON.parse(node.textContent) : null;
  }

  function formatter(locale, options) {
    const format = new Intl.NumberFormat(locale, options);
    return function (value) {
      if (value === null || value === undefined || Number.isNaN(value)) {
        return "—";
      }
      return format.format(value);
    };
  }

  function draw(spec, data) {
    const element = document.getElementById(spec.id);
    if (!element) {
      return;
    }
    const previous = echarts.getInstanceByDom(element);
    if (previous) {
      previous.dispose();
    }
    const chart = echarts.init(element, null, { locale: data.echartsLocale });
    charts.push(chart);
    const fmt = spec.money
      ? formatter(data.locale, { style: "currency", currency: "CNY", maximumFractionDigits: 2 })
      : formatter(data.locale, { maximumFractionDigits: 0 });
    chart.setOption({
      color: [spec.color],
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      animationDuration: 400,
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
    });
  }

  function drawAll() {
    charts.forEach(function (chart) { chart.dispose(); });
    charts = [];
    const data = readData();
    if (!data || typeof echarts === "undefined") {
      return;
    }
    CHARTS.forEach(function (spec) { draw(spec, data); });
  }

  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
