-- +goose Up
-- Collecting data from the field (structured and interactive SMS, public
-- web links): form codes, the numbers authorised to send a form's data,
-- interactive conversations, the installation's opt-out list, the
-- provider message ids already taken in, and web links.

-- A form's code, upper-case: unique in the installation, so a text's
-- first word names one form.
CREATE TABLE form_codes (
    form_id    TEXT PRIMARY KEY REFERENCES forms (id) ON DELETE CASCADE,
    code       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX form_codes_code ON form_codes (code);

-- A number authorised to send one form's data, in one mode. The account
-- that added it pays for its texts and records.
CREATE TABLE sms_collectors (
    form_id    TEXT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    number     TEXT NOT NULL,
    mode       TEXT NOT NULL CHECK (mode IN ('structured', 'interactive')),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    message    TEXT NOT NULL DEFAULT '',
    -- The one-time message in sms_outbox; NULL when none was sent.
    message_id TEXT,
    -- When the number was told that data cannot be accepted now.
    noticed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (form_id, number)
);
-- An incoming text finds the collectors of its number here.
CREATE INDEX sms_collectors_number ON sms_collectors (number, updated_at);
-- How many numbers an account has authorised (a basic account may one).
CREATE INDEX sms_collectors_account ON sms_collectors (account_id, number);

-- An interactive collector's progress through its form; it goes with the
-- collector.
CREATE TABLE sms_conversations (
    form_id    TEXT NOT NULL,
    number     TEXT NOT NULL,
    question   INTEGER NOT NULL,
    answers    TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (form_id, number),
    FOREIGN KEY (form_id, number) REFERENCES sms_collectors (form_id, number) ON DELETE CASCADE
);
-- A reply continues its number's latest conversation; idle ones expire.
CREATE INDEX sms_conversations_number ON sms_conversations (number, updated_at);
CREATE INDEX sms_conversations_idle ON sms_conversations (updated_at);

-- Numbers that texted STOP: nothing is sent to them until START.
CREATE TABLE sms_opt_outs (
    number     TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);

-- Provider message ids taken in: a provider's retry is recognised and
-- makes no second record or reply. Pruned after a week.
CREATE TABLE sms_inbound (
    message_sid TEXT PRIMARY KEY,
    from_number TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sms_inbound_received ON sms_inbound (received_at);

-- Public web links (/f/{token}) to forms.
CREATE TABLE form_links (
    id              TEXT PRIMARY KEY,
    form_id         TEXT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    token           TEXT NOT NULL,
    expires_at      TIMESTAMPTZ,
    max_submissions INTEGER,
    submissions     INTEGER NOT NULL DEFAULT 0,
    revoked_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX form_links_token ON form_links (token);
CREATE INDEX form_links_form ON form_links (form_id, id);

-- +goose Down
DROP TABLE form_links;
DROP TABLE sms_inbound;
DROP TABLE sms_opt_outs;
DROP TABLE sms_conversations;
DROP TABLE sms_collectors;
DROP TABLE form_codes;
