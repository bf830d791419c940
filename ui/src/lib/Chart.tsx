// A time-series chart (uPlot on a canvas) that keeps up with live data: however often its data changes, it
// redraws at most once per animation frame. Screen readers get its name and a text summary of the data.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface SeriesData {
  /** Times in epoch seconds (uPlot's time scale), ascending. */
  xs: number[];
  ys: (number | null)[];
}

const HEIGHT = 220;

function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return "none";
  return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
}

/** "<n> points, last <value>": what the chart shows, in words. */
export function summary(data: SeriesData): string {
  const count = data.xs.length;
  const last = data.ys[count - 1];
  return `${count === 1 ? "1 point" : `${count} points`}, last ${formatValue(last)}`;
}

export function Chart({ name, data, label = name }: { name: string; data: SeriesData; label?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const pending = useRef<SeriesData | null>(null);
  const frame = useRef(0);

  // Build once per series name; data arrives through setData below.
  useEffect(() => {
    const element = box.current;
    if (element === null) return undefined;
    const chart = new uPlot(
      {
        width: Math.max(element.clientWidth, 200),
        height: HEIGHT,
        scales: { x: { time: true } },
        series: [{}, { label, stroke: "#1f5f8b", width: 1.5, spanGaps: false, points: { show: false } }],
        axes: [{}, { size: 60 }],
        legend: { show: true },
      },
      [[], []],
      element,
    );
    plot.current = chart;
    const observer = new ResizeObserver(() => {
      chart.setSize({ width: Math.max(element.clientWidth, 200), height: HEIGHT });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      cancelAnimationFrame(frame.current);
      frame.current = 0;
      chart.destroy();
      plot.current = null;
    };
  }, [label]);

  // Coalesce updates: only the newest data of a frame is drawn.
  useEffect(() => {
    pending.current = data;
    if (frame.current !== 0) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const next = pending.current;
      if (next !== null && plot.current !== null) plot.current.setData([next.xs, next.ys]);
    });
  }, [data, label]);

  return (
    <figure className="chart">
      <figcaption>{name}</figcaption>
      <div ref={box} role="img" aria-label={`Chart of ${name}`} />
      <p className="chart-summary">{summary(data)}</p>
    </figure>
  );
}
