//! The few statements the double understands, read with ksqlDB's lexical rules: unquoted
//! identifiers are upper-cased, `` `…` `` and `"…"` identifiers keep their case (a doubled quote
//! escapes one), `'…'` strings double their quote, and every statement must end with `;`.
//!
//! Understood: `SELECT * FROM s [WHERE ROWTIME <op> n [AND …]] [EMIT CHANGES] [LIMIT n];`
//! (a push query with `EMIT CHANGES`, a stream pull query without), `LIST STREAMS;`,
//! `SHOW STREAMS;` and `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [(columns)]
//! [WITH (…)] [AS SELECT …];` (read for its name, columns, topic and source). Anything else is
//! refused with a statement error, as ksqlDB would refuse what it cannot run.

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Number(i64),
    Str(String),
    Sym(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

impl Op {
    pub fn holds(self, left: i64, right: i64) -> bool {
        match self {
            Op::Ge => left >= right,
            Op::Gt => left > right,
            Op::Le => left <= right,
            Op::Lt => left < right,
            Op::Eq => left == right,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub source: String,
    /// Conditions on `ROWTIME`, all of which must hold.
    pub rowtime: Vec<(Op, i64)>,
    pub push: bool,
    pub limit: Option<u64>,
}

impl Select {
    pub fn matches(&self, rowtime: i64) -> bool {
        self.rowtime.iter().all(|(op, n)| op.holds(rowtime, *n))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Stream,
    Table,
}

impl ObjectKind {
    pub fn word(self) -> &'static str {
        match self {
            ObjectKind::Stream => "stream",
            ObjectKind::Table => "table",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Create {
    pub kind: ObjectKind,
    pub name: String,
    pub if_not_exists: bool,
    /// Declared column names, upper-cased as ksqlDB does (empty for `AS SELECT`).
    pub columns: Vec<String>,
    /// `KAFKA_TOPIC` from the WITH clause.
    pub topic: Option<String>,
    /// The `FROM` source of an `AS SELECT`.
    pub from: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Select),
    ListStreams,
    Create(Create),
}

/// Why a statement was refused; `syntax` errors are ksqlDB's 40001 as well.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlError(pub String);

fn lex(sql: &str) -> Result<Vec<Token>, SqlError> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut word = String::new();
            while let Some(c) =
                chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '@')
            {
                word.push(c.to_ascii_uppercase());
            }
            tokens.push(Token::Word(word));
        } else if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(c) = chars.next_if(char::is_ascii_digit) {
                digits.push(c);
            }
            let n = digits
                .parse()
                .map_err(|_| SqlError(format!("number {digits} is too large")))?;
            tokens.push(Token::Number(n));
        } else if c == '`' || c == '"' || c == '\'' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some(q) if q == c && chars.next_if_eq(&c).is_some() => text.push(c),
                    Some(q) if q == c => break,
                    Some(other) => text.push(other),
                    None => return Err(SqlError(format!("unterminated {c}…{c}"))),
                }
            }
            tokens.push(if c == '\'' {
                Token::Str(text)
            } else {
                Token::Quoted(text)
            });
        } else {
            chars.next();
            let two = chars.peek().map(|n| format!("{c}{n}"));
            let sym = match two.as_deref() {
                Some(">=") => Some(">="),
                Some("<=") => Some("<="),
                Some("<>") | Some("!=") => Some("<>"),
                _ => None,
            };
            if let Some(sym) = sym {
                chars.next();
                tokens.push(Token::Sym(sym));
            } else {
                tokens.push(Token::Sym(match c {
                    '*' => "*",
                    ';' => ";",
                    ',' => ",",
                    '=' => "=",
                    '<' => "<",
                    '>' => ">",
                    '(' => "(",
                    ')' => ")",
                    _ => return Err(SqlError(format!("Syntax Error: unexpected {c:?}"))),
                }));
            }
        }
    }
    Ok(tokens)
}

fn identifier(c: &mut Cursor) -> Result<String, SqlError> {
    match c.next() {
        Some(Token::Word(w)) => Ok(w),
        Some(Token::Quoted(q)) => Ok(q),
        _ => Err(SqlError("Syntax Error: expecting a name".into())),
    }
}

