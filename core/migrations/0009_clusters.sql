-- Jobs that span several pods: a RunPod Instant Cluster is kept with the job like a pod, marked
-- as a cluster, since it is ended, looked up and billed as one (`/v2/clusters`,
-- `/v2/billing/clusters`), never pod by pod.

alter table trainpod_job_pods add column cluster boolean not null default false;
