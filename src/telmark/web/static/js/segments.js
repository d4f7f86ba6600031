// Segment pages: the builder's keyboard handling, and the charts of the detail and overlap
// pages (Apache ECharts, vendored). Chart data arrives as JSON blocks rendered by the server:
// #segment-data in the insights fragment (loaded by HTMX after the page), #overlap-data.
(function () {
  "use strict";

  // Enter in a builder field would submit (save) the whole form: apply the field instead.
  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (event.key !== "Enter" || !(target instanceof HTMLInputElement)) {
      return;
    }
    if (target.closest("#builder")) {
      event.preventDefault();
      target.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  const TC = window.TelmarkCharts;
  if (!TC) {
    return; // the builder page loads no charts
  }
  const charts = TC.group();
  const lang = document.documentElement.lang || undefined;
  const count = TC.formatter(lang, TC.FORMATS.count);
  const pct = function (v) {
    return v === null || v === undefined ? "—" : v.toFixed(1) + "%";
  };

  function drawTrend(data) {
    const chart = charts.make("segment-trend", data);
    if (!chart) {
      return;
    }
    chart.setOption(Object.assign(TC.base(TC.PALETTE), {
      tooltip: { trigger: "axis", valueFormatter: count },
      grid: { left: 8, right: 20, top: 20, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.trend.months, axisLabel: { color: TC.MUTED } },
      yAxis: { type: "value", axisLabel: { color: TC.MUTED, formatter: count } },
      series: [{
        name: data.labels.members, type: "line", data: data.trend.counts, symbolSize: 7,
        areaStyle: { opacity: 0.12 }, lineStyle: { width: 3 },
      }],
    }));
  }

  function drawProfile(data, dim) {
    const chart = charts.make(dim.id, data);
    if (!chart) {
      return;
    }
    chart.setOption(Object.assign(TC.base([TC.PALETTE[0], "#c3cfe2"]), {
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: function (items) {
          const i = items[0].dataIndex;
          const index = dim.index[i];
          return dim.buckets[i] + "<br>" + data.labels.segment + ": " + pct(dim.segment[i]) +
            "<br>" + data.labels.base + ": " + pct(dim.base[i]) +
            "<br>" + data.labels.index + ": " + (index === null ? "—" : index);
        },
      },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: {
        type: "category", data: dim.buckets,
        axisLabel: { color: TC.MUTED, interval: 0, rotate: dim.buckets.length > 6 ? 30 : 0 },
      },
      yAxis: { type: "value", axisLabel: { color: TC.MUTED, formatter: "{value}%" } },
      series: [
        {
          name: data.labels.segment, type: "bar", data: dim.segment, barGap: "10%",
          label: {
            show: dim.buckets.length <= 8, position: "top", fontSize: 10, color: TC.MUTED,
            formatter: function (p) {
              const index = dim.index[p.dataIndex];
              return index === null ? "" : String(index);
            },
          },
        },
        { name: data.labels.base, type: "bar", data: dim.base },
      ],
    }));
  }

  function drawInsights() {
    const data = TC.readData("segment-data");
    if (!data) {
      return;
    }
    drawTrend(data);
    data.profile.forEach(function (dim) { drawProfile(data, dim); });
  }

  function drawOverlap() {
    const data = TC.readData("overlap-data");
    const chart = data ? charts.make("overlap-heatmap", data) : null;
    if (!chart) {
      return;
    }
    const cells = [];
    let top = 0;
    data.intersections.forEach(function (row, i) {
      row.forEach(function (value, j) {
        cells.push([j, i, value]);
        if (i !== j) {
          top = Math.max(top, value);
        }
      });
    });
    chart.setOption(Object.assign(TC.base(), {
      tooltip: {
        formatter: function (p) {
          const i = p.value[1];
          const j = p.value[0];
          const jaccard = data.jaccard[i][j];
          return data.names[i] + " ∩ " + data.names[j] + "<br>" + data.labels.members + ": " +
            count(p.value[2]) + "<br>" + data.labels.jaccard + ": " +
            (jaccard === null ? "—" : jaccard.toFixed(3));
        },
      },
      grid: { left: 8, right: 8, top: 8, bottom: 56, containLabel: true },
      xAxis: { type: "category", data: data.names, axisLabel: { interval: 0, rotate: 20 } },
      yAxis: { type: "category", data: data.names, inverse: true },
      visualMap: {
        min: 0, max: Math.max(top, 1), calculable: true, orient: "horizontal",
        left: "center", bottom: 0, inRange: { color: ["#f3f7fd", "#1554b3"] },
      },
      series: [{
        type: "heatmap", data: cells, label: { show: true, formatter: function (p) { return count(p.value[2]); } },
        emphasis: { itemStyle: { borderColor: "#333", borderWidth: 1 } },
      }],
    }));
  }

  TC.onReady(drawInsights, "segment-insights");
  TC.onReady(drawOverlap);
})();
