-- When an instance last changed after its creation (a rename): the Resource Controller API
-- shows it as `updated_at`. NULL until the first change.
ALTER TABLE instances ADD COLUMN updated_at BIGINT;
