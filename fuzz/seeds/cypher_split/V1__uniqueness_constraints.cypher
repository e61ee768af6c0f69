// The keys the application looks nodes up by: one node per user, concept,
// extracted entity and learning path, whatever the import order.
CREATE CONSTRAINT user_id_unique IF NOT EXISTS FOR (u:User) REQUIRE u.id IS UNIQUE;
CREATE CONSTRAINT concept_id_unique IF NOT EXISTS FOR (c:Concept) REQUIRE c.id IS UNIQUE;
CREATE CONSTRAINT entity_id_unique IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE;
CREATE CONSTRAINT learning_path_id_unique IF NOT EXISTS FOR (p:LearningPath) REQUIRE p.id IS UNIQUE;
