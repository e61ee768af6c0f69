// Ranking related concepts and replaying a user's progress filter on
// relationship properties.
CREATE INDEX related_to_weight IF NOT EXISTS FOR ()-[r:RELATED_TO]-() ON (r.weight);
CREATE INDEX completed_at IF NOT EXISTS FOR ()-[r:COMPLETED]-() ON (r.at);
