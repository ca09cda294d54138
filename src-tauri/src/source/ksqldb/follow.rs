//! The follower's phases as a state machine with no IO: [`transition`] takes the state and what
//! just happened, and returns the next state and what to do. The driver in `mod.rs` does it
//! (requests, cache, timers, status reports, logs) and feeds back what came of it.
//!
//! One connection at a time, then a wait, then the next:
//! - `Connecting`: `since` is noted from the cache and a push query started from it; its
//!   header makes the connection `Live`.
//! - `Live`: the push query runs. Its rows are applied as they come (by the driver, in every
//!   phase: that is no decision; the machine gets the counts). A minute without a row starts a
//!   liveness check.
//! - `Checking`: a pull query from the cache's watermark checks the quiet push query. If it
//!   finds events the push query never delivered, or gives no complete answer in time, the push
//!   query is given up on (`Closing`); if it finds nothing missing, the push query has caught
//!   up, so the cache holds the stream from the push query's `since` on, and it is `Live` again.
//! - `Closing`: `/close-query` for the push query given up on (a stuck connection may never
//!   tell the server), then the connection ends.
//!
//! Every end of a connection (the push query ending, any failure, a close) is counted. One that
//! delivered a row, or lasted [`HEALTHY_SESSION`], resets the backoff. One that changed nothing
//! in the cache and ended sooner than that is a stall; after [`STALLED_CONNECTIONS`] stalls in a
//! row, `CatchingUp`: a pull query catches the cache up, since no push query lives long enough
//! to re-read from its `since`. Then `Waiting` out the backoff, and `Connecting` again.

use std::time::Duration;

use super::{KsqlDbError, HEALTHY_SESSION, PROBE_TIMEOUT};

/// Connections in a row that ended without changing the cache before a pull query catches the
/// cache up instead. Each push query re-reads from `since` first; a server or proxy that keeps
/// cutting connections sooner than that re-read takes would otherwise make no progress at all.
const STALLED_CONNECTIONS: u32 = 3;

/// Where the follower is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum State {
    /// Starting a push query; `stalled` connections in a row before it changed nothing.
    Connecting { stalled: u32 },
    /// The push query runs; no check is.
    Live(Connection),
    /// A liveness check runs; `found`: events it brought that the push query had not.
    Checking { conn: Connection, found: u64 },
    /// The push query is being closed; the connection then ends with `problem`.
    Closing { conn: Connection, problem: String },
    /// A pull query catches the cache up; `problem` ended the last connection.
    CatchingUp { problem: String },
    /// Waiting out the backoff before the next connection.
    Waiting { stalled: u32 },
}

