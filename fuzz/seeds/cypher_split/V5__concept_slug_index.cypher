CREATE INDEX concept_slug IF NOT EXISTS FOR (c:Concept) ON (c.slug);
