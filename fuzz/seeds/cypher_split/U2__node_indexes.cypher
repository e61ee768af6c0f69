DROP INDEX concept_text IF EXISTS;
DROP INDEX user_created_at IF EXISTS;
DROP INDEX learning_path_level IF EXISTS;
DROP INDEX entity_type IF EXISTS;
DROP INDEX concept_name IF EXISTS;
