DROP TABLE IF EXISTS dpop_replays;
