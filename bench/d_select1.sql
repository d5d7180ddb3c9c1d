-- (d) the floor of a round trip
SELECT 1;