/// After `CREATE`: `[OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [(col type …, …)]
/// [WITH (k = v, …)] [AS SELECT … FROM source …]`, up to the final `;`.
fn create(c: &mut Cursor) -> Result<Create, SqlError> {
    if c.word("OR") {
        c.expect_word("REPLACE")?;
    }
    let kind = if c.word("STREAM") {
        ObjectKind::Stream
    } else if c.word("TABLE") {
        ObjectKind::Table
    } else {
        return Err(c.unexpected("STREAM or TABLE"));
    };
    let if_not_exists = if c.word("IF") {
        c.expect_word("NOT")?;
        c.expect_word("EXISTS")?;
        true
    } else {
        false
    };
    let name = identifier(c)?;
    let mut columns = Vec::new();
    if c.sym("(") {
        loop {
            columns.push(identifier(c)?);
            // The type and KEY: skipped, nesting (STRUCT<…>, DECIMAL(…)) included.
            let mut depth = 0;
            loop {
                match c.next() {
                    Some(Token::Sym("(")) | Some(Token::Sym("<")) => depth += 1,
                    Some(Token::Sym(")")) if depth == 0 => break,
                    Some(Token::Sym(",")) if depth == 0 => break,
                    Some(Token::Sym(")")) | Some(Token::Sym(">")) => depth -= 1,
                    Some(_) => {}
                    None => return Err(SqlError("Syntax Error: unclosed column list".into())),
                }
            }
            if matches!(c.tokens.get(c.at - 1), Some(Token::Sym(")"))) {
                break;
            }
        }
    }
    let mut topic = None;
    if c.word("WITH") {
        if !c.sym("(") {
            return Err(c.unexpected("'(' after WITH"));
        }
        loop {
            let key = identifier(c)?;
            if !c.sym("=") {
                return Err(c.unexpected("'=' in WITH"));
            }
            let value = match c.next() {
                Some(Token::Str(v)) | Some(Token::Word(v)) | Some(Token::Quoted(v)) => v,
                Some(Token::Number(n)) => n.to_string(),
                _ => return Err(SqlError("Syntax Error: expecting a property value".into())),
            };
            if key == "KAFKA_TOPIC" {
                topic = Some(value);
            }
            if c.sym(")") {
                break;
            }
            if !c.sym(",") {
                return Err(c.unexpected("',' or ')' in WITH"));
            }
        }
    }
    let mut from = None;
    if c.word("AS") {
        c.expect_word("SELECT")?;
        while !matches!(c.peek(), None | Some(Token::Sym(";"))) {
            if c.word("FROM") {
                from = Some(identifier(c)?);
            } else {
                c.next();
            }
        }
    }
    if columns.is_empty() && from.is_none() {
        return Err(SqlError(
            "Syntax Error: a CREATE needs a column list or AS SELECT".into(),
        ));
    }
    Ok(Create {
        kind,
        name,
        if_not_exists,
        columns,
        topic,
        from,
    })
}

struct Cursor {
    tokens: Vec<Token>,
    at: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn word(&mut self, w: &str) -> bool {
        if self.peek() == Some(&Token::Word(w.to_owned())) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<(), SqlError> {
        if self.word(w) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{w}'")))
        }
    }

    fn sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Token::Sym(x)) if *x == s) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn unexpected(&self, wanted: &str) -> SqlError {
        match self.peek() {
            Some(t) => SqlError(format!("Syntax Error: expecting {wanted}, found {t:?}")),
            None => SqlError(format!("Syntax Error: expecting {wanted}, found the end")),
        }
    }
}

