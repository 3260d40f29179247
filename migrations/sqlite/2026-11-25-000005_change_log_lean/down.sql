CREATE INDEX changes_by_client ON changes (client_id, seq);
CREATE INDEX changes_by_time ON changes (occurred_at);
