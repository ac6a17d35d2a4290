// Preloaded into a Node process by bench/event_loop.sh (NODE_OPTIONS="--require .../loop_delay.cjs",
// with LOOP_DELAY_OUT set): watches the process's event loop with perf_hooks'
// monitorEventLoopDelay (a 1 ms timer: how late each tick ran) and, on SIGUSR2, writes what it saw
// since the previous SIGUSR2 (or since it started) to LOOP_DELAY_OUT.<pid>.json, then starts over.
// At start it writes LOOP_DELAY_OUT.<pid>.ready, so that the script signals only the processes
// that handle SIGUSR2 (its default action ends a process). The process is otherwise unchanged.
// With LOOP_DELAY_GAPS=<ms> it also lists each gap longer than that between two runs of a 1 ms
// interval timer, with the time it ended (performance.now(), ms since the process started), to
// line stalls up with other traces (node --trace-gc prints its times from nearly the same origin).
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { renameSync, writeFileSync } = require('node:fs');

const out = process.env.LOOP_DELAY_OUT;
if (out) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let since = performance.now();
  let gaps = [];
  const threshold = Number(process.env.LOOP_DELAY_GAPS);
  if (threshold > 0) {
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      if (now - last > threshold) gaps.push([Math.round(now), Math.round(now - last)]);
      last = now;
    }, 1).unref();
  }
  const ms = (ns) => (Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : null);
  process.on('SIGUSR2', () => {
    const now = performance.now();
    const stats = {
      pid: process.pid,
      argv: process.argv.slice(1, 3).join(' '),
      seconds: Math.round(now - since) / 1000,
      samples: histogram.count,
      max_ms: ms(histogram.max),
      p99_ms: ms(histogram.percentile(99)),
      p50_ms: ms(histogram.percentile(50)),
      mean_ms: ms(histogram.mean),
      ...(threshold > 0 ? { gaps } : {}),
    };
    const file = `${out}.${process.pid}.json`;
    writeFileSync(`${file}.tmp`, JSON.stringify(stats)); // then renamed: the reader never sees half a file
    renameSync(`${file}.tmp`, file);
    histogram.reset();
    since = now;
    gaps = [];
  });
  writeFileSync(`${out}.${process.pid}.ready`, '');
}