pub fn parse(sql: &str) -> Result<Statement, SqlError> {
    let mut c = Cursor {
        tokens: lex(sql)?,
        at: 0,
    };
    if c.tokens.last() != Some(&Token::Sym(";")) {
        // Grammar: `singleStatement : statement ';'`.
        return Err(SqlError(
            "Syntax Error: statements must end with ';'".into(),
        ));
    }
    let statement = if c.word("CREATE") {
        Statement::Create(create(&mut c)?)
    } else if c.word("LIST") || c.word("SHOW") {
        c.expect_word("STREAMS")?;
        Statement::ListStreams
    } else if c.word("SELECT") {
        if !c.sym("*") {
            return Err(c.unexpected("'*' (the test double serves SELECT * only)"));
        }
        c.expect_word("FROM")?;
        let source = match c.next() {
            Some(Token::Word(w)) => w,
            Some(Token::Quoted(q)) => q,
            _ => return Err(SqlError("Syntax Error: expecting a source name".into())),
        };
        let mut rowtime = Vec::new();
        if c.word("WHERE") {
            loop {
                if !c.word("ROWTIME") {
                    return Err(c.unexpected("ROWTIME (the test double filters on ROWTIME only)"));
                }
                let op = match c.next() {
                    Some(Token::Sym(">=")) => Op::Ge,
                    Some(Token::Sym(">")) => Op::Gt,
                    Some(Token::Sym("<=")) => Op::Le,
                    Some(Token::Sym("<")) => Op::Lt,
                    Some(Token::Sym("=")) => Op::Eq,
                    _ => return Err(SqlError("Syntax Error: expecting a comparison".into())),
                };
                let Some(Token::Number(n)) = c.next() else {
                    return Err(SqlError(
                        "Syntax Error: ROWTIME is compared with a number".into(),
                    ));
                };
                rowtime.push((op, n));
                if !c.word("AND") {
                    break;
                }
            }
        }
        let push = if c.word("EMIT") {
            c.expect_word("CHANGES")?;
            true
        } else {
            false
        };
        let limit = if c.word("LIMIT") {
            match c.next() {
                Some(Token::Number(n)) => Some(n as u64),
                _ => return Err(SqlError("Syntax Error: LIMIT takes a number".into())),
            }
        } else {
            None
        };
        Statement::Select(Select {
            source,
            rowtime,
            push,
            limit,
        })
    } else {
        return Err(SqlError(
            "the ksqldb-double test stand-in runs only SELECT * …, LIST STREAMS, SHOW STREAMS and CREATE STREAM|TABLE"
                .into(),
        ));
    };
    if !c.sym(";") || c.peek().is_some() {
        return Err(c.unexpected("';' ending the one statement"));
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_statements_parse() {
        assert_eq!(
            parse("SELECT * FROM `MOTION_STREAM` EMIT CHANGES;"),
            Ok(Statement::Select(Select {
                source: "MOTION_STREAM".into(),
                rowtime: vec![],
                push: true,
                limit: None
            }))
        );
        assert_eq!(
            parse("select * from motion_stream where rowtime >= 1700000000000 and ROWTIME < 5 limit 3;"),
            Ok(Statement::Select(Select {
                source: "MOTION_STREAM".into(),
                rowtime: vec![(Op::Ge, 1_700_000_000_000), (Op::Lt, 5)],
                push: false,
                limit: Some(3)
            }))
        );
        assert_eq!(parse("LIST STREAMS;"), Ok(Statement::ListStreams));
    }

    #[test]
    fn creates_are_read_for_name_columns_topic_and_source() {
        let Ok(Statement::Create(s)) = parse(
            "CREATE STREAM IF NOT EXISTS motion_stream (event_id VARCHAR, `Odd` STRUCT<a INT, b DECIMAL(4, 2)>, ts BIGINT) \
             WITH (KAFKA_TOPIC = 'ksql_motion_events', VALUE_FORMAT = 'JSON', PARTITIONS = 3);",
        ) else {
            panic!("parse");
        };
        assert_eq!(s.kind, ObjectKind::Stream);
        assert_eq!(s.name, "MOTION_STREAM");
        assert!(s.if_not_exists);
        assert_eq!(s.columns, ["EVENT_ID", "Odd", "TS"]);
        assert_eq!(s.topic.as_deref(), Some("ksql_motion_events"));
        let Ok(Statement::Create(t)) = parse(
            "CREATE TABLE t AS SELECT id, LATEST_BY_OFFSET(x) AS x FROM src GROUP BY id EMIT CHANGES;",
        ) else {
            panic!("parse");
        };
        assert_eq!(
            (t.kind, t.from.as_deref()),
            (ObjectKind::Table, Some("SRC"))
        );
        assert!(parse("CREATE STREAM s WITH (KAFKA_TOPIC='t');").is_err());
    }

    #[test]
    fn quoted_names_keep_case_and_doubled_quotes() {
        let Ok(Statement::Select(s)) = parse("SELECT * FROM `a``b c` EMIT CHANGES;") else {
            panic!("parse");
        };
        assert_eq!(s.source, "a`b c");
    }

    #[test]
    fn a_missing_semicolon_or_trailing_text_is_refused() {
        assert!(parse("SELECT * FROM S EMIT CHANGES").is_err());
        assert!(parse("SELECT * FROM S; DROP STREAM S;").is_err());
        assert!(parse("SELECT * FROM `S` EMIT CHANGES; DROP STREAM `Y`;").is_err());
    }
}
