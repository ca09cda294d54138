//! `ksql apply`: creates what the system needs in ksqlDB (the statements in the repository's
//! `ksql/` folder, built into the binary) and reports each statement's result. Idempotent:
//! every statement is `IF NOT EXISTS`, so a second run reports "already exists".

use serde::Serialize;
use serde_json::Value;

use super::client::Client;
use super::error::KsqlDbError;

/// The statement files, in the order they must run.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "01_motion_stream.sql",
        include_str!("../../../../ksql/01_motion_stream.sql"),
    ),
    (
        "02_device_status.sql",
        include_str!("../../../../ksql/02_device_status.sql"),
    ),
];

/// One statement and how it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    /// The file it came from.
    pub file: String,
    /// Its head, e.g. `CREATE STREAM IF NOT EXISTS MOTION_STREAM`.
    pub statement: String,
    pub outcome: Outcome,
    /// The server's words (or why it was not run).
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    AlreadyExists,
    /// Accepted, but not applied within the server's wait; it will still run.
    Queued,
    Failed,
    /// Not sent, because an earlier statement failed (later ones may depend on it).
    Skipped,
}

/// Splits a file into statements: each ends with a `;` outside quotes and comments. Text
/// after the last `;` that is not blank or a comment is an error naming the file.
pub fn split(file: &str, text: &str) -> Result<Vec<String>, String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    let mut has_code = false;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == q {
                    // A doubled quote is an escaped one; the loop sees the second next.
                    if chars.peek() == Some(&q) {
                        current.push(q);
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
            }
            None if c == '-' && chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            None => {
                if c == '\'' || c == '`' || c == '"' {
                    quote = Some(c);
                }
                current.push(c);
                if c == ';' {
                    statements.push(current.trim().to_owned());
                    current.clear();
                    has_code = false;
                } else if !c.is_whitespace() {
                    has_code = true;
                }
            }
        }
    }
    if quote.is_some() {
        return Err(format!("{file}: a quote is never closed"));
    }
    if has_code {
        return Err(format!(
            "{file}: the last statement does not end with `;`: {}",
            head(&current)
        ));
    }
    Ok(statements)
}

/// A statement's first words, up to its name: enough to recognise it in a report.
pub fn head(statement: &str) -> String {
    let words: Vec<&str> = statement.split_whitespace().collect();
    let name_at = words
        .iter()
        .position(|w| {
            !matches!(
                w.to_ascii_uppercase().as_str(),
                "CREATE"
                    | "OR"
                    | "REPLACE"
                    | "STREAM"
                    | "TABLE"
                    | "IF"
                    | "NOT"
                    | "EXISTS"
                    | "SOURCE"
            )
        })
        .unwrap_or(words.len().saturating_sub(1));
    let name = words.get(name_at).map_or("", |w| w.trim_end_matches('('));
    let mut out = words[..name_at].join(" ");
    if !name.is_empty() {
        out.push(' ');
        out.push_str(name);
    }
    out
}

/// Runs every statement of `files` in order; stops sending after the first failure.
pub async fn apply(client: &Client, files: &[(String, String)]) -> Result<Vec<Applied>, String> {
    let mut planned = Vec::new();
    for (file, text) in files {
        for statement in split(file, text)? {
            planned.push((file.clone(), statement));
        }
    }
    let mut results = Vec::with_capacity(planned.len());
    let mut failed = false;
    for (file, statement) in planned {
        let statement_head = head(&statement);
        let (outcome, detail) = if failed {
            (
                Outcome::Skipped,
                "not sent: an earlier statement failed".to_owned(),
            )
        } else {
            match client.statement(&statement).await {
                Ok(entities) => judge(&entities),
                Err(err) => (Outcome::Failed, describe(&err)),
            }
        };
        failed |= outcome == Outcome::Failed;
        results.push(Applied {
            file,
            statement: statement_head,
            outcome,
            detail,
        });
    }
    Ok(results)
}

