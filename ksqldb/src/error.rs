//! Everything that can go wrong talking to ksqlDB. Messages name the server, endpoint or
//! setting at fault; none carries a credential (the URL is refused if it holds one).

#[derive(Debug, thiserror::Error)]
pub enum KsqlDbError {
    #[error("ksqlDB URL {url:?} {reason}")]
    Url { url: String, reason: String },
    #[error("ksqlDB stream name {name:?} {reason}")]
    StreamName { name: String, reason: String },
    #[error("cannot set up the HTTP client for ksqlDB: {0}")]
    Client(#[source] reqwest::Error),
    #[error("ksqlDB CA certificate file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("cannot reach ksqlDB at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("ksqlDB at {url} refused the credentials (HTTP {status}); check the ksqlDB API key and secret")]
    Unauthorized { url: String, status: u16 },
    #[error("ksqlDB at {url} does not offer this endpoint (HTTP {status}{})", code.map(|c| format!(", error {c}")).unwrap_or_default())]
    EndpointUnavailable {
        url: String,
        status: u16,
        code: Option<i64>,
    },
    #[error("ksqlDB at {url} answered HTTP {status}{}: {message}", code.map(|c| format!(" (error {c})")).unwrap_or_default())]
    Server {
        url: String,
        status: u16,
        code: Option<i64>,
        message: String,
    },
    #[error("the {query} query's response broke off: {source}")]
    Body {
        query: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("the {query} query failed inside the stream{}: {message}", code.map(|c| format!(" (error {c})")).unwrap_or_default())]
    InStream {
        query: &'static str,
        code: Option<i64>,
        message: String,
    },
    #[error("the {query} query's response is not what ksqlDB sends: {reason}")]
    Protocol { query: &'static str, reason: String },
}
