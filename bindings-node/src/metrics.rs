//! The metrics route's hot call: `Trainpod.ingestMetrics` as `index.js` makes it, the SDK by its
//! slot (slots.rs) and the outcome written flat (flat.rs).

use crate::errors::{Result, to_js};
use crate::flat::{self, Answer, Flat, Record};
use crate::promise::{poll_once, rejected, spawn};
use crate::sdk::{TRAINPODS, ingest};
use crate::slots;
use crate::text::Text;
use napi::Env;
use napi::bindgen_prelude::{Either, PromiseRaw, Uint8ArraySlice};
use napi_derive::napi;
use trainpod::jobs::IngestOutcome;

/// Numbers in an outcome: 4 of its own, 16 of its job.
const OUTCOME_NUMS: usize = 20;

/// The outcome's fields, then the job's, in the declared order (`outcomeOf` in `index.js`).
fn write_outcome(o: &IngestOutcome, out: &mut Flat<'_>) {
    out.num(f64::from(o.status));
    out.text(&o.body);
    out.flag(o.replay);
    out.flag(o.terminate_pod);
    // Times, steps and sizes stay below 2^53: doubles hold them exactly.
    let j = &o.job;
    out.text(&j.id);
    out.text(&j.user);
    out.num(f64::from(j.attempt));
    out.text(j.state.as_str());
    out.text(&j.reason);
    out.num(j.created_at as f64);
    out.num(j.updated_at as f64);
    out.num(j.deadline_unix as f64);
    out.num(j.budget_usd);
    out.num(j.price_per_hour);
    out.opt_text(j.pod_id.as_deref());
    out.opt_num(j.started_at.map(|t| t as f64));
    out.opt_num(j.last_heartbeat.map(|t| t as f64));
    out.opt_num(j.step.map(|s| s as f64));
    out.opt_num(j.max_steps.map(|s| s as f64));
    out.opt_num(j.loss);
}

/// `ingestMetrics` for `index.js`. The future is polled once here (`poll_once`): one that
/// finishes without waiting (an in-memory store) answers with the outcome's text, its numbers in
/// the environment's numbers array (flat.rs), sparing the promise and the two thread hops. A
/// failure answers with a rejected promise, and one that waits with a promise of a `Record`.
#[napi(js_name = "_ingestFlat", skip_typescript, catch_unwind)]
pub fn ingest_flat<'env>(
    env: &'env Env,
    slot: u32,
    job_id: Text,
    authorization: Option<Text>,
    body: Uint8ArraySlice,
) -> Result<Either<Answer, PromiseRaw<'env, Record>>> {
    let authorization = authorization.as_ref().map(|a| a.0.as_str());
    let fut = match ingest(
        slots::get(&TRAINPODS, slot)?,
        &job_id.0,
        authorization,
        &body,
    ) {
        Ok(fut) => fut,
        Err(e) => return rejected(env, to_js(e)).map(Either::B),
    };
    match poll_once(fut) {
        Either::A(Ok(outcome)) => {
            flat::answer(env, |out| write_outcome(&outcome, out)).map(Either::A)
        }
        Either::A(Err(e)) => rejected(env, to_js(e)).map(Either::B),
        Either::B(fut) => spawn(env, fut, |_, outcome| {
            flat::record(OUTCOME_NUMS, |out| write_outcome(&outcome, out))
        })
        .map(Either::B),
    }
}
