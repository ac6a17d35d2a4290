-- The sha256 of each staged dataset file, keyed by the file's identity and version (device,
-- inode, size, modification and change times, as fstat reports them), so that a process that
-- starts fresh (a new serverless instance) serves a dataset without first reading all of it.
-- A rewritten file has a new key; an old key is never served again and costs one small row.

create table trainpod_dataset_digests (
    file_key text primary key,
    sha256 text not null,
    recorded_at bigint not null
);
