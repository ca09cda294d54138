-- A camera's recording stream (its main stream, the edge node's `record_input`), when it has
-- one: its state (`starting`, `ok`, `lost`) and why it is lost. NULL for cameras without one,
-- and for every heartbeat stored before this migration.
ALTER TABLE devices ADD COLUMN record_camera TEXT;
ALTER TABLE devices ADD COLUMN record_camera_error TEXT;
