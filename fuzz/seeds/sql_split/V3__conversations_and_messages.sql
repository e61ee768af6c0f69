-- Conversations and their messages, both partitioned by month on created_at.
-- A primary key of a partitioned table must include the partition key, hence
-- (id, created_at). Partitions are created by `migrate partitions run`.
CREATE TABLE conversations (
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title       text,
  model       text NOT NULL,
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived', 'deleted')),
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE INDEX conversations_user_idx ON conversations (user_id, created_at DESC);

CREATE TRIGGER conversations_set_updated_at
  BEFORE UPDATE ON conversations
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- No foreign key to conversations: the two tables keep different retention
-- (messages expire first), and a key between partitioned tables would pin
-- old conversation partitions. The application writes both in one transaction.
CREATE TABLE messages (
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  conversation_id  uuid NOT NULL,
  role             text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
  content          text NOT NULL,
  token_count      integer NOT NULL DEFAULT 0 CHECK (token_count >= 0),
  metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at);
