DROP TABLE stream_destinations;
