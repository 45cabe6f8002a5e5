-- What browsers may do for a project: the site origins allowed to send events, and the
-- snippet's autocapture configuration (served to the snippet, like a tag container).

ALTER TABLE projects
    ADD COLUMN allowed_origins  text[] NOT NULL DEFAULT '{}',
    -- {"pageviews": true, "clicks": false, "forms": false, "form_values": false}
    ADD COLUMN autocapture      jsonb NOT NULL DEFAULT '{}';
