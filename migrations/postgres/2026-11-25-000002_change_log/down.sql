DROP TABLE stream_tickets;
DROP TABLE changes;
DROP TABLE change_log_head;
