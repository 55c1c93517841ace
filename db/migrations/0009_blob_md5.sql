-- The wandb SDK asks for a file by its collection and the MD5 of its bytes when it has no
-- signed URL for it: bytes are found by MD5 through this index, then the file that refers to them.
CREATE INDEX blobs_md5_idx ON blobs (md5);
