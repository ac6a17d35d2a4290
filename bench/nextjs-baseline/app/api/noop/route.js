// POST /api/noop: Next.js alone, for bench/nextjs_metrics.sh. Reads the batch's body and answers
// as the metrics routes do, with no token, no parse and no database: the ceiling a route handler
// of `next start` reaches on this machine, which shows how much of each request is the routes' work.
export async function POST(req) {
  await req.arrayBuffer();
  console.info('baseline: POST noop 200');
  return Response.json({ ok: true });
}