/// What the server's entity for one statement says (§4).
fn judge(entities: &[Value]) -> (Outcome, String) {
    let Some(entity) = entities.first() else {
        return (
            Outcome::Failed,
            "the server answered with no result for the statement".into(),
        );
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    match entity.get("@type").and_then(Value::as_str) {
        Some("currentStatus") => {
            let status = entity.get("commandStatus");
            let state = text(status.and_then(|s| s.get("status")));
            let message = text(status.and_then(|s| s.get("message")));
            match state.as_str() {
                "SUCCESS" => (Outcome::Created, message),
                "ERROR" | "TERMINATED" => (Outcome::Failed, message),
                _ => (
                    Outcome::Queued,
                    format!(
                        "{state}: accepted but not applied yet (command {})",
                        text(entity.get("commandId"))
                    ),
                ),
            }
        }
        Some("warning_entity") => (Outcome::AlreadyExists, text(entity.get("message"))),
        other => (
            Outcome::Failed,
            format!(
                "unexpected answer {:?}: {entity}",
                other.unwrap_or("without @type")
            ),
        ),
    }
}

fn describe(err: &KsqlDbError) -> String {
    match err {
        // The statement's own error: the server's message is what the user needs.
        KsqlDbError::Server { message, code, .. } => match code {
            Some(code) => format!("{message} (error {code})"),
            None => message.clone(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_built_in_files_split_into_their_statements() {
        let heads: Vec<String> = BUILT_IN
            .iter()
            .flat_map(|(file, text)| split(file, text).expect("split"))
            .map(|s| head(&s))
            .collect();
        assert_eq!(
            heads,
            [
                "CREATE STREAM IF NOT EXISTS MOTION_STREAM",
                "CREATE STREAM IF NOT EXISTS DEVICE_STATUS_STREAM",
                "CREATE TABLE IF NOT EXISTS DEVICE_STATUS",
            ]
        );
        let motion = split("f", BUILT_IN[0].1).expect("split").remove(0);
        // The seed's seven columns, in the seed's order, before any addition.
        let seed = [
            "event_id",
            "device_id",
            "device_name",
            "device_type",
            "url",
            "time",
            "message",
        ];
        let positions: Vec<usize> = seed
            .iter()
            .map(|c| motion.find(&format!("    {c} ")).expect(c))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{motion}");
        assert!(motion.ends_with(';'));
    }

    #[test]
    fn quotes_and_comments_do_not_split() {
        let text = "-- a; comment\nCREATE STREAM `a;b` (x VARCHAR) WITH (KAFKA_TOPIC='t;''x');\n\
                    -- trailing comment\n";
        let statements = split("f", text).expect("split");
        assert_eq!(
            statements,
            ["CREATE STREAM `a;b` (x VARCHAR) WITH (KAFKA_TOPIC='t;''x');"]
        );
        assert!(split("f", "CREATE STREAM x (a VARCHAR)")
            .expect_err("no ;")
            .contains("does not end with `;`"));
        assert!(split("f", "CREATE STREAM 'x;")
            .expect_err("open quote")
            .contains("never closed"));
    }

    #[test]
    fn server_answers_become_outcomes() {
        let created = json!([{"@type":"currentStatus","statementText":"…","commandId":"stream/`MOTION_STREAM`/create","commandStatus":{"status":"SUCCESS","message":"Stream created","queryId":null},"commandSequenceNumber":2,"warnings":[]}]);
        let exists = json!([{"@type":"warning_entity","statementText":"…","message":"Cannot add stream MOTION_STREAM: A stream with the same name already exists.","warnings":[]}]);
        let queued = json!([{"@type":"currentStatus","commandId":"table/`T`/create","commandStatus":{"status":"QUEUED","message":"","queryId":null}}]);
        let arr = |v: Value| v.as_array().cloned().unwrap_or_default();
        assert_eq!(
            judge(&arr(created)),
            (Outcome::Created, "Stream created".into())
        );
        assert_eq!(judge(&arr(exists)).0, Outcome::AlreadyExists);
        let (outcome, detail) = judge(&arr(queued));
        assert_eq!(outcome, Outcome::Queued);
        assert!(detail.contains("table/`T`/create"), "{detail}");
        assert_eq!(judge(&[]).0, Outcome::Failed);
    }
}
