DROP TABLE measure_settings;
