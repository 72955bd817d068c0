"""The job engine's internals, one concern a module (docs/jobs.md, "Where the code is"):

- lifecycle: create, fill, seal, submit, cancel, fail, re-run
- claims: start a window message and claim its chunks (the exactly-once core)
- execution: apply a message's chunks with the job's handler
- checks: the check pass of jobs staged for checking
- ledger: counters, finishing and settling a job
- dispatch: the broker window and its fair refill across tenants and jobs
- outbox: webhooks written with the job's end, delivered from PostgreSQL
- sweeper: recovery from lost messages, a flushed broker and dead workers
- retention: the daily purge
- broker, heartbeat, infra: what the engine knows of Redis, workers and failures

Other apps import jobs.services, never these modules."""
