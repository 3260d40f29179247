-- Every write inserts into the change log, so it keeps only the indexes a reader needs:
-- its primary key (streams, webhooks) and the clinic's (offline sync). Pruning finds
-- the cut by halving over places (the log is written in time order), not by an index.
DROP INDEX changes_by_client;
DROP INDEX changes_by_time;
