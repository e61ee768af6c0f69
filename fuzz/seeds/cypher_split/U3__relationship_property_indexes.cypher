DROP INDEX completed_at IF EXISTS;
DROP INDEX related_to_weight IF EXISTS;
