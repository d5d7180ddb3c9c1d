-- (a) the ceiling: read the token, no validation
SELECT token FROM fixture WHERE i = :i;
