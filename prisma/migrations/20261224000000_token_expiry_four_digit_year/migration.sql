-- A token's expiry has a four-digit year: one past 9999-12-31 (an offset could take it there) was
-- stored by PostgreSQL but read back as a date no client parses, and every list of tokens failed
-- on it. Rows stored so are clamped to the last instant clients read; writers refuse such dates
-- (a CHECK constraint would say it here, but the offline schema engine cannot describe one).
UPDATE "api_tokens" SET "expires_at" = '9999-12-31 23:59:59.999+00' WHERE "expires_at" >= '10000-01-01 00:00:00+00';
