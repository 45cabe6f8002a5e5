-- Erasure of a person on request (GDPR article 17): storage/person_erasure.py deletes the person, every
-- event of their distinct ids, their sessions and their days, and takes them out of every rollup in one
-- transaction. What stays is this record of the erasure, which holds no personal data: who asked, when,
-- and how much was deleted (the person's id is a random uuid that no longer resolves to anything).
CREATE TABLE person_erasures (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    person_id        uuid NOT NULL,
    -- The member who asked; NULL once that user is deleted.
    erased_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    erased_at        timestamptz NOT NULL DEFAULT now(),
    persons          integer NOT NULL,
    distinct_ids     integer NOT NULL,
    events           bigint NOT NULL,
    sessions         integer NOT NULL
);
CREATE INDEX person_erasures_project ON person_erasures (project_id, erased_at DESC);
