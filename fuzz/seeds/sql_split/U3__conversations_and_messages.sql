-- Reverts V3.
DROP TABLE messages;
DROP TABLE conversations;
