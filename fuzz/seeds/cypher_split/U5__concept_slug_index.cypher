DROP INDEX concept_slug IF EXISTS;
