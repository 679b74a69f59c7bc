-- Deleted instances awaiting reclamation: disabled (`instances.state` = 'reclaiming') but whole,
-- restorable until `reclaim_at`; then (or on an explicit reclaim) every row of the instance is
-- removed, its instance key and root keys first.
CREATE TABLE instance_reclamations (
    instance_id  TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES instances(id),
    account_id   TEXT COLLATE "C" NOT NULL,
    deleted_by   TEXT COLLATE "C" NOT NULL,
    deleted_at   BIGINT           NOT NULL,
    reclaim_at   BIGINT           NOT NULL
);
CREATE INDEX instance_reclamations_due ON instance_reclamations(reclaim_at);
CREATE INDEX instance_reclamations_account ON instance_reclamations(account_id);
