export interface Point {
  step: number;
  loss: number;
  /** A loss on the held-out split (drawn as a second line). */
  heldOut?: boolean;
}

const W = 480;
const H = 160;
const PAD = 28;

/** The training loss by step, as an inline SVG line. */
export function LossChart({ points }: { points: Point[] }) {
  if (points.length === 0) return <p>The loss curve appears once the trainer reports.</p>;
  const steps = points.map((p) => p.step);
  const losses = points.map((p) => p.loss);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...losses), Math.max(...losses)];
  const x = (s: number) => PAD + ((s - x0) / (x1 - x0 || 1)) * (W - 2 * PAD);
  const y = (l: number) => H - PAD - ((l - y0) / (y1 - y0 || 1)) * (H - 2 * PAD);
  const polyline = (of: Point[]) => of.map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(' ');
  const line = polyline(points.filter((p) => !p.heldOut));
  const heldOut = polyline(points.filter((p) => p.heldOut));
  return (
    <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label="loss by step" data-testid="loss-chart">
      <line x1={PAD} y1={H - PAD} x2={W - PAD} y2={H - PAD} stroke="#99a3ad" />
      <line x1={PAD} y1={PAD} x2={PAD} y2={H - PAD} stroke="#99a3ad" />
      <text x={PAD} y={PAD - 8} fontSize="11">
        loss {y1.toFixed(3)}
      </text>
      <text x={PAD} y={H - 8} fontSize="11">
        {y0.toFixed(3)} · step {x0}
      </text>
      <text x={W - PAD} y={H - 8} fontSize="11" textAnchor="end">
        step {x1}
      </text>
      <polyline points={line} fill="none" stroke="#2f7d4f" strokeWidth="2" />
      {heldOut && <polyline points={heldOut} fill="none" stroke="#b5651d" strokeWidth="2" strokeDasharray="4 3" />}
      {points.map((p) => (
        <circle
          key={`${p.step}-${p.loss}-${p.heldOut ? 'h' : 't'}`}
          cx={x(p.step)}
          cy={y(p.loss)}
          r="2.5"
          fill={p.heldOut ? '#b5651d' : '#2f7d4f'}
        />
      ))}
    </svg>
  );
}
