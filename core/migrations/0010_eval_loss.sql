-- The held-out loss a job reports when it evaluates (the best one once early stopping kept it),
-- shown beside the training loss.

alter table trainpod_jobs add column eval_loss double precision;