/// What the machine keeps of a connection whose push query has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Connection {
    /// Connections in a row before this one that ended without changing the cache.
    stalled: u32,
    /// Where its push query reads from (`ROWTIME`).
    since: i64,
    /// Rows the push query delivered.
    rows: u64,
    /// Cached events those rows changed (a re-read row changes nothing).
    changed: u64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Input {
    /// The push query's header came: the server created it, reading from `since`.
    Started { since: i64 },
    /// The push query delivered `rows` rows (at least one), which changed `changed` cached
    /// events.
    Rows { rows: u64, changed: u64 },
    /// A quiet minute: no row since the push query started or last delivered one.
    Quiet,
    /// The liveness check brought events, of which `changed` were new to the cache.
    CheckRows { changed: u64 },
    /// The liveness check read everything from its start: `rows` rows.
    CheckDone { rows: u64 },
    /// The liveness check gave no complete answer within [`PROBE_TIMEOUT`].
    CheckTimedOut,
    /// The connection is over, `lasted` after it began: its push query ended, or starting or
    /// reading it, the cache or the liveness check failed.
    Ended { end: End, lasted: Duration },
    /// The push query given up on was closed (best effort), `lasted` after the connection began.
    Closed { lasted: Duration },
    /// The catch-up is over (how it went is only logged).
    CaughtUp,
    /// The backoff's wait is over.
    Waited,
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum End {
    /// The server ended the push query (a `finalMessage`, or the clean end of a delimited
    /// body); why, in words.
    Completed(String),
    /// Every other way, as the error reads.
    Failed(String),
}

impl End {
    /// The problem the status report shows until the next connection.
    fn problem(&self) -> String {
        match self {
            End::Completed(reason) => format!("the push query ended ({reason})"),
            End::Failed(err) => err.clone(),
        }
    }
}

/// What to do, in order. An action that gives the next input (`Connect`, `Close`, `CatchUp`,
/// `Wait` always; `StartCheck` and `Cover` when the cache fails) ends its batch: the rest of the
/// batch is not done. After a batch that gave none, the driver waits on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Report `connecting`, note `since` from the cache, start the push query from it and wait
    /// for its header: gives `Started` or `Ended`.
    Connect,
    /// Report `live`, and log the push query running from `since`.
    ReportLive { since: i64 },
    /// A quiet minute starts now.
    ArmProbe,
    /// Start the liveness check from the cache's watermark, and its deadline.
    StartCheck,
    /// Drop the finished liveness check, and log what it did.
    EndCheck { rows: u64, found: u64 },
    /// Record that the cache holds the stream from `since` on (never moving that later).
    Cover { since: i64 },
    /// `/close-query` the push query, bounded in time: gives `Closed`.
    Close,
    /// Drop the connection (the push query, and any check) and log how it ended.
    Disconnect { end: End, rows: u64, changed: u64 },
    /// The next wait is the shortest again.
    ResetBackoff,
    /// Catch the cache up with a pull query, and log how that went: gives `CaughtUp`.
    CatchUp,
    /// Report `retrying` with `problem` and wait out the backoff: gives `Waited`.
    Wait { problem: String },
}

/// The first state, and what to do in it.
pub(super) fn start() -> (State, Vec<Action>) {
    (State::Connecting { stalled: 0 }, vec![Action::Connect])
}

/// The next state after `input`, and what to do. An input that cannot happen in a state (the
/// driver only waits for rows, a quiet minute or the check while connected) changes nothing.
pub(super) fn transition(state: State, input: Input) -> (State, Vec<Action>) {
    match (state, input) {
        (State::Connecting { stalled }, Input::Started { since }) => (
            State::Live(Connection {
                stalled,
                since,
                rows: 0,
                changed: 0,
            }),
            vec![Action::ReportLive { since }, Action::ArmProbe],
        ),
        (State::Connecting { stalled }, Input::Ended { end, lasted }) => {
            ended(stalled, 0, 0, end, lasted)
        }
        (State::Live(conn), Input::Rows { rows, changed }) => (
            State::Live(conn.counted(rows, changed)),
            vec![Action::ArmProbe],
        ),
        (State::Live(conn), Input::Quiet) => {
            (State::Checking { conn, found: 0 }, vec![Action::StartCheck])
        }
        // A check that fails ends the connection like the push query failing would: the
        // connection goes, and the server ends its query with it.
        (State::Live(conn) | State::Checking { conn, .. }, Input::Ended { end, lasted }) => {
            ended(conn.stalled, conn.rows, conn.changed, end, lasted)
        }
        // The quiet minute is armed again when the check is done.
        (State::Checking { conn, found }, Input::Rows { rows, changed }) => (
            State::Checking {
                conn: conn.counted(rows, changed),
                found,
            },
            Vec::new(),
        ),
        (State::Checking { conn, found }, Input::CheckRows { changed }) => (
            State::Checking {
                conn,
                found: found + changed,
            },
            Vec::new(),
        ),
        (State::Checking { conn, found }, Input::CheckDone { rows }) if found > 0 => (
            State::Closing {
                conn,
                problem: silent(format!(
                    "it went silent: a pull query found {found} new events it never delivered"
                )),
            },
            vec![Action::EndCheck { rows, found }, Action::Close],
        ),
        (State::Checking { conn, found }, Input::CheckDone { rows }) => (
            State::Live(conn),
            vec![
                Action::EndCheck { rows, found },
                Action::Cover { since: conn.since },
                Action::ArmProbe,
            ],
        ),
        (State::Checking { conn, .. }, Input::CheckTimedOut) => (
            State::Closing {
                conn,
                problem: silent(format!(
                    "it went silent, and a pull query to check it got no answer in {} s",
                    PROBE_TIMEOUT.as_secs()
                )),
            },
            vec![Action::Close],
        ),
        (State::Closing { conn, problem }, Input::Closed { lasted }) => ended(
            conn.stalled,
            conn.rows,
            conn.changed,
            End::Failed(problem),
            lasted,
        ),
        (State::CatchingUp { problem }, Input::CaughtUp) => (
            State::Waiting { stalled: 0 },
            vec![Action::Wait { problem }],
        ),
        (State::Waiting { stalled }, Input::Waited) => {
            (State::Connecting { stalled }, vec![Action::Connect])
        }
        (state, _) => (state, Vec::new()),
    }
}

