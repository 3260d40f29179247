-- A client's observations in time order: the FHIR Observation search's keyset.
CREATE INDEX measurements_by_client_time ON measurements (client_id, observed_at, id);
