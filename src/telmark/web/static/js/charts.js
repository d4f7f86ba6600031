// Shared scaffolding for the console's chart pages (Apache ECharts, vendored): the JSON data
// block, number formatters, base options, chart instances that follow the window size, and
// drawing on load and again after an HTMX swap. Loaded after ECharts and before a page script;
// it uses ECharts only when a chart is made, so it may load on a page without charts.
(function () {
  "use strict";

  // Thirteen-plus distinguishable colours: a province has about 13 cities.
  const PALETTE = [
    "#1554b3", "#0e9f9a", "#f59f00", "#e0544b", "#7b61d1", "#2f9e44", "#d9480f",
    "#1c7ed6", "#c2255c", "#5c940d", "#0b7285", "#862e9c", "#495057", "#e67700",
  ];
  const MUTED = "#6b7487";

  // Intl.NumberFormat options shared by the pages; values arrive in display units (yuan).
  const FORMATS = {
    count: { maximumFractionDigits: 0 },
    compact: { notation: "compact", maximumFractionDigits: 1 },
    yuan: { style: "currency", currency: "CNY", maximumFractionDigits: 2 },
    compactYuan: {
      style: "currency", currency: "CNY", notation: "compact", maximumFractionDigits: 1,
    },
  };

  // The page's data, rendered by the server as <script type="application/json" id="...">.
  function readData(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // A formatter for Intl.NumberFormat options; scale divides first (100 turns 1.25 into
  // 1.25% for a percent style). Missing values ("-" is ECharts' empty cell) show as a dash.
  function formatter(locale, options, scale) {
    const format = new Intl.NumberFormat(locale, options);
    return function (value) {
      if (value === null || value === undefined || value === "-" || Number.isNaN(value)) {
        return "—";
      }
      return format.format(scale ? value / scale : value);
    };
  }

  // Options every chart starts from: colours (none: ECharts' own), the page font, animation.
  function base(palette) {
    const option = {
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      animationDuration: 400,
    };
    if (palette) {
      option.color = palette;
    }
    return option;
  }

  // The charts of one page: made in a DOM element (replacing any chart already there), resized
  // with the window, and disposed together before the page draws them again.
  function group() {
    let charts = [];
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
    return {
      make: function (id, data) {
        const element = document.getElementById(id);
        if (!element || typeof echarts === "undefined") {
          return null;
        }
        const previous = echarts.getInstanceByDom(element);
        if (previous) {
          previous.dispose();
        }
        const chart = echarts.init(element, null, { locale: data.echartsLocale });
        charts.push(chart);
        return chart;
      },
      clear: function () {
        charts.forEach(function (chart) { chart.dispose(); });
        charts = [];
      },
    };
  }

  // Run draw once the document is ready, and again whenever HTMX settles new content into the
  // element with id swapTarget (the swapped body brings its own data block).
  function onReady(draw, swapTarget) {
    if (swapTarget) {
      document.addEventListener("htmx:afterSettle", function (event) {
        if (event.detail && event.detail.target && event.detail.target.id === swapTarget) {
          draw();
        }
      });
    }
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", draw);
    } else {
      draw();
    }
  }

  window.TelmarkCharts = {
    PALETTE: PALETTE,
    MUTED: MUTED,
    FORMATS: FORMATS,
    readData: readData,
    formatter: formatter,
    base: base,
    group: group,
    onReady: onReady,
  };
})();