impl Connection {
    fn counted(self, rows: u64, changed: u64) -> Connection {
        Connection {
            rows: self.rows + rows,
            changed: self.changed + changed,
            ..self
        }
    }
}

/// A connection is over: drop it, then catch up or wait.
fn ended(
    stalled: u32,
    rows: u64,
    changed: u64,
    end: End,
    lasted: Duration,
) -> (State, Vec<Action>) {
    let healthy = lasted >= HEALTHY_SESSION;
    let problem = end.problem();
    let mut actions = vec![Action::Disconnect { end, rows, changed }];
    if rows > 0 || healthy {
        actions.push(Action::ResetBackoff);
    }
    let stalled = if changed > 0 || healthy {
        0
    } else {
        stalled + 1
    };
    if stalled >= STALLED_CONNECTIONS {
        actions.push(Action::CatchUp);
        (State::CatchingUp { problem }, actions)
    } else {
        actions.push(Action::Wait { problem });
        (State::Waiting { stalled }, actions)
    }
}

/// Why a push query that went silent is given up on, as the error reads.
fn silent(reason: String) -> String {
    KsqlDbError::Protocol {
        query: "push",
        reason,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_secs(1);
    const LONG: Duration = Duration::from_secs(120);

    fn conn(stalled: u32, rows: u64, changed: u64) -> Connection {
        Connection {
            stalled,
            since: 1_000,
            rows,
            changed,
        }
    }

    fn live(stalled: u32, rows: u64, changed: u64) -> State {
        State::Live(conn(stalled, rows, changed))
    }

    fn checking(found: u64) -> State {
        State::Checking {
            conn: conn(0, 4, 2),
            found,
        }
    }

    fn closing() -> State {
        State::Closing {
            conn: conn(0, 4, 2),
            problem: "silent".into(),
        }
    }

    fn failed(lasted: Duration) -> Input {
        Input::Ended {
            end: End::Failed("cannot reach ksqlDB".into()),
            lasted,
        }
    }

    fn wait(problem: &str) -> Action {
        Action::Wait {
            problem: problem.into(),
        }
    }

    fn disconnect(rows: u64, changed: u64) -> Action {
        Action::Disconnect {
            end: End::Failed("cannot reach ksqlDB".into()),
            rows,
            changed,
        }
    }

    /// One of each state, and one of each input.
    fn all_states() -> Vec<State> {
        vec![
            State::Connecting { stalled: 1 },
            live(1, 3, 1),
            checking(0),
            checking(2),
            closing(),
            State::CatchingUp {
                problem: "p".into(),
            },
            State::Waiting { stalled: 1 },
        ]
    }

    fn all_inputs() -> Vec<Input> {
        vec![
            Input::Started { since: 7 },
            Input::Rows {
                rows: 2,
                changed: 1,
            },
            Input::Quiet,
            Input::CheckRows { changed: 1 },
            Input::CheckDone { rows: 9 },
            Input::CheckTimedOut,
            failed(SHORT),
            Input::Ended {
                end: End::Completed("the server said \"Query Completed\"".into()),
                lasted: LONG,
            },
            Input::Closed { lasted: LONG },
            Input::CaughtUp,
            Input::Waited,
        ]
    }

    #[test]
    fn it_starts_by_connecting() {
        assert_eq!(
            start(),
            (State::Connecting { stalled: 0 }, vec![Action::Connect])
        );
    }

    #[test]
    fn a_header_makes_the_connection_live_and_starts_the_quiet_minute() {
        assert_eq!(
            transition(
                State::Connecting { stalled: 2 },
                Input::Started { since: 1_000 }
            ),
            (
                live(2, 0, 0),
                vec![Action::ReportLive { since: 1_000 }, Action::ArmProbe]
            )
        );
    }

    #[test]
    fn a_connection_that_fails_before_its_header_is_a_stall_and_waits() {
        assert_eq!(
            transition(State::Connecting { stalled: 0 }, failed(SHORT)),
            (
                State::Waiting { stalled: 1 },
                vec![disconnect(0, 0), wait("cannot reach ksqlDB")]
            )
        );
    }

    #[test]
    fn a_connection_attempt_that_took_long_resets_the_backoff_and_the_stalls() {
        // A connect timeout or a slow header: the server is not refusing fast, so no hurry
        // builds up (as before: the healthy rule counts from the attempt's start).
        assert_eq!(
            transition(State::Connecting { stalled: 2 }, failed(LONG)),
            (
                State::Waiting { stalled: 0 },
                vec![
                    disconnect(0, 0),
                    Action::ResetBackoff,
                    wait("cannot reach ksqlDB")
                ]
            )
        );
    }

    #[test]
    fn the_third_stall_in_a_row_catches_the_cache_up_before_waiting() {
        let (state, actions) = transition(State::Connecting { stalled: 2 }, failed(SHORT));
        assert_eq!(
            (state.clone(), actions),
            (
                State::CatchingUp {
                    problem: "cannot reach ksqlDB".into()
                },
                vec![disconnect(0, 0), Action::CatchUp]
            )
        );
        // The count starts again after the catch-up.
        assert_eq!(
            transition(state, Input::CaughtUp),
            (
                State::Waiting { stalled: 0 },
                vec![wait("cannot reach ksqlDB")]
            )
        );
    }

    #[test]
    fn rows_are_counted_and_each_batch_starts_the_quiet_minute_again() {
        assert_eq!(
            transition(
                live(0, 3, 1),
                Input::Rows {
                    rows: 2,
                    changed: 2
                }
            ),
            (live(0, 5, 3), vec![Action::ArmProbe])
        );
    }

    #[test]
    fn a_quiet_minute_starts_a_liveness_check() {
        assert_eq!(
            transition(live(1, 3, 1), Input::Quiet),
            (
                State::Checking {
                    conn: conn(1, 3, 1),
                    found: 0
                },
                vec![Action::StartCheck]
            )
        );
    }

    #[test]
    fn a_push_query_the_server_completed_ends_the_connection_and_says_so() {
        let completed = Input::Ended {
            end: End::Completed("the server said \"Query Completed\"".into()),
            lasted: LONG,
        };
        assert_eq!(
            transition(live(1, 3, 1), completed),
            (
                State::Waiting { stalled: 0 },
                vec![
                    Action::Disconnect {
                        end: End::Completed("the server said \"Query Completed\"".into()),
                        rows: 3,
                        changed: 1
                    },
                    Action::ResetBackoff,
                    wait("the push query ended (the server said \"Query Completed\")"),
                ]
            )
        );
    }

    #[test]
    fn rows_reset_the_backoff_but_only_changed_events_reset_the_stalls() {
        // Rows that were all re-read: the server works, but the cache made no progress.
        assert_eq!(
            transition(live(1, 3, 0), failed(SHORT)),
            (
                State::Waiting { stalled: 2 },
                vec![
                    disconnect(3, 0),
                    Action::ResetBackoff,
                    wait("cannot reach ksqlDB")
                ]
            )
        );
        // New events: progress, however short the connection.
        assert_eq!(
            transition(live(2, 3, 1), failed(SHORT)),
            (
                State::Waiting { stalled: 0 },
                vec![
                    disconnect(3, 1),
                    Action::ResetBackoff,
                    wait("cannot reach ksqlDB")
                ]
            )
        );
        // Re-read rows on the third short connection in a row: still a stall.
        assert_eq!(
            transition(live(2, 3, 0), failed(SHORT)).0,
            State::CatchingUp {
                problem: "cannot reach ksqlDB".into()
            }
        );
    }

    #[test]
    fn rows_during_a_check_are_counted_and_the_quiet_minute_waits_for_the_check() {
        assert_eq!(
            transition(
                checking(1),
                Input::Rows {
                    rows: 1,
                    changed: 1
                }
            ),
            (
                State::Checking {
                    conn: conn(0, 5, 3),
                    found: 1
                },
                vec![]
            )
        );
    }

    #[test]
    fn events_the_check_brings_are_counted_as_found() {
        assert_eq!(
            transition(checking(1), Input::CheckRows { changed: 4 }),
            (checking(5), vec![])
        );
        // Events the push query had delivered already change nothing: not found.
        assert_eq!(
            transition(checking(0), Input::CheckRows { changed: 0 }),
            (checking(0), vec![])
        );
    }

    #[test]
    fn a_check_that_found_nothing_missing_records_the_coverage_and_goes_back_to_live() {
        assert_eq!(
            transition(checking(0), Input::CheckDone { rows: 9 }),
            (
                State::Live(conn(0, 4, 2)),
                vec![
                    Action::EndCheck { rows: 9, found: 0 },
                    Action::Cover { since: 1_000 },
                    Action::ArmProbe
                ]
            )
        );
    }

    #[test]
    fn a_check_that_found_undelivered_events_closes_the_push_query() {
        let problem = "the push query's response is not what ksqlDB sends: it went silent: \
                       a pull query found 2 new events it never delivered";
        let (state, actions) = transition(checking(2), Input::CheckDone { rows: 9 });
        assert_eq!(
            (state.clone(), actions),
            (
                State::Closing {
                    conn: conn(0, 4, 2),
                    problem: problem.into()
                },
                vec![Action::EndCheck { rows: 9, found: 2 }, Action::Close]
            )
        );
        assert_eq!(
            transition(state, Input::Closed { lasted: LONG }),
            (
                State::Waiting { stalled: 0 },
                vec![
                    Action::Disconnect {
                        end: End::Failed(problem.into()),
                        rows: 4,
                        changed: 2
                    },
                    Action::ResetBackoff,
                    wait(problem)
                ]
            )
        );
    }

    #[test]
    fn a_check_without_an_answer_in_time_closes_the_push_query() {
        assert_eq!(
            transition(checking(3), Input::CheckTimedOut),
            (
                State::Closing {
                    conn: conn(0, 4, 2),
                    problem: "the push query's response is not what ksqlDB sends: it went \
                              silent, and a pull query to check it got no answer in 60 s"
                        .into()
                },
                vec![Action::Close]
            )
        );
    }

    #[test]
    fn an_end_while_checking_drops_the_connection_without_closing_the_query() {
        // The push query ending, or the check or the cache failing.
        assert_eq!(
            transition(checking(3), failed(LONG)),
            (
                State::Waiting { stalled: 0 },
                vec![
                    disconnect(4, 2),
                    Action::ResetBackoff,
                    wait("cannot reach ksqlDB")
                ]
            )
        );
    }

    #[test]
    fn a_closed_query_that_had_changed_nothing_soon_is_a_stall_too() {
        let state = State::Closing {
            conn: conn(2, 0, 0),
            problem: "silent".into(),
        };
        assert_eq!(
            transition(state, Input::Closed { lasted: SHORT }),
            (
                State::CatchingUp {
                    problem: "silent".into()
                },
                vec![
                    Action::Disconnect {
                        end: End::Failed("silent".into()),
                        rows: 0,
                        changed: 0
                    },
                    Action::CatchUp
                ]
            )
        );
    }

    #[test]
    fn after_the_wait_the_next_connection_starts_with_the_stalls_so_far() {
        assert_eq!(
            transition(State::Waiting { stalled: 2 }, Input::Waited),
            (State::Connecting { stalled: 2 }, vec![Action::Connect])
        );
    }

    #[test]
    fn three_short_connections_that_change_nothing_catch_up_and_a_fourth_counts_from_one() {
        let (mut state, _) = start();
        let mut catch_ups = 0;
        for _ in 0..4 {
            let (next, _) = transition(state, Input::Started { since: 5 });
            let (next, actions) = transition(
                next,
                Input::Rows {
                    rows: 10,
                    changed: 0,
                },
            );
            assert_eq!(actions, vec![Action::ArmProbe]);
            let (next, actions) = transition(next, failed(SHORT));
            state = if actions.contains(&Action::CatchUp) {
                catch_ups += 1;
                transition(next, Input::CaughtUp).0
            } else {
                next
            };
            state = transition(state, Input::Waited).0;
        }
        assert_eq!(catch_ups, 1);
        assert_eq!(state, State::Connecting { stalled: 1 });
    }

    #[test]
    fn inputs_that_cannot_happen_in_a_state_change_nothing() {
        let expected = |state: &State, input: &Input| -> bool {
            matches!(
                (state, input),
                (
                    State::Connecting { .. },
                    Input::Started { .. } | Input::Ended { .. }
                ) | (
                    State::Live(_),
                    Input::Rows { .. } | Input::Quiet | Input::Ended { .. }
                ) | (
                    State::Checking { .. },
                    Input::Rows { .. }
                        | Input::CheckRows { .. }
                        | Input::CheckDone { .. }
                        | Input::CheckTimedOut
                        | Input::Ended { .. }
                ) | (State::Closing { .. }, Input::Closed { .. })
                    | (State::CatchingUp { .. }, Input::CaughtUp)
                    | (State::Waiting { .. }, Input::Waited)
            )
        };
        for state in all_states() {
            for input in all_inputs() {
                if !expected(&state, &input) {
                    assert_eq!(
                        transition(state.clone(), input.clone()),
                        (state.clone(), vec![]),
                        "{input:?} in {state:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_driver_waits_on_the_connection_only_while_connected() {
        // Outside `Live` and `Checking` nothing comes from the connection: every batch that
        // leads there must end with an action that gives the next input, or the follower
        // would wait forever.
        let gives_input = |a: &Action| {
            matches!(
                a,
                Action::Connect | Action::Close | Action::CatchUp | Action::Wait { .. }
            )
        };
        for state in all_states() {
            for input in all_inputs() {
                let (next, actions) = transition(state.clone(), input.clone());
                if actions.is_empty() || matches!(next, State::Live(_) | State::Checking { .. }) {
                    // Nothing to do (an input that cannot happen), or connected.
                    assert!(
                        !actions.iter().any(gives_input),
                        "{input:?} in {state:?} gave {actions:?}"
                    );
                    continue;
                }
                let last = actions.last().expect("actions");
                assert!(gives_input(last), "{input:?} in {state:?} gave {actions:?}");
                // And nothing that gives an input comes before the end of the batch.
                assert!(
                    !actions[..actions.len() - 1].iter().any(gives_input),
                    "{input:?} in {state:?} gave {actions:?}"
                );
            }
        }
    }
}
