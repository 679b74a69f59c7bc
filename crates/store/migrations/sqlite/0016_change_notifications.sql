-- Cluster change notifications exist on PostgreSQL only (SQLite serves a single node); this
-- keeps the two migration sequences aligned.
SELECT 1;
