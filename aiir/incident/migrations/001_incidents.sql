-- The shared incident store: incidents, their events as journal lines, their files, lever
-- engagements. Applied once by `aiir store init`, recorded in schema_migrations.

CREATE TABLE incidents (
    id text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    head_seq bigint NOT NULL DEFAULT 0,
    head_hash text NOT NULL DEFAULT repeat('0', 64),
    -- the walker's lease: a fencing token that only grows, who holds it, until when
    lease_token bigint NOT NULL DEFAULT 0,
    lease_holder jsonb,
    lease_expires timestamptz
);

-- One row per journal line, byte for byte: the same SHA-256 chain as a journal file.
CREATE TABLE events (
    incident text NOT NULL REFERENCES incidents (id),
    seq bigint NOT NULL CHECK (seq >= 1),
    type text NOT NULL,
    operator text NOT NULL,
    prev text NOT NULL,
    hash text NOT NULL,
    line bytea NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident, seq)
);

-- Evidence and runbook snapshots, kept with the SHA-256 their events record.
CREATE TABLE files (
    incident text NOT NULL REFERENCES incidents (id),
    path text NOT NULL,
    sha256 text NOT NULL,
    content bytea NOT NULL,
    PRIMARY KEY (incident, path)
);

-- A lever's engagement, once per step of an incident: two walkers racing record it once.
CREATE TABLE engagements (
    incident text NOT NULL REFERENCES incidents (id),
    step bigint NOT NULL,
    lever text NOT NULL,
    seq bigint NOT NULL,
    lease_token bigint NOT NULL,
    PRIMARY KEY (incident, step)
);

-- A reader waiting for an incident's next event (`aiir watch`) is told at once: LISTEN aiir_events.
CREATE FUNCTION aiir_event_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('aiir_events', NEW.incident || ' ' || NEW.seq);
    RETURN NULL;
END
$$;

CREATE TRIGGER aiir_event_written AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION aiir_event_written();
