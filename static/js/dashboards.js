// Finance dashboards: draws each chart with the vendored Chart.js from the data the page passes with
// json_script (the CSP allows no inline script). A click on a bar or point opens the claims behind it;
// the table under each chart has the same links for keyboards, screen readers and script-less browsers.
(() => {
  const source = document.getElementById("dashboard-data");
  if (!source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const styles = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => styles.getPropertyValue(name).trim() || fallback;
  const palette = [colour("--bs-primary", "#0d6efd"), colour("--bs-warning", "#ffc107")];
  const gridColour = colour("--bs-border-color", "#dee2e6");
  const textColour = colour("--bs-secondary-color", "#6c757d");
  const locale = document.documentElement.lang || undefined;
  const numberFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });

  function config(chart) {
    const horizontal = chart.kind === "hbar";
    const line = chart.kind === "line";
    return {
      type: line ? "line" : "bar",
      data: {
        labels: chart.labels,
        datasets: chart.series.map((series, index) => ({
          label: series.label,
          data: series.data,
          backgroundColor: palette[index % palette.length],
          borderColor: palette[index % palette.length],
          borderWidth: line ? 2 : 0,
          maxBarThickness: 48,
          pointRadius: line ? 4 : undefined,
          pointHoverRadius: line ? 6 : undefined,
          spanGaps: true,
        })),
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "nearest", intersect: !line, axis: horizontal ? "y" : "x" },
        plugins: {
          legend: { display: chart.series.length > 1, labels: { color: textColour } },
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label}: ${numberFormat.format(item.parsed[horizontal ? "x" : "y"])}`,
            },
          },
        },
        scales: {
          x: { grid: { color: gridColour }, ticks: { color: textColour }, beginAtZero: horizontal },
          y: { grid: { color: gridColour }, ticks: { color: textColour }, beginAtZero: !horizontal },
        },
        onHover: (event, elements) => {
          event.native.target.style.cursor = elements.length && chart.links[elements[0].index] ? "pointer" : "default";
        },
        onClick: (event, elements) => {
          if (!elements.length) return;
          const link = chart.links[elements[0].index];
          if (link) window.location.assign(link);
        },
      },
    };
  }

  data.charts.forEach((chart) => {
    const canvas = document.querySelector(`canvas[data-chart="${chart.id}"]`);
    if (canvas) new window.Chart(canvas, config(chart));
  });
})();
