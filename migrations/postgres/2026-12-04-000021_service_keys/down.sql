DROP TABLE assertion_ids;
DROP TABLE service_key_sets;
