// Time charts of Santé, Statistiques and Matériel, drawn with uPlot in place
// of the server-rendered SVG (web/charts.py): text at its real size whatever
// the width, and a tooltip under the pointer, or the finger (a tap moves the
// cursor). The <details> table of each chart stays for screen readers.
// Nothing here sets a style attribute from markup: uPlot and this file only set
// element.style properties, which the CSP allows.
(() => {
  "use strict";

  const pad = (n) => String(n).padStart(2, "0");

  function when(seconds, hourly, withDay) {
    const d = new Date(seconds * 1000);
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    const day = `${pad(d.getDate())}/${pad(d.getMonth() + 1)}`;
    if (hourly && !withDay) return time;
    return withDay ? `${day}/${d.getFullYear()} ${time}` : `${day}`;
  }

  // French number: decimal comma, narrow no-break space between thousands.
  function number(value, decimals) {
    if (value === null || value === undefined) return "—";
    let fixed = Math.abs(value).toFixed(decimals);
    if (fixed.includes(".")) fixed = fixed.replace(/\.?0+$/, ""); // no useless ",0"
    const [whole, fraction] = fixed.split(".");
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
    return `${value < 0 ? "-" : ""}${grouped}${fraction ? `,${fraction}` : ""}`;
  }

  // A CSS class's colour as rgba() (Tailwind's colours are oklch(): resolved
  // through a 1-pixel canvas so any canvas takes them, and alpha can be set).
  const pixel = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  function colourOf(className, alpha = 1) {
    const probe = document.createElement("span");
    probe.className = className;
    probe.hidden = true;
    document.body.append(probe);
    const colour = getComputedStyle(probe).color;
    probe.remove();
    pixel.clearRect(0, 0, 1, 1);
    pixel.fillStyle = colour;
    pixel.fillRect(0, 0, 1, 1);
    const [r, g, b] = pixel.getImageData(0, 0, 1, 1).data;
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }

  function withUnit(text, unit) {
    return unit ? `${text} ${unit}` : text;
  }

  function tooltipPlugin(data) {
    let tip;
    return {
      hooks: {
        init(u) {
          tip = document.createElement("div");
          tip.className = "chart-tooltip";
          tip.setAttribute("role", "status");
          tip.hidden = true;
          u.over.append(tip);
          u.over.addEventListener("mouseleave", () => { tip.hidden = true; });
        },
        setCursor(u) {
          const idx = u.cursor.idx;
          if (idx === null || idx === undefined || u.cursor.left < 0) {
            tip.hidden = true;
            return;
          }
          const lines = [when(u.data[0][idx], data.hourly, true)];
          data.series.forEach((s, i) => {
            const value = u.data[i + 1][idx];
            if (value !== null && value !== undefined) {
              lines.push(`${s.label} : ${withUnit(number(value, data.decimals), data.unit)}`);
            }
          });
          tip.replaceChildren(...lines.map((line, i) => {
            const row = document.createElement(i === 0 ? "strong" : "div");
            row.textContent = line;
            return row;
          }));
          tip.hidden = false;
          const width = u.over.clientWidth;
          const left = u.cursor.left + 12 + tip.offsetWidth > width
            ? u.cursor.left - 12 - tip.offsetWidth
            : u.cursor.left + 12;
          tip.style.left = `${Math.max(0, left)}px`;
          tip.style.top = `${Math.max(0, Math.min(u.cursor.top, u.over.clientHeight - tip.offsetHeight))}px`;
        },
      },
    };
  }

  function heightFor(width) {
    return width >= 640 ? 260 : 220;
  }

  function mount(box) {
    let data;
    try {
      data = JSON.parse(box.dataset.chart);
    } catch {
      return; // the SVG stays
    }
    const small = box.clientWidth < 640;
    const font = `${small ? 12 : 13}px system-ui, sans-serif`;
    const axisColour = colourOf("chart-axis");
    const gridColour = colourOf("chart-grid-line");
    const series = data.series.map((s) => {
      return {
        label: s.label,
        stroke: colourOf(s.colour),
        width: 2,
        fill: data.area ? colourOf(s.colour, 0.15) : undefined,
        spanGaps: false,
        // dots only where a line cannot show (one sample, or gaps around it)
        points: { size: 6, show: data.x.length < 3 },
      };
    });
    const axis = { stroke: axisColour, font, grid: { stroke: gridColour, width: 1 }, ticks: { show: false } };
    const options = {
      width: box.clientWidth,
      height: heightFor(box.clientWidth),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
      scales: {
        x: { time: true, range: () => [data.start, data.end] },
        y: { range: (u, min, max) => [0, Math.max(data.yMax ?? 0, max ?? 0, 1e-9) * (data.yMax ? 1 : 1.1)] },
      },
      axes: [
        {
          ...axis,
          size: 32,
          space: small ? 70 : 90,
          values: (u, ticks) => ticks.map((t) => when(t, data.hourly, false)),
        },
        {
          ...axis,
          size: small ? 56 : 64,
          // counts: whole steps only (no « 2,5 » rounded to « 3 »)
          incrs: data.decimals === 0 ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6] : undefined,
          values: (u, ticks) => ticks.map((t) => withUnit(number(t, data.decimals), data.unit)),
        },
      ],
      series: [{}, ...series],
      plugins: [tooltipPlugin(data)],
    };
    const svg = box.querySelector("svg");
    const plot = new window.uPlot(options, [data.x, ...data.series.map((s) => s.values)], box);
    // the drawing is described as the SVG was: its title and its summary
    plot.root.setAttribute("aria-hidden", "true");
    if (svg) {
      const said = [svg.querySelector("title"), svg.querySelector("desc")];
      box.setAttribute("role", "img");
      box.setAttribute("aria-label", said.map((n) => n?.textContent ?? "").join(". "));
      svg.classList.add("chart-replaced");
    }
    new ResizeObserver(() => {
      const width = box.clientWidth;
      if (width && width !== plot.width) plot.setSize({ width, height: heightFor(width) });
    }).observe(box);
  }

  function start() {
    if (!window.uPlot) return; // the server-rendered SVG stays
    document.querySelectorAll(".chart-plot[data-chart]").forEach(mount);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
