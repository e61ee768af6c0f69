// Concepts get a URL slug. Existing nodes are backfilled in batches of 500,
// each batch its own transaction, so a large graph never holds one huge
// transaction (this needs the implicit transaction strata runs it in).
MATCH (c:Concept) WHERE c.slug IS NULL AND c.name IS NOT NULL
CALL (c) {
  SET c.slug = toLower(replace(trim(c.name), ' ', '-'))
} IN TRANSACTIONS OF 500 ROWS;
