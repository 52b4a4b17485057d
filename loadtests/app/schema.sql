-- Reference application schema, modelled on the Plandex tables analysed in
-- the performance document (users, plans, contexts, conversations, plan_files).
--
-- Idempotent: every statement is CREATE ... IF NOT EXISTS, so applying it to
-- an already-initialised database is a no-op. seed.mjs drops the tables first
-- when it wants a clean slate.
--
-- Foreign keys are declared, but the foreign-key columns (plans.user_id,
-- contexts.plan_id, conversations.plan_id, plan_files.plan_id) deliberately
-- have NO indexes. PostgreSQL does not create them automatically, and the
-- document's analysis found exactly these indexes missing in Plandex. Keeping
-- them absent makes the per-plan and per-user queries do sequential scans,
-- which is the problem the `db-report` command must detect and the load
-- tests must make visible. Do not "fix" this here.

CREATE TABLE IF NOT EXISTS users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text        NOT NULL,
    name        text        NOT NULL,
    org_id      bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

CREATE TABLE IF NOT EXISTS plans (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id),
    org_id       bigint,
    name         text        NOT NULL,
    status       text        NOT NULL DEFAULT 'draft',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    archived_at  timestamptz,
    deleted_at   timestamptz,
    -- Bumped by POST /users/:id/plans/touch: the cache bench checks each read against it (stale reads).
    version      integer     NOT NULL DEFAULT 0
);
ALTER TABLE plans ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS contexts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id     bigint      NOT NULL REFERENCES plans (id),
    name        text        NOT NULL,
    content     text        NOT NULL DEFAULT '',
    active      boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS conversations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id     bigint      NOT NULL REFERENCES plans (id),
    message     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS plan_files (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id     bigint      NOT NULL REFERENCES plans (id),
    path        text        NOT NULL,
    content     text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
