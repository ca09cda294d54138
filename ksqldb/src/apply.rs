//! `ksql apply`: creates what the system needs in ksqlDB (the statements in the repository's
//! `ksql/` folder, built into the binary) and reports each statement's result. Idempotent:
//! every statement is `IF NOT EXISTS`, so a second run reports "already exists".
//!
//! An object that already exists may not be the one the statement describes: a user who ran
//! the seed's own `CREATE STREAM motion_stream (event_id VARCHAR KEY, …) … partitions=1` has a
//! `MOTION_STREAM` with a key column and without our optional columns. So for each existing
//! object, `DESCRIBE` is asked and compared with the statement, column by column, and for the
//! events stream the report says whether the app can follow it as it is.

use serde::Serialize;
use serde_json::Value;

use crate::client::Client;
use crate::error::KsqlDbError;
use crate::query::{quote_identifier, DEFAULT_STREAM};

/// The statement files, in the order they must run.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "01_motion_stream.sql",
        include_str!("../../ksql/01_motion_stream.sql"),
    ),
    (
        "02_device_status.sql",
        include_str!("../../ksql/02_device_status.sql"),
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
    /// For an object that already existed: how it differs from the statement, in words (empty
    /// when it is the same, or when the server could not describe it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// For the events stream that already existed: whether the app can follow it as it is,
    /// and if not, why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_follow: Option<Followable>,
}

/// Whether the app can follow an existing events stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Followable {
    pub yes: bool,
    /// Why not, or what the app will lack (missing optional columns).
    pub notes: Vec<String>,
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
        let (differences, can_follow) = if outcome == Outcome::AlreadyExists {
            compare_existing(client, &statement).await
        } else {
            (Vec::new(), None)
        };
        results.push(Applied {
            file,
            statement: statement_head,
            outcome,
            detail,
            differences,
            can_follow,
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

/// One column as a statement declares it or as `DESCRIBE` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    /// As ksqlDB knows it: unquoted names upper-cased.
    name: String,
    /// ksqlDB's type name (`VARCHAR` is `STRING`, `INT` is `INTEGER`).
    kind: String,
    key: bool,
}

/// What a `CREATE` declares that `DESCRIBE` can confirm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Shape {
    name: String,
    columns: Vec<Column>,
    topic: Option<String>,
    partitions: Option<u64>,
}

/// The seed's columns, which every events stream must have for the app to read its rows.
const REQUIRED: [&str; 7] = [
    "EVENT_ID",
    "DEVICE_ID",
    "DEVICE_NAME",
    "DEVICE_TYPE",
    "URL",
    "TIME",
    "MESSAGE",
];

/// Asks the server to describe the object `statement` creates and compares the two. A server
/// that cannot describe it leaves the comparison out (said in the differences).
async fn compare_existing(client: &Client, statement: &str) -> (Vec<String>, Option<Followable>) {
    let Some(ours) = declared(statement) else {
        return (Vec::new(), None);
    };
    // EXTENDED reports the topic's partitions (plain DESCRIBE says 0); a server that refuses
    // it is asked without.
    let name = quote_identifier(&ours.name);
    let answer = match client
        .statement(&format!("DESCRIBE {name} EXTENDED;"))
        .await
    {
        Ok(entities) => Ok(entities),
        Err(_) => client.statement(&format!("DESCRIBE {name};")).await,
    };
    let theirs = match answer {
        Ok(entities) => entities.first().and_then(described),
        Err(err) => {
            return (
                vec![format!(
                    "could not compare it with this statement: DESCRIBE failed: {}",
                    describe(&err)
                )],
                None,
            )
        }
    };
    let Some(theirs) = theirs else {
        return (
            vec![
                "could not compare it with this statement: DESCRIBE gave no source description"
                    .into(),
            ],
            None,
        );
    };
    let followable = (ours.name == DEFAULT_STREAM).then(|| can_follow(&theirs));
    (differences(&ours, &theirs), followable)
}

