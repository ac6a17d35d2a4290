-- What a job was deployed with (so that retry can start another attempt of it), and the training
-- throughput measured by finished jobs (so that later plans estimate from what was seen).

alter table trainpod_jobs add column config text not null default '';

create table trainpod_throughput (
    job_id      text    not null,
    attempt     bigint  not null,
    gpu_id      text    not null,
    method      text    not null,
    tflops      double precision not null,
    recorded_at bigint  not null,
    primary key (job_id, attempt)
);
create index trainpod_throughput_gpu on trainpod_throughput (gpu_id, method, recorded_at);
