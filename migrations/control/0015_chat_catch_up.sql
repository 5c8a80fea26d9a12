-- Chat adapters after a restart, and their private messages.

-- Where an adapter stopped reading a room: the newest message id it handled there (a Discord
-- snowflake, which grows with time). After a restart it asks the platform for what came later.
CREATE TABLE control.chat_cursors (
    platform      text NOT NULL CHECK (platform IN ('matrix', 'discord', 'telegram', 'console')),
    room_id       text NOT NULL CHECK (length(room_id) BETWEEN 1 AND 255),
    last_message  bigint NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, room_id)
);

-- When a room was first told that the bot had sent this person a private message (a receipt):
-- a person is told once per platform, across restarts.
ALTER TABLE control.chat_identities ADD COLUMN direct_told_at timestamptz;