/// The name, columns, topic and partitions a `CREATE STREAM|TABLE` statement declares;
/// `None` for a statement without a column list (`AS SELECT`) or one this cannot read.
fn declared(statement: &str) -> Option<Shape> {
    let open = outside_quotes(statement, '(')?;
    let mut prefix = statement[..open].trim();
    let mut created = false;
    loop {
        let word = prefix.split_whitespace().next().unwrap_or_default();
        let keyword = matches!(
            word.to_ascii_uppercase().as_str(),
            "CREATE" | "OR" | "REPLACE" | "SOURCE" | "STREAM" | "TABLE" | "IF" | "NOT" | "EXISTS"
        );
        if !keyword || word.len() == prefix.len() {
            break;
        }
        created |= word.eq_ignore_ascii_case("CREATE");
        prefix = prefix[word.len()..].trim_start();
    }
    let quoted = ['`', '"']
        .iter()
        .any(|q| prefix.len() > 1 && prefix.starts_with(*q) && prefix.ends_with(*q));
    // `name WITH (…) AS SELECT`: the parenthesis holds properties, not columns.
    if !created || prefix.is_empty() || (!quoted && prefix.contains(char::is_whitespace)) {
        return None;
    }
    let name = identifier(prefix);
    let (inside, rest) = balanced(&statement[open..])?;
    let columns = top_level(inside, ',')
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| {
            let mut parts = c.split_whitespace();
            let name = identifier(parts.next()?);
            let rest: Vec<String> = parts.map(str::to_ascii_uppercase).collect();
            let key = rest.last().is_some_and(|w| w == "KEY");
            let kind = rest
                .iter()
                .take_while(|w| *w != "KEY" && *w != "PRIMARY" && *w != "HEADERS")
                .cloned()
                .collect::<Vec<_>>()
                .join(" ");
            Some(Column {
                name,
                kind: canonical_type(&kind),
                key,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let with = rest.to_ascii_uppercase();
    let property = |key: &str| -> Option<String> {
        let at = with.find(key)?;
        let after = rest[at + key.len()..]
            .trim_start()
            .strip_prefix('=')?
            .trim_start();
        Some(match after.strip_prefix('\'') {
            Some(quoted) => quoted.split('\'').next()?.to_owned(),
            None => after
                .split(|c: char| c == ',' || c == ')' || c.is_whitespace())
                .next()?
                .to_owned(),
        })
    };
    Some(Shape {
        name,
        columns,
        topic: property("KAFKA_TOPIC"),
        partitions: property("PARTITIONS").and_then(|p| p.parse().ok()),
    })
}

/// A name as ksqlDB stores it: backquoted or double-quoted kept, plain upper-cased.
fn identifier(raw: &str) -> String {
    let raw = raw.trim();
    for q in ['`', '"'] {
        if let Some(inner) = raw.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.replace(&format!("{q}{q}"), &q.to_string());
        }
    }
    raw.to_ascii_uppercase()
}

/// `VARCHAR` and `STRING` are one type to ksqlDB, as are `INT` and `INTEGER`.
fn canonical_type(kind: &str) -> String {
    let kind = kind.trim().to_ascii_uppercase();
    match kind.as_str() {
        "VARCHAR" => "STRING".into(),
        "INT" => "INTEGER".into(),
        _ => kind,
    }
}

/// The text inside the parenthesis `text` starts with, and the text after it; quotes and
/// nested parentheses (`STRUCT<…>`, `DECIMAL(…)`) respected.
fn balanced(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '`' | '"' => quote = Some(c),
                '(' => depth += 1,
                ')' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some((&text[1..i], &text[i + 1..]));
                    }
                }
                _ => {}
            },
        }
    }
    None
}

/// Where `wanted` first occurs outside quotes.
fn outside_quotes(text: &str, wanted: char) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == wanted => return Some(i),
            None if matches!(c, '\'' | '`' | '"') => quote = Some(c),
            None => {}
        }
    }
    None
}

