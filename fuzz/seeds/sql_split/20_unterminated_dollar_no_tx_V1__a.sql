-- strata:no-transaction
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1;
