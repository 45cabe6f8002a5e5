-- What ingest derives from each event's context: browser, OS and device from the user agent,
-- country/region/city from the IP (which itself is not stored), referrer domain and channel,
-- and whether the user agent is a bot (analytics will exclude bots by default).

ALTER TABLE events
    ADD COLUMN browser           text,
    ADD COLUMN browser_version   text,
    ADD COLUMN os                text,
    ADD COLUMN os_version        text,
    ADD COLUMN device_type       text,
    ADD COLUMN country           text,
    ADD COLUMN region            text,
    ADD COLUMN city              text,
    ADD COLUMN referrer_domain   text,
    ADD COLUMN referrer_channel  text,
    ADD COLUMN is_bot            boolean NOT NULL DEFAULT false;
