// Lookups the assistant makes on every turn: concepts by name, entities by
// type, learning paths by level, and free text over concepts.
CREATE INDEX concept_name IF NOT EXISTS FOR (c:Concept) ON (c.name);
CREATE INDEX entity_type IF NOT EXISTS FOR (e:Entity) ON (e.type);
CREATE INDEX learning_path_level IF NOT EXISTS FOR (p:LearningPath) ON (p.level);
CREATE INDEX user_created_at IF NOT EXISTS FOR (u:User) ON (u.created_at);
CREATE FULLTEXT INDEX concept_text IF NOT EXISTS FOR (c:Concept) ON EACH [c.name, c.description];
