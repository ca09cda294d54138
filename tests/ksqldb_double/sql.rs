//! The few statements the double understands, read with ksqlDB's lexical rules: unquoted
//! identifiers are upper-cased, `` `…` `` and `"…"` identifiers keep their case (a doubled quote
//! escapes one), `'…'` strings double their quote, `--` and `/* */` are comments, and every
//! statement must end with `;`.
//!
//! Understood:
//! - `SELECT items FROM s [WHERE cond [AND cond …]] [EMIT CHANGES] [LIMIT n];` (a push query
//!   with `EMIT CHANGES`, a stream pull query without). `items` are `*`, column names and the
//!   pseudocolumn `ROWTIME`, in the order written (`*, ROWTIME` puts ROWTIME last). A `cond`
//!   is `col <op> literal` (`=`, `<>`, `!=`, `<`, `<=`, `>`, `>=`) or `col IN (literal, …)`
//!   over a column or ROWTIME; literals are `'strings'`, integers and TRUE/FALSE, and ROWTIME
//!   also takes an ISO date-time string (UTC). Types are checked as ksqlDB's `ComparisonUtil`
//!   does: strings with strings, numbers with numbers, booleans by (in)equality only.
//! - `LIST STREAMS;`, `SHOW STREAMS;`, `DESCRIBE name [EXTENDED];`.
//! - `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [(col type [KEY|PRIMARY KEY], …)]
//!   [WITH (k = v, …)] [AS SELECT …];`, with column types STRING/VARCHAR, INT/INTEGER, BIGINT,
//!   DOUBLE and BOOLEAN (what the double can serve); an `AS SELECT` is read for its source only.
//!
//! Anything else (OR, functions, other types, other statements) is refused with a statement
//! error, as ksqlDB refuses what it cannot run. This is no SQL engine: the WHERE of a query is
//! a list of conditions that must all hold, not an expression tree.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::kafka::{Column, Kind};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Number(i64),
    Str(String),
    Sym(&'static str),
}

/// Where a token starts, as ksqlDB's `NodeLocation` prints it (`Line: 1, Col: 8`, both from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Line: {}, Col: {}", self.line, self.col)
    }
}

/// Why a statement was refused: ksqlDB's 40001 statement error, with this message.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, SqlError> {
    Err(SqlError(message.into()))
}

/// ksqlDB's `ComparisonExpression.Type`, whose names its type errors print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Eq => "EQUAL",
            Op::Ne => "NOT_EQUAL",
            Op::Lt => "LESS_THAN",
            Op::Le => "LESS_THAN_OR_EQUAL",
            Op::Gt => "GREATER_THAN",
            Op::Ge => "GREATER_THAN_OR_EQUAL",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Literal {
    /// The literal's SQL type, as ksqlDB types it: an integer that fits 32 bits is INTEGER.
    fn type_name(&self) -> &'static str {
        match self {
            Literal::Str(_) => "STRING",
            Literal::Int(n) if i32::try_from(*n).is_ok() => "INTEGER",
            Literal::Int(_) => "BIGINT",
            Literal::Bool(_) => "BOOLEAN",
        }
    }

    /// Whether a column of `kind` can be compared with this literal by `op`
    /// (`ComparisonUtil.isValidComparison`).
    fn comparable(&self, kind: Kind, op: Op) -> bool {
        match (kind, self) {
            (Kind::String, Literal::Str(_)) => true,
            (Kind::Int | Kind::BigInt | Kind::Double, Literal::Int(_)) => true,
            (Kind::Boolean, Literal::Bool(_)) => matches!(op, Op::Eq | Op::Ne),
            _ => false,
        }
    }

    /// How a row's value compares with the literal; `None` for SQL NULL, which satisfies no
    /// comparison.
    fn compare(&self, value: &Value) -> Option<Ordering> {
        match (value, self) {
            // Rust orders strings by code point and Java by UTF-16 unit: they differ only
            // between characters above U+FFFF and those from U+E000 to U+FFFF.
            (Value::String(s), Literal::Str(l)) => Some(s.as_str().cmp(l.as_str())),
            (Value::Number(n), Literal::Int(l)) => match n.as_i64() {
                Some(i) => Some(i.cmp(l)),
                None => n.as_f64()?.partial_cmp(&(*l as f64)),
            },
            (Value::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
            _ => None,
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A column as a statement names it, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub text: String,
    pub at: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `*`: the key columns, then the value columns.
    All,
    /// A column, or the pseudocolumn ROWTIME.
    Column(Name),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Name, Op, Literal),
    In(Name, Vec<Literal>),
}

impl Condition {
    fn name(&self) -> &Name {
        match self {
            Condition::Compare(n, _, _) | Condition::In(n, _) => n,
        }
    }

    /// Each literal with the operator it is compared by.
    fn literals(&self) -> Vec<(Op, &Literal)> {
        match self {
            Condition::Compare(_, op, l) => vec![(*op, l)],
            Condition::In(_, ls) => ls.iter().map(|l| (Op::Eq, l)).collect(),
        }
    }

    fn holds(&self, value: &Value) -> bool {
        match self {
            Condition::Compare(_, op, l) => l.compare(value).is_some_and(|o| op.holds(o)),
            Condition::In(_, ls) => ls.iter().any(|l| l.compare(value) == Some(Ordering::Equal)),
        }
    }
}

/// The pseudocolumn every stream has: the record's timestamp in milliseconds.
pub const ROWTIME: &str = "ROWTIME";

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub items: Vec<Item>,
    pub source: String,
    /// All of these must hold for a row to be sent.
    pub conditions: Vec<Condition>,
    pub push: bool,
    pub limit: Option<u64>,
}

