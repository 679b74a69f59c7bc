-- Cluster cache coherence. Every committed change of a row that nodes cache is announced on the
-- channel `arca_changes` as `<table>:<id>`, the id being what the caches are keyed by. NOTIFY is
-- transactional: sent at commit, never for a rolled-back change, and a trigger cannot be
-- forgotten by a new store method. Nodes LISTEN and drop what they cached (see
-- crates/store/src/cluster.rs); a node whose listening connection drops forgets everything.
CREATE FUNCTION arca_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := to_jsonb(OLD);
    ELSE
        changed := to_jsonb(NEW);
    END IF;
    PERFORM pg_notify('arca_changes', TG_TABLE_NAME || ':' || coalesce(changed ->> TG_ARGV[0], ''));
    RETURN NULL;
END
$$;

CREATE TRIGGER instances_changed AFTER INSERT OR UPDATE OR DELETE ON instances
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('id');
CREATE TRIGGER instance_reclamations_changed AFTER INSERT OR UPDATE OR DELETE ON instance_reclamations
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('instance_id');
CREATE TRIGGER kp_keys_changed AFTER INSERT OR UPDATE OR DELETE ON kp_keys
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('id');
CREATE TRIGGER kp_aliases_changed AFTER INSERT OR UPDATE OR DELETE ON kp_aliases
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('key_id');
CREATE TRIGGER kp_instance_policies_changed AFTER INSERT OR UPDATE OR DELETE ON kp_instance_policies
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('instance_id');
CREATE TRIGGER role_grants_changed AFTER INSERT OR UPDATE OR DELETE ON role_grants
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('principal_id');
CREATE TRIGGER service_authorizations_changed AFTER INSERT OR UPDATE OR DELETE ON service_authorizations
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('source_instance_id');
CREATE TRIGGER principals_changed AFTER INSERT OR UPDATE OR DELETE ON principals
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('id');
CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('principal_id');
CREATE TRIGGER sm_instance_roots_changed AFTER INSERT OR UPDATE OR DELETE ON sm_instance_roots
    FOR EACH ROW EXECUTE FUNCTION arca_notify_change('instance_id');
