DROP CONSTRAINT learning_path_id_unique IF EXISTS;
DROP CONSTRAINT entity_id_unique IF EXISTS;
DROP CONSTRAINT concept_id_unique IF EXISTS;
DROP CONSTRAINT user_id_unique IF EXISTS;
