//! Splits a migration file into its statements, so that each is sent as a command of its own.
//!
//! Citus forwards DDL in a distributed schema to the worker one command at a time, and refuses a
//! multi-statement string ("cannot insert multiple commands into a prepared statement"). A
//! semicolon ends a statement only outside quotes, comments and dollar-quoted bodies (`$$ ... $$`,
//! `$fn$ ... $fn$`), so the split follows PostgreSQL's lexical rules for those, and nothing else.

/// The statements of `sql`, each trimmed and without its closing semicolon; empty statements and
/// comment-only tails are left out.
pub fn split(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = block_comment_end(bytes, i),
            b'\'' => {
                // An `E'...'` string lets a backslash escape the quote; a plain one doubles it.
                let escapes =
                    i > 0 && matches!(bytes[i - 1], b'E' | b'e') && !is_ident(bytes, i - 1);
                i = quoted_end(bytes, i, b'\'', escapes);
            }
            b'"' => i = quoted_end(bytes, i, b'"', false),
            b'$' => i = dollar_quoted_end(sql, i),
            b';' => {
                push(&mut statements, &sql[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push(&mut statements, &sql[start..]);
    statements
}

/// Keeps a statement unless it is only whitespace and comments.
fn push<'a>(statements: &mut Vec<&'a str>, text: &'a str) {
    let text = text.trim();
    if !strip_comments(text).trim().is_empty() {
        statements.push(text);
    }
}

fn strip_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'-' && bytes.get(i + 1) == Some(&b'-') {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
        } else if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = block_comment_end(bytes, i);
        } else {
            out.push(char::from(bytes[i]));
            i += 1;
        }
    }
    out
}

/// Whether the byte before `at` continues an identifier (so `at` is not a string prefix `E`).
fn is_ident(bytes: &[u8], at: usize) -> bool {
    at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_')
}

/// Past the end of a `/* ... */` comment starting at `i` (they nest in PostgreSQL).
fn block_comment_end(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 0;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Past the closing quote of a quoted string or identifier opened at `i`.
fn quoted_end(bytes: &[u8], mut i: usize, quote: u8, backslash_escapes: bool) -> usize {
    i += 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Past the end of a dollar-quoted body opened at `i`, or just past the `$` when it opens none
/// (a positional parameter such as `$1`, or a `$` inside an identifier).
fn dollar_quoted_end(sql: &str, i: usize) -> usize {
    let bytes = sql.as_bytes();
    if is_ident(bytes, i) {
        return i + 1;
    }
    let tag_len = bytes[i + 1..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    let tag_end = i + 1 + tag_len;
    let opens =
        bytes.get(tag_end) == Some(&b'$') && bytes.get(i + 1).is_none_or(|b| !b.is_ascii_digit());
    if !opens {
        return i + 1;
    }
    let tag = &sql[i..=tag_end];
    match sql[tag_end + 1..].find(tag) {
        Some(n) => tag_end + 1 + n + tag.len(),
        None => bytes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn plain_statements() {
        assert_eq!(
            split("CREATE TABLE a (x int);\n\nCREATE INDEX ai ON a (x);\n"),
            ["CREATE TABLE a (x int)", "CREATE INDEX ai ON a (x)"]
        );
        assert_eq!(split("SELECT 1"), ["SELECT 1"]);
        assert!(split("  \n-- only a comment;\n/* and; another */ ;;").is_empty());
    }

    #[test]
    fn semicolons_inside_bodies_quotes_and_comments_stay() {
        let sql = "-- a comment; with a semicolon\n\
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n\
            BEGIN RAISE EXCEPTION 'no; never'; END $$;\n\
            CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $fn$ SELECT 1; $fn$;\n\
            COMMENT ON TABLE a IS 'it''s; fine';\n\
            SELECT E'a\\'; b', \"odd;name\" /* x; /* nested; */ y; */ FROM t;\n\
            DO $$ BEGIN PERFORM 1; END $$";
        let parts = split(sql);
        assert_eq!(parts.len(), 5, "{parts:#?}");
        assert!(parts[0].starts_with("-- a comment; with a semicolon\nCREATE FUNCTION f()"));
        assert!(parts[0].ends_with("END $$"));
        assert!(parts[1].ends_with("$fn$ SELECT 1; $fn$"));
        assert_eq!(parts[2], "COMMENT ON TABLE a IS 'it''s; fine'");
        assert!(parts[3].ends_with("y; */ FROM t"));
        assert_eq!(parts[4], "DO $$ BEGIN PERFORM 1; END $$");
    }

    #[test]
    fn parameters_and_dollars_in_names_open_no_body() {
        assert_eq!(
            split("SELECT $1, a$b FROM t; SELECT 2"),
            ["SELECT $1, a$b FROM t", "SELECT 2"]
        );
    }

    #[test]
    fn every_migration_splits_into_whole_statements() {
        for migrator in [&crate::migrate::CONTROL, &crate::migrate::TENANT] {
            for m in migrator.iter() {
                let parts = split(m.sql.as_str());
                assert!(!parts.is_empty(), "{}", m.description);
                for p in parts {
                    // A body cut in two would leave an odd number of `$$`.
                    assert_eq!(p.matches("$$").count() % 2, 0, "{}: {p}", m.description);
                }
            }
        }
    }
}