/// What a name in a query stands for in the source's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ref {
    Rowtime,
    At(usize),
}

fn resolve(source: &[Column], name: &str) -> Option<(Ref, Kind)> {
    if name == ROWTIME {
        return Some((Ref::Rowtime, Kind::BigInt));
    }
    source
        .iter()
        .position(|c| c.name == name)
        .map(|i| (Ref::At(i), source[i].kind))
}

fn value_of(r: Ref, rowtime: i64, values: &[Value]) -> Value {
    match r {
        Ref::Rowtime => Value::from(rowtime),
        Ref::At(i) => values.get(i).cloned().unwrap_or(Value::Null),
    }
}

impl Select {
    /// Refuses a query over `source` as ksqlDB's analyzer would: an unknown column (message of
    /// `ColumnReferenceValidator`) or a comparison of types that do not compare (message of
    /// `ExpressionTypeManager.visitComparisonExpression`; an IN list is checked as `=`).
    pub fn check(&self, source: &[Column]) -> Result<(), SqlError> {
        for item in &self.items {
            if let Item::Column(n) = item {
                unresolved(source, n, "SELECT")?;
            }
        }
        for c in &self.conditions {
            let n = c.name();
            let kind = unresolved(source, n, "WHERE")?;
            for (op, l) in c.literals() {
                if !l.comparable(kind, op) {
                    return err(format!(
                        "Cannot compare {} ({}) to {l} ({}) with {}.",
                        identifier_sql(&n.text),
                        kind.name(),
                        l.type_name(),
                        op.name()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The columns the query returns, in order: its header (§5: `SELECT *` is the key columns,
    /// then the value columns, and no pseudocolumn).
    pub fn columns(&self, source: &[Column]) -> Vec<Column> {
        let mut out = Vec::new();
        for item in &self.items {
            match item {
                Item::All => out.extend(source.iter().cloned()),
                Item::Column(n) => out.push(match resolve(source, &n.text) {
                    Some((Ref::At(i), _)) => source[i].clone(),
                    _ => Column {
                        name: Cow::Owned(n.text.clone()),
                        kind: Kind::BigInt,
                        key: false,
                    },
                }),
            }
        }
        out
    }

    /// The row the query sends for a record whose source row is `values` (in `source`'s
    /// order), or `None` when a WHERE condition does not hold. Assumes [`Select::check`]
    /// passed; a name that does not resolve holds no condition and reads as NULL.
    pub fn row(&self, source: &[Column], rowtime: i64, values: Vec<Value>) -> Option<Vec<Value>> {
        let holds = self.conditions.iter().all(|c| {
            resolve(source, &c.name().text)
                .is_some_and(|(r, _)| c.holds(&value_of(r, rowtime, &values)))
        });
        if !holds {
            return None;
        }
        if self.items == [Item::All] {
            return Some(values);
        }
        let mut out = Vec::new();
        for item in &self.items {
            match item {
                Item::All => out.extend(values.iter().cloned()),
                Item::Column(n) => out.push(
                    resolve(source, &n.text)
                        .map_or(Value::Null, |(r, _)| value_of(r, rowtime, &values)),
                ),
            }
        }
        Some(out)
    }
}

fn unresolved(source: &[Column], n: &Name, clause: &str) -> Result<Kind, SqlError> {
    if matches!(n.text.as_str(), "ROWPARTITION" | "ROWOFFSET") {
        return err(format!(
            "(ksqldb-double) the test stand-in does not serve the pseudocolumn {}",
            n.text
        ));
    }
    match resolve(source, &n.text) {
        Some((_, kind)) => Ok(kind),
        None => err(format!(
            "{}: {clause} column '{}' cannot be resolved.",
            n.at, n.text
        )),
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
    pub or_replace: bool,
    pub if_not_exists: bool,
    /// Declared columns in declaration order, names upper-cased unless quoted (empty for
    /// `AS SELECT`).
    pub columns: Vec<Column>,
    /// The WITH clause, keys upper-cased, in the order written.
    pub with: Vec<(String, Literal)>,
    /// The `FROM` source of an `AS SELECT`.
    pub from: Option<String>,
}

impl Create {
    fn property(&self, key: &str) -> Option<&Literal> {
        self.with.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn text_property(&self, key: &str) -> Option<String> {
        match self.property(key)? {
            Literal::Str(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    pub fn topic(&self) -> Option<String> {
        self.text_property("KAFKA_TOPIC")
    }

    pub fn partitions(&self) -> Option<i32> {
        match self.property("PARTITIONS")? {
            Literal::Int(n) => i32::try_from(*n).ok(),
            Literal::Str(s) => s.trim().parse().ok(),
            Literal::Bool(_) => None,
        }
    }

    /// `KEY_FORMAT` (or `FORMAT`), upper-cased; KAFKA when neither is given, ksqlDB's default
    /// (`ksql.persistence.default.format.key`).
    pub fn key_format(&self) -> String {
        self.text_property("KEY_FORMAT")
            .or_else(|| self.text_property("FORMAT"))
            .map_or_else(|| "KAFKA".to_owned(), |f| f.to_ascii_uppercase())
    }

    /// `VALUE_FORMAT` (or `FORMAT`), upper-cased.
    pub fn value_format(&self) -> Option<String> {
        self.text_property("VALUE_FORMAT")
            .or_else(|| self.text_property("FORMAT"))
            .map(|f| f.to_ascii_uppercase())
    }

    /// The statement as ksqlDB 0.29 stores and echoes it: names upper-cased, VARCHAR as
    /// STRING, `CLEANUP_POLICY` and `KEY_FORMAT` injected, the WITH properties sorted (capture
    /// `ksql-1.body`). For a CREATE with a column list; an `AS SELECT` is rewritten far more.
    pub fn normalised(&self) -> String {
        let kind = match self.kind {
            ObjectKind::Stream => "STREAM",
            ObjectKind::Table => "TABLE",
        };
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let key = match (c.key, self.kind) {
                    (false, _) => "",
                    (true, ObjectKind::Stream) => " KEY",
                    (true, ObjectKind::Table) => " PRIMARY KEY",
                };
                format!("{} {}{key}", identifier_sql(&c.name), c.kind.name())
            })
            .collect();
        let mut with: Vec<(String, String)> = self
            .with
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let mut inject = |key: &str, value: &str| {
            if !with.iter().any(|(k, _)| k == key) {
                with.push((key.to_owned(), format!("'{value}'")));
            }
        };
        inject(
            "CLEANUP_POLICY",
            match self.kind {
                ObjectKind::Stream => "delete",
                ObjectKind::Table => "compact",
            },
        );
        if self.property("FORMAT").is_none() {
            inject("KEY_FORMAT", "KAFKA");
        }
        with.sort();
        let with: Vec<String> = with.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "CREATE {}{kind} {}{} ({}) WITH ({});",
            if self.or_replace { "OR REPLACE " } else { "" },
            if self.if_not_exists {
                "IF NOT EXISTS "
            } else {
                ""
            },
            identifier_sql(&self.name),
            columns.join(", "),
            with.join(", ")
        )
    }
}

/// A name as ksqlDB prints it: bare when it reads back as itself, else backquoted.
pub fn identifier_sql(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Describe {
    pub name: String,
    pub extended: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Select),
    ListStreams,
    Create(Create),
    Describe(Describe),
}

struct Scanner {
    chars: Vec<char>,
    at: usize,
    pos: Pos,
}

impl Scanner {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.at).copied()?;
        self.at += 1;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }
}

fn lex(sql: &str) -> Result<Vec<(Token, Pos)>, SqlError> {
    let mut s = Scanner {
        chars: sql.chars().collect(),
        at: 0,
        pos: Pos { line: 1, col: 1 },
    };
    let mut tokens = Vec::new();
    while let Some(c) = s.peek(0) {
        let start = s.pos;
        if c.is_whitespace() {
            s.bump();
        } else if c == '-' && s.peek(1) == Some('-') {
            while s.peek(0).is_some_and(|c| c != '\n') {
                s.bump();
            }
        } else if c == '/' && s.peek(1) == Some('*') {
            s.bump();
            s.bump();
            while !(s.peek(0) == Some('*') && s.peek(1) == Some('/')) {
                if s.bump().is_none() {
                    return err(format!("{start}: Syntax Error: unterminated comment"));
                }
            }
            s.bump();
            s.bump();
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut word = String::new();
            while let Some(c) = s
                .peek(0)
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '@')
            {
                s.bump();
                word.push(c.to_ascii_uppercase());
            }
            tokens.push((Token::Word(word), start));
        } else if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(c) = s.peek(0).filter(char::is_ascii_digit) {
                s.bump();
                digits.push(c);
            }
            if s.peek(0) == Some('.') {
                return err(format!(
                    "{start}: (ksqldb-double) the test stand-in takes integer literals only"
                ));
            }
            let n = digits
                .parse()
                .map_err(|_| SqlError(format!("{start}: number {digits} is too large")))?;
            tokens.push((Token::Number(n), start));
        } else if c == '`' || c == '"' || c == '\'' {
            s.bump();
            let mut text = String::new();
            loop {
                match s.bump() {
                    Some(q) if q == c && s.peek(0) == Some(c) => {
                        s.bump();
                        text.push(c);
                    }
                    Some(q) if q == c => break,
                    Some(other) => text.push(other),
                    None => return err(format!("{start}: Syntax Error: unterminated {c}…{c}")),
                }
            }
            tokens.push((
                if c == '\'' {
                    Token::Str(text)
                } else {
                    Token::Quoted(text)
                },
                start,
            ));
        } else {
            s.bump();
            let two = match (c, s.peek(0)) {
                ('>', Some('=')) => Some(">="),
                ('<', Some('=')) => Some("<="),
                ('<', Some('>')) | ('!', Some('=')) => Some("<>"),
                _ => None,
            };
            let sym = match two {
                Some(sym) => {
                    s.bump();
                    sym
                }
                None => match c {
                    '*' => "*",
                    ';' => ";",
                    ',' => ",",
                    '=' => "=",
                    '<' => "<",
                    '>' => ">",
                    '(' => "(",
                    ')' => ")",
                    '-' => "-",
                    _ => return err(format!("{start}: Syntax Error: unexpected {c:?}")),
                },
            };
            tokens.push((Token::Sym(sym), start));
        }
    }
    Ok(tokens)
}

struct Cursor {
    tokens: Vec<(Token, Pos)>,
    at: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    /// Where the next token starts (or the last one, at the end).
    fn pos(&self) -> Pos {
        self.tokens
            .get(self.at)
            .or(self.tokens.last())
            .map(|(_, p)| *p)
            .unwrap_or_default()
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.peek().cloned();
        self.at += 1;
        t
    }

    fn word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(x)) if x == w) {
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

    fn expect_sym(&mut self, s: &str) -> Result<(), SqlError> {
        if self.sym(s) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{s}'")))
        }
    }

    fn unexpected(&self, wanted: &str) -> SqlError {
        let at = self.pos();
        match self.peek() {
            Some(t) => SqlError(format!(
                "{at}: Syntax Error: expecting {wanted}, found {t:?}"
            )),
            None => SqlError(format!("Syntax Error: expecting {wanted}, found the end")),
        }
    }

    fn identifier(&mut self) -> Result<String, SqlError> {
        match self.peek().cloned() {
            Some(Token::Word(w) | Token::Quoted(w)) => {
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.unexpected("a name")),
        }
    }

    fn name(&mut self) -> Result<Name, SqlError> {
        let at = self.pos();
        let text = self.identifier()?;
        Ok(Name { text, at })
    }

    fn literal(&mut self) -> Result<Literal, SqlError> {
        let negative = self.sym("-");
        match (negative, self.peek().cloned()) {
            (false, Some(Token::Str(s))) => {
                self.at += 1;
                Ok(Literal::Str(s))
            }
            (_, Some(Token::Number(n))) => {
                self.at += 1;
                Ok(Literal::Int(if negative { -n } else { n }))
            }
            (false, Some(Token::Word(w))) if w == "TRUE" || w == "FALSE" => {
                self.at += 1;
                Ok(Literal::Bool(w == "TRUE"))
            }
            _ => Err(self.unexpected("a literal ('text', a number, TRUE or FALSE)")),
        }
    }
}

/// A column's type, as far as the double can serve it.
fn column_type(c: &mut Cursor, column: &str) -> Result<Kind, SqlError> {
    let at = c.pos();
    let word = c.identifier()?;
    match word.as_str() {
        "STRING" | "VARCHAR" => Ok(Kind::String),
        "INT" | "INTEGER" => Ok(Kind::Int),
        "BIGINT" => Ok(Kind::BigInt),
        "DOUBLE" => Ok(Kind::Double),
        "BOOLEAN" => Ok(Kind::Boolean),
        other => err(format!(
            "{at}: (ksqldb-double) the test stand-in serves columns of type STRING, VARCHAR, \
             INT, INTEGER, BIGINT, DOUBLE and BOOLEAN only, not {other} (column {column})"
        )),
    }
}

/// After `CREATE`: `[OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [(col type …, …)]
/// [WITH (k = v, …)] [AS SELECT … FROM source …]`, up to the final `;`.
fn create(c: &mut Cursor) -> Result<Create, SqlError> {
    let or_replace = c.word("OR");
    if or_replace {
        c.expect_word("REPLACE")?;
    }
    let kind = if c.word("STREAM") {
        ObjectKind::Stream
    } else if c.word("TABLE") {
        ObjectKind::Table
    } else {
        return Err(c.unexpected("STREAM or TABLE"));
    };
    let if_not_exists = c.word("IF");
    if if_not_exists {
        c.expect_word("NOT")?;
        c.expect_word("EXISTS")?;
    }
    let name = c.identifier()?;
    let mut columns: Vec<Column> = Vec::new();
    if c.sym("(") {
        loop {
            let at = c.pos();
            let column = c.identifier()?;
            let kind = column_type(c, &column)?;
            let key = if c.word("KEY") {
                true
            } else if c.word("PRIMARY") {
                c.expect_word("KEY")?;
                true
            } else {
                false
            };
            if columns.iter().any(|x| x.name == column.as_str()) {
                return err(format!(
                    "{at}: Duplicate column names: {}",
                    identifier_sql(&column)
                ));
            }
            columns.push(Column {
                name: Cow::Owned(column),
                kind,
                key,
            });
            if c.sym(")") {
                break;
            }
            if !c.sym(",") {
                return Err(c.unexpected("',' or ')' in the column list"));
            }
        }
    }
    let mut with = Vec::new();
    if c.word("WITH") {
        c.expect_sym("(")?;
        loop {
            let key = match c.next() {
                Some(Token::Word(k) | Token::Quoted(k) | Token::Str(k)) => k.to_ascii_uppercase(),
                _ => return err("Syntax Error: expecting a property name"),
            };
            c.expect_sym("=")?;
            let value = match c.peek() {
                // A bare word is taken as text (`VALUE_FORMAT = JSON`).
                Some(Token::Word(w)) if w != "TRUE" && w != "FALSE" => {
                    let w = w.clone();
                    c.at += 1;
                    Literal::Str(w)
                }
                _ => c.literal()?,
            };
            with.push((key, value));
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
                from = Some(c.identifier()?);
            } else {
                c.next();
            }
        }
    }
    if columns.is_empty() && from.is_none() {
        return err("Syntax Error: a CREATE needs a column list or AS SELECT");
    }
    Ok(Create {
        kind,
        name,
        or_replace,
        if_not_exists,
        columns,
        with,
        from,
    })
}

/// ROWTIME against a date-time string: the forms ksqlDB reads, in UTC (wire specification §7).
fn timestamp_ms(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z');
    let formats = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H",
    ];
    formats
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(|t| t.and_utc().timestamp_millis())
}

/// One WHERE condition: `name <op> literal` or `name IN (literal, …)`.
fn condition(c: &mut Cursor) -> Result<Condition, SqlError> {
    let name = c.name()?;
    let rowtime = name.text == ROWTIME;
    // ROWTIME is a BIGINT that also takes date-time strings: read them as milliseconds here.
    let literal = |c: &mut Cursor| -> Result<Literal, SqlError> {
        let at = c.pos();
        match c.literal()? {
            Literal::Str(s) if rowtime => timestamp_ms(&s).map(Literal::Int).ok_or_else(|| {
                SqlError(format!(
                    "{at}: (ksqldb-double) cannot read '{s}' as a date-time (yyyy-MM-ddTHH:mm:ss.SSS, UTC)"
                ))
            }),
            other => Ok(other),
        }
    };
    if c.word("IN") {
        c.expect_sym("(")?;
        let mut values = vec![literal(c)?];
        while c.sym(",") {
            values.push(literal(c)?);
        }
        c.expect_sym(")")?;
        return Ok(Condition::In(name, values));
    }
    let op = match c.peek() {
        Some(Token::Sym("=")) => Op::Eq,
        Some(Token::Sym("<>")) => Op::Ne,
        Some(Token::Sym("<")) => Op::Lt,
        Some(Token::Sym("<=")) => Op::Le,
        Some(Token::Sym(">")) => Op::Gt,
        Some(Token::Sym(">=")) => Op::Ge,
        _ => return Err(c.unexpected("a comparison (=, <>, <, <=, >, >=) or IN")),
    };
    c.at += 1;
    Ok(Condition::Compare(name, op, literal(c)?))
}

fn select(c: &mut Cursor) -> Result<Select, SqlError> {
    let mut items = Vec::new();
    loop {
        if c.sym("*") {
            items.push(Item::All);
        } else {
            items.push(Item::Column(c.name()?));
        }
        if !c.sym(",") {
            break;
        }
    }
    c.expect_word("FROM")?;
    let source = c.identifier()?;
    let mut conditions = Vec::new();
    if c.word("WHERE") {
        loop {
            conditions.push(condition(c)?);
            if !c.word("AND") {
                break;
            }
        }
        if matches!(c.peek(), Some(Token::Word(w)) if w == "OR") {
            return err(format!(
                "{}: (ksqldb-double) the test stand-in joins WHERE conditions with AND only",
                c.pos()
            ));
        }
    }
    let push = c.word("EMIT");
    if push {
        c.expect_word("CHANGES")?;
    }
    let limit = if c.word("LIMIT") {
        match c.next() {
            Some(Token::Number(n)) => Some(n.unsigned_abs()),
            _ => return err("Syntax Error: LIMIT takes a number"),
        }
    } else {
        None
    };
    Ok(Select {
        items,
        source,
        conditions,
        push,
        limit,
    })
}

/// After `DESCRIBE`: `name [EXTENDED]`. Since 0.15 (confluentinc/ksql#6827) EXTENDED comes
/// after the name only, so `DESCRIBE EXTENDED name;` is a syntax error, as on 0.29.
fn describe(c: &mut Cursor) -> Result<Describe, SqlError> {
    if let Some(Token::Word(w)) = c.peek() {
        if matches!(w.as_str(), "STREAMS" | "TABLES" | "FUNCTION" | "CONNECTOR") {
            return err(format!(
                "(ksqldb-double) the test stand-in describes one stream only, not DESCRIBE {w}"
            ));
        }
    }
    let name = c.identifier()?;
    let extended = c.word("EXTENDED");
    Ok(Describe { name, extended })
}

pub fn parse(sql: &str) -> Result<Statement, SqlError> {
    let mut c = Cursor {
        tokens: lex(sql)?,
        at: 0,
    };
    if c.tokens.last().map(|(t, _)| t) != Some(&Token::Sym(";")) {
        // Grammar: `singleStatement : statement ';'`.
        return err("Syntax Error: statements must end with ';'");
    }
    let statement = if c.word("CREATE") {
        Statement::Create(create(&mut c)?)
    } else if c.word("LIST") || c.word("SHOW") {
        c.expect_word("STREAMS")?;
        Statement::ListStreams
    } else if c.word("DESCRIBE") {
        Statement::Describe(describe(&mut c)?)
    } else if c.word("SELECT") {
        Statement::Select(select(&mut c)?)
    } else {
        return err(
            "the ksqldb-double test stand-in runs only SELECT, LIST STREAMS, SHOW STREAMS, \
             DESCRIBE and CREATE STREAM|TABLE",
        );
    };
    if !c.sym(";") || c.peek().is_some() {
        return Err(c.unexpected("';' ending the one statement"));
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::{DEVICE_STATUS_STREAM, MOTION_STREAM};
    use serde_json::json;

    fn select_of(sql: &str) -> Select {
        match parse(sql) {
            Ok(Statement::Select(s)) => s,
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn create_of(sql: &str) -> Create {
        match parse(sql) {
            Ok(Statement::Create(s)) => s,
            other => panic!("{sql}: {other:?}"),
        }
    }

    fn names(items: &[Item]) -> Vec<&str> {
        items
            .iter()
            .map(|i| match i {
                Item::All => "*",
                Item::Column(n) => n.text.as_str(),
            })
            .collect()
    }

    /// The seed's statement, verbatim.
    const SEED: &str = "CREATE STREAM motion_stream (event_id VARCHAR KEY, device_id VARCHAR, \
        device_name VARCHAR, device_type VARCHAR, url VARCHAR, time VARCHAR, message VARCHAR) \
        WITH (KAFKA_TOPIC='ksql_motion_events', VALUE_FORMAT='JSON', partitions=1);";

    fn seed_columns() -> Vec<Column> {
        let c = create_of(SEED);
        let mut columns = c.columns;
        columns.sort_by_key(|c| !c.key);
        columns
    }

    #[test]
    fn the_clients_statements_parse() {
        let s = select_of("SELECT * FROM `MOTION_STREAM` EMIT CHANGES;");
        assert_eq!(
            (names(&s.items), s.source.as_str(), s.push, s.limit),
            (vec!["*"], "MOTION_STREAM", true, None)
        );
        assert!(s.conditions.is_empty());
        let s = select_of(
            "select * from motion_stream where rowtime >= 1700000000000 and ROWTIME < 5 limit 3;",
        );
        assert_eq!(
            (s.source.as_str(), s.push, s.limit),
            ("MOTION_STREAM", false, Some(3))
        );
        assert!(matches!(
            &s.conditions[..],
            [
                Condition::Compare(a, Op::Ge, Literal::Int(1_700_000_000_000)),
                Condition::Compare(b, Op::Lt, Literal::Int(5)),
            ] if a.text == "ROWTIME" && b.text == "ROWTIME"
        ));
        assert_eq!(parse("LIST STREAMS;"), Ok(Statement::ListStreams));
        assert_eq!(parse("show streams;"), Ok(Statement::ListStreams));
    }

    #[test]
    fn the_history_search_parses_in_the_seeds_form() {
        let s = select_of(
            "SELECT *, ROWTIME FROM MOTION_STREAM WHERE TIME >= '2026-12-01 00:00:00' \
             AND TIME < '2026-12-02 00:00:00' AND DEVICE_ID IN ('cam-1', 'cam''s') ;",
        );
        assert_eq!(names(&s.items), ["*", "ROWTIME"]);
        assert!(!s.push);
        assert_eq!(
            s.conditions
                .iter()
                .map(|c| c.name().text.as_str())
                .collect::<Vec<_>>(),
            ["TIME", "TIME", "DEVICE_ID"]
        );
        assert_eq!(
            s.conditions[2],
            Condition::In(
                Name {
                    text: "DEVICE_ID".into(),
                    at: Pos { line: 1, col: 111 }
                },
                vec![Literal::Str("cam-1".into()), Literal::Str("cam's".into())]
            )
        );
        assert!(s.check(&seed_columns()).is_ok());
        let header: Vec<(String, &str)> = s
            .columns(&seed_columns())
            .iter()
            .map(|c| (c.name.to_string(), c.kind.name()))
            .collect();
        assert_eq!(header.first().map(|h| h.0.as_str()), Some("EVENT_ID"));
        assert_eq!(
            header.last(),
            Some(&("ROWTIME".to_owned(), "BIGINT")),
            "`*, ROWTIME` puts ROWTIME last"
        );
        assert_eq!(header.len(), 8);
        let s = select_of("SELECT ROWTIME, * FROM MOTION_STREAM EMIT CHANGES;");
        assert_eq!(s.columns(&seed_columns())[0].name, "ROWTIME");
    }

    #[test]
    fn hostile_quoting_stays_inside_its_literal() {
        let s = select_of("SELECT * FROM S WHERE DEVICE_ID = 'x'' OR ''1''=''1';");
        assert_eq!(
            s.conditions,
            [Condition::Compare(
                Name {
                    text: "DEVICE_ID".into(),
                    at: Pos { line: 1, col: 23 }
                },
                Op::Eq,
                Literal::Str("x' OR '1'='1".into())
            )]
        );
        // An unquoted OR is not run as one.
        let e = parse("SELECT * FROM S WHERE DEVICE_ID = 'x' OR 1 = 1;");
        assert!(e.is_err_and(|e| e.0.contains("AND only")));
        // A quote that closes early leaves the rest as syntax, which is refused.
        assert!(parse("SELECT * FROM S WHERE DEVICE_ID = 'x' OR '1'='1';").is_err());
        assert!(parse("SELECT * FROM S WHERE DEVICE_ID = 'x;").is_err());
        assert!(parse("SELECT * FROM S WHERE DEVICE_ID = 'x'; DROP STREAM S;").is_err());
        // Comments cannot hide the end of a statement.
        assert!(parse("SELECT * FROM S WHERE DEVICE_ID = 'x' -- ';").is_err());
        let s = select_of("SELECT * FROM S /* a */ WHERE DEVICE_ID IN ('a''--', 'b') -- c\n;");
        assert!(
            matches!(&s.conditions[0], Condition::In(_, v) if v[0] == Literal::Str("a'--".into()))
        );
    }

    #[test]
    fn rows_are_filtered_as_ksqldb_compares() {
        let cols = seed_columns();
        let s = select_of(
            "SELECT *, ROWTIME FROM MOTION_STREAM WHERE TIME >= '2026-12-01 00:00:00' \
             AND TIME < '2026-12-02 00:00:00' AND DEVICE_ID IN ('cam-1', 'cam''s');",
        );
        let row = |id: &str, device: Value, time: &str| -> Vec<Value> {
            let mut r = vec![json!(id), device, json!("n"), json!("camera"), json!("u")];
            r.push(json!(time));
            r.push(json!("m"));
            r
        };
        let kept = s.row(&cols, 42, row("e1", json!("cam-1"), "2026-12-01 10:00:00"));
        let mut want = row("e1", json!("cam-1"), "2026-12-01 10:00:00");
        want.push(json!(42));
        assert_eq!(kept, Some(want));
        assert!(s
            .row(&cols, 1, row("e2", json!("cam's"), "2026-12-01 00:00:00"))
            .is_some());
        // The end is exclusive, the order is the strings'.
        assert!(s
            .row(&cols, 1, row("e3", json!("cam-1"), "2026-12-02 00:00:00"))
            .is_none());
        assert!(s
            .row(&cols, 1, row("e4", json!("cam-1"), "2026-11-30 23:59:59"))
            .is_none());
        assert!(s
            .row(&cols, 1, row("e5", json!("cam-2"), "2026-12-01 10:00:00"))
            .is_none());
        // NULL satisfies no comparison and no IN.
        assert!(s
            .row(&cols, 1, row("e6", Value::Null, "2026-12-01 10:00:00"))
            .is_none());
        let s = select_of("SELECT * FROM MOTION_STREAM WHERE DEVICE_ID <> 'cam-1';");
        assert!(s.row(&cols, 1, row("e7", json!("cam-2"), "t")).is_some());
        assert!(s.row(&cols, 1, row("e8", Value::Null, "t")).is_none());

        let status = DEVICE_STATUS_STREAM;
        let s = select_of(
            "SELECT DEVICE_ID, ROWTIME FROM DEVICE_STATUS_STREAM \
             WHERE outbox_pending > -1 AND spool_full = false AND ROWTIME >= '2026-12-01T00:00:00';",
        );
        assert!(s.check(status).is_ok());
        let mut values = vec![Value::Null; status.len()];
        values[0] = json!("garage");
        values[7] = json!(0);
        values[12] = json!(false);
        let day = 1_796_083_200_000; // 2026-12-01T00:00:00Z
        assert_eq!(
            s.row(status, day, values.clone()),
            Some(vec![json!("garage"), json!(day)])
        );
        assert!(s.row(status, day - 1, values.clone()).is_none());
        values[12] = json!(true);
        assert!(s.row(status, day, values).is_none());
    }

    #[test]
    fn unknown_columns_and_mismatched_types_are_refused_like_ksqldb() {
        let cols = seed_columns();
        let s = select_of("SELECT * FROM MOTION_STREAM\n  WHERE nope = 'x';");
        assert_eq!(
            s.check(&cols),
            err("Line: 2, Col: 9: WHERE column 'NOPE' cannot be resolved.")
        );
        let s = select_of("SELECT `time`, ROWTIME FROM MOTION_STREAM;");
        assert_eq!(
            s.check(&cols),
            err("Line: 1, Col: 8: SELECT column 'time' cannot be resolved.")
        );
        let s = select_of("SELECT * FROM MOTION_STREAM WHERE DEVICE_ID = 7;");
        assert_eq!(
            s.check(&cols),
            err("Cannot compare DEVICE_ID (STRING) to 7 (INTEGER) with EQUAL.")
        );
        let s = select_of("SELECT * FROM MOTION_STREAM WHERE ROWTIME IN (1, TRUE);");
        assert!(s.check(&cols).is_err());
        let s = select_of("SELECT * FROM DEVICE_STATUS_STREAM WHERE ONLINE > TRUE;");
        assert!(s.check(DEVICE_STATUS_STREAM).is_err());
        let s = select_of("SELECT * FROM MOTION_STREAM WHERE ROWOFFSET > 1;");
        assert!(s.check(&cols).is_err());
        assert!(parse("SELECT * FROM S WHERE ROWTIME >= 'yesterday';").is_err());
    }

    #[test]
    fn the_seeds_create_declares_a_key_and_six_value_columns() {
        let c = create_of(SEED);
        assert_eq!(
            (c.kind, c.name.as_str()),
            (ObjectKind::Stream, "MOTION_STREAM")
        );
        assert_eq!(c.topic().as_deref(), Some("ksql_motion_events"));
        assert_eq!(c.partitions(), Some(1));
        assert_eq!(
            (c.key_format(), c.value_format()),
            ("KAFKA".to_owned(), Some("JSON".to_owned()))
        );
        let got: Vec<(String, Kind, bool)> = c
            .columns
            .iter()
            .map(|c| (c.name.to_string(), c.kind, c.key))
            .collect();
        let mut want = vec![("EVENT_ID".to_owned(), Kind::String, true)];
        for n in [
            "DEVICE_ID",
            "DEVICE_NAME",
            "DEVICE_TYPE",
            "URL",
            "TIME",
            "MESSAGE",
        ] {
            want.push((n.to_owned(), Kind::String, false));
        }
        assert_eq!(got, want);
        assert_eq!(
            c.normalised(),
            "CREATE STREAM MOTION_STREAM (EVENT_ID STRING KEY, DEVICE_ID STRING, DEVICE_NAME STRING, \
             DEVICE_TYPE STRING, URL STRING, TIME STRING, MESSAGE STRING) WITH (CLEANUP_POLICY='delete', \
             KAFKA_TOPIC='ksql_motion_events', KEY_FORMAT='KAFKA', PARTITIONS=1, VALUE_FORMAT='JSON');"
        );
    }

    /// The project's own statements must keep giving the layouts the double serves from the
    /// start (without `--no-streams`), and ksqlDB's own rewrite of them (capture `ksql-1.body`).
    #[test]
    fn the_projects_statements_give_todays_layouts() {
        let first = |text: &str| -> String {
            text.split_inclusive(";\n")
                .next()
                .map(|s| s.trim_end().to_owned())
                .unwrap_or_default()
        };
        let motion = create_of(&first(include_str!("../../ksql/01_motion_stream.sql")));
        assert_eq!(motion.columns, MOTION_STREAM);
        assert_eq!(
            motion.normalised(),
            "CREATE STREAM IF NOT EXISTS MOTION_STREAM (EVENT_ID STRING, DEVICE_ID STRING, DEVICE_NAME STRING, \
             DEVICE_TYPE STRING, URL STRING, TIME STRING, MESSAGE STRING, SNAPSHOT_URL STRING, KIND STRING, \
             TIMESTAMP_MS BIGINT, DURATION_S DOUBLE) WITH (CLEANUP_POLICY='delete', KAFKA_TOPIC='ksql_motion_events', \
             KEY_FORMAT='KAFKA', PARTITIONS=3, VALUE_FORMAT='JSON');"
        );
        let status = create_of(&first(include_str!("../../ksql/02_device_status.sql")));
        assert_eq!(status.columns, DEVICE_STATUS_STREAM);
        assert_eq!(status.topic().as_deref(), Some("ksql_device_status"));
    }

    #[test]
    fn creates_are_read_for_name_columns_topic_and_source() {
        let s = create_of(
            "CREATE OR REPLACE STREAM IF NOT EXISTS s (`Odd` INT, ts BIGINT, k VARCHAR KEY) \
             WITH (KAFKA_TOPIC = 't', VALUE_FORMAT = JSON, PARTITIONS = 3);",
        );
        assert!(s.or_replace && s.if_not_exists);
        assert_eq!(s.columns[0].name, "Odd");
        assert_eq!(s.value_format().as_deref(), Some("JSON"));
        assert!(s
            .normalised()
            .contains("(`Odd` INTEGER, TS BIGINT, K STRING KEY)"));
        let t = create_of(
            "CREATE TABLE t AS SELECT id, LATEST_BY_OFFSET(x) AS x FROM src GROUP BY id EMIT CHANGES;",
        );
        assert_eq!(
            (t.kind, t.from.as_deref()),
            (ObjectKind::Table, Some("SRC"))
        );
        let t = create_of("CREATE TABLE t (id VARCHAR PRIMARY KEY, n INT) WITH (KAFKA_TOPIC='t');");
        assert!(t.columns[0].key);
        assert!(parse("CREATE STREAM s WITH (KAFKA_TOPIC='t');").is_err());
        assert!(
            parse("CREATE STREAM s (a STRUCT<b INT>) WITH (KAFKA_TOPIC='t');")
                .is_err_and(|e| e.0.contains("not STRUCT")),
            "what the double cannot serve is refused"
        );
        assert!(parse("CREATE STREAM s (a INT, A INT) WITH (KAFKA_TOPIC='t');").is_err());
    }

    #[test]
    fn describe_takes_the_name_then_extended() {
        assert_eq!(
            parse("DESCRIBE motion_stream;"),
            Ok(Statement::Describe(Describe {
                name: "MOTION_STREAM".into(),
                extended: false
            }))
        );
        assert_eq!(
            parse("describe `Odd` extended;"),
            Ok(Statement::Describe(Describe {
                name: "Odd".into(),
                extended: true
            }))
        );
        assert!(parse("DESCRIBE EXTENDED x;").is_err(), "0.29's grammar");
        assert!(parse("DESCRIBE STREAMS;").is_err());
    }

    #[test]
    fn quoted_names_keep_case_and_doubled_quotes() {
        let s = select_of("SELECT * FROM `a``b c` EMIT CHANGES;");
        assert_eq!(s.source, "a`b c");
    }

    #[test]
    fn a_missing_semicolon_or_trailing_text_is_refused() {
        assert!(parse("SELECT * FROM S EMIT CHANGES").is_err());
        assert!(parse("SELECT * FROM S; DROP STREAM S;").is_err());
        assert!(parse("SELECT * FROM `S` EMIT CHANGES; DROP STREAM `Y`;").is_err());
        assert!(parse("DROP STREAM S;").is_err());
    }
}