/// `text` split at `sep` where it is outside quotes, parentheses and angle brackets.
fn top_level(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '`' | '"' => quote = Some(c),
                '(' | '<' => depth += 1,
                ')' | '>' => depth -= 1,
                c if c == sep && depth == 0 => {
                    parts.push(&text[start..i]);
                    start = i + c.len_utf8();
                }
                _ => {}
            },
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The shape in a `DESCRIBE` answer's `sourceDescription` entity.
fn described(entity: &Value) -> Option<Shape> {
    let source = entity.get("sourceDescription")?;
    let columns = source
        .get("fields")?
        .as_array()?
        .iter()
        .map(|f| {
            Some(Column {
                name: f.get("name")?.as_str()?.to_owned(),
                kind: canonical_type(f.get("schema")?.get("type")?.as_str()?),
                key: f.get("type").and_then(Value::as_str) == Some("KEY"),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Shape {
        name: source.get("name")?.as_str()?.to_owned(),
        columns,
        topic: source
            .get("topic")
            .and_then(Value::as_str)
            .map(str::to_owned),
        partitions: source.get("partitions").and_then(Value::as_u64),
    })
}

/// Each way the existing object differs from the statement, in words a user can act on.
fn differences(ours: &Shape, theirs: &Shape) -> Vec<String> {
    let mut out = Vec::new();
    let find = |shape: &Shape, name: &str| shape.columns.iter().find(|c| c.name == name).cloned();
    let role = |c: &Column| {
        if c.key {
            "a KEY column"
        } else {
            "a value column"
        }
    };
    for c in &ours.columns {
        match find(theirs, &c.name) {
            None => out.push(format!("it has no column {}", c.name)),
            Some(t) => {
                if t.kind != c.kind {
                    out.push(format!("{} is {} there (ours: {})", c.name, t.kind, c.kind));
                }
                if t.key != c.key {
                    out.push(format!(
                        "{} is {} there (ours: {})",
                        c.name,
                        role(&t),
                        role(c)
                    ));
                }
            }
        }
    }
    for t in &theirs.columns {
        if find(ours, &t.name).is_none() {
            out.push(format!(
                "it has a column {} ({}) that ours has not",
                t.name, t.kind
            ));
        }
    }
    if let (Some(a), Some(b)) = (&ours.topic, &theirs.topic) {
        if !a.eq_ignore_ascii_case(b) {
            out.push(format!("it reads topic {b} (ours: {a})"));
        }
    }
    if let (Some(a), Some(b)) = (ours.partitions, theirs.partitions) {
        if a != b && b > 0 {
            out.push(format!("its topic has {b} partitions (ours: {a})"));
        }
    }
    out
}

/// Whether the app can read events from `theirs`: the seed's columns must be there (as key or
/// value columns) with types it reads; our optional columns may be missing.
fn can_follow(theirs: &Shape) -> Followable {
    let mut notes = Vec::new();
    let mut yes = true;
    let find = |name: &str| theirs.columns.iter().find(|c| c.name == name);
    for name in REQUIRED {
        let ids = matches!(name, "EVENT_ID" | "DEVICE_ID");
        match find(name) {
            None => {
                yes = false;
                notes.push(format!(
                    "the column {name} is missing, and every event needs it"
                ));
            }
            Some(c) if c.kind == "STRING" => {}
            Some(c) if ids && matches!(c.kind.as_str(), "BIGINT" | "INTEGER") => {}
            Some(c) => {
                yes = false;
                notes.push(format!(
                    "{name} is {}, but the app reads it as text",
                    c.kind
                ));
            }
        }
    }
    for (name, lacks) in [
        (
            "SNAPSHOT_URL",
            "snapshots in alerts and while a clip uploads",
        ),
        ("KIND", "the motion_started/clip_ready distinction"),
        (
            "TIMESTAMP_MS",
            "exact event times (the camera-local `time` is used)",
        ),
        ("DURATION_S", "clip durations"),
    ] {
        if find(name).is_none() {
            notes.push(format!("without {name}, the app shows no {lacks}"));
        }
    }
    Followable { yes, notes }
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

    const SEED: &str = "CREATE STREAM motion_stream (event_id VARCHAR KEY, device_id VARCHAR, \
        device_name VARCHAR, device_type VARCHAR, url VARCHAR, time VARCHAR, message VARCHAR) \
        WITH (KAFKA_TOPIC='ksql_motion_events', VALUE_FORMAT='JSON', partitions=1);";

    /// A `DESCRIBE … EXTENDED` entity (ksqlDB's `SourceDescriptionEntity`) for `columns`:
    /// (name, type, key).
    fn description(columns: &[(&str, &str, bool)], partitions: u64) -> Value {
        let fields: Vec<Value> = columns
            .iter()
            .map(|(name, kind, key)| {
                let mut f = json!({"name": name, "schema": {"type": kind, "fields": null, "memberSchema": null}});
                if *key {
                    f["type"] = json!("KEY");
                }
                f
            })
            .collect();
        json!({"@type": "sourceDescription", "statementText": "DESCRIBE `MOTION_STREAM` EXTENDED;",
               "sourceDescription": {"name": "MOTION_STREAM", "windowType": null, "readQueries": [],
               "writeQueries": [], "fields": fields, "type": "STREAM", "timestamp": "",
               "statistics": "", "errorStats": "", "extended": true, "keyFormat": "KAFKA",
               "valueFormat": "JSON", "topic": "ksql_motion_events", "partitions": partitions,
               "replication": 1, "statement": SEED}, "warnings": []})
    }

    fn seed_columns() -> Vec<(&'static str, &'static str, bool)> {
        REQUIRED
            .iter()
            .map(|n| (*n, "STRING", *n == "EVENT_ID"))
            .collect()
    }

    #[test]
    fn statements_are_read_for_their_columns_topic_and_partitions() {
        let seed = declared(SEED).expect("the seed's statement");
        assert_eq!(seed.name, "MOTION_STREAM");
        assert_eq!(seed.topic.as_deref(), Some("ksql_motion_events"));
        assert_eq!(seed.partitions, Some(1));
        assert_eq!(seed.columns.len(), 7);
        assert!(seed.columns[0].key && seed.columns[0].name == "EVENT_ID");
        assert!(seed.columns.iter().all(|c| c.kind == "STRING"));
        let ours = declared(&split("f", BUILT_IN[0].1).expect("split")[0]).expect("ours");
        assert_eq!(ours.columns.len(), 11);
        assert_eq!(ours.partitions, Some(3));
        assert_eq!(ours.columns[9].kind, "BIGINT");
        assert!(ours.columns.iter().all(|c| !c.key));
        // A table built by a query declares no columns: nothing to compare.
        let ctas = &split("f", BUILT_IN[1].1).expect("split")[1];
        assert_eq!(declared(ctas), None);
        assert_eq!(
            declared("CREATE STREAM `odd name` (`a,b` STRUCT<x INT, y VARCHAR>, c DECIMAL(4, 2)) WITH (KAFKA_TOPIC='t');")
                .map(|s| (s.name, s.columns.into_iter().map(|c| (c.name, c.kind)).collect::<Vec<_>>())),
            Some(("odd name".to_owned(), vec![
                ("a,b".to_owned(), "STRUCT<X INT, Y VARCHAR>".to_owned()),
                ("C".to_owned(), "DECIMAL(4, 2)".to_owned()),
            ]))
        );
    }

    #[test]
    fn the_seeds_stream_differs_from_ours_and_can_be_followed() {
        let ours = declared(&split("f", BUILT_IN[0].1).expect("split")[0]).expect("ours");
        let theirs = described(&description(&seed_columns(), 1)).expect("described");
        let diff = differences(&ours, &theirs);
        assert_eq!(
            diff,
            [
                "EVENT_ID is a KEY column there (ours: a value column)",
                "it has no column SNAPSHOT_URL",
                "it has no column KIND",
                "it has no column TIMESTAMP_MS",
                "it has no column DURATION_S",
                "its topic has 1 partitions (ours: 3)",
            ]
        );
        let follow = can_follow(&theirs);
        assert!(follow.yes, "{follow:?}");
        assert_eq!(follow.notes.len(), 4, "{follow:?}");
        assert!(follow.notes[0].contains("SNAPSHOT_URL"), "{follow:?}");
        // The same stream described again: no difference.
        assert!(differences(&theirs, &theirs).is_empty());
    }

    #[test]
    fn a_stream_without_a_seed_column_or_with_a_wrong_type_cannot_be_followed() {
        let mut columns = seed_columns();
        columns.retain(|(n, _, _)| *n != "TIME");
        columns.push(("DEVICE_ID2", "STRING", false));
        columns[1].1 = "BIGINT"; // DEVICE_ID as a number: still read (as its decimal text)
        columns[2].1 = "ARRAY<STRING>"; // DEVICE_NAME: not text
        let theirs = described(&description(&columns, 1)).expect("described");
        let follow = can_follow(&theirs);
        assert!(!follow.yes);
        assert!(
            follow.notes.iter().any(|n| n.contains("TIME is missing")),
            "{follow:?}"
        );
        assert!(
            follow
                .notes
                .iter()
                .any(|n| n.contains("DEVICE_NAME is ARRAY<STRING>")),
            "{follow:?}"
        );
        assert!(
            !follow.notes.iter().any(|n| n.contains("DEVICE_ID ")),
            "{follow:?}"
        );
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
